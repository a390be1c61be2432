"""The shop's domain library, a workspace member."""

from pydantic import BaseModel


class Item(BaseModel):
    """A priced item."""

    cents: int


def price(count: int) -> str:
    """The price of ``count`` items, formatted."""
    total = Item(cents=250).cents * count
    return f"{total / 100:.2f} EUR"
