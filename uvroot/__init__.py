"""uvroot: stage a uv.lock into --root, --target, --prefix or --user layouts for any target platform."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
