"""`shop`: prints a price computed by the workspace library, proving both layers are there."""

import httpx
import shop_core


def main() -> None:
    """Entry point of the `shop` console script."""
    print(f"shop {shop_core.price(3)} (httpx {httpx.__version__})")
