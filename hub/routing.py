"""Which window, and who on it, handles a new request."""

from __future__ import annotations

from shared.catalogue import Catalogue


def window_for(catalogue: Catalogue, item_code: str) -> str:
    """The window code the catalogue names for an item."""
    item = catalogue.item(item_code)
    if item is None:
        raise KeyError(item_code)
    return item["window"]


def assignee_for(window: str) -> str | None:
    """The staff member to own a new case on a window; none until staff are set up."""
    return None
