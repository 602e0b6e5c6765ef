"""Catalog item ids: one item per offer, `<grid node>:<direction>` (`transformer:TX-17:REDUCE`).

Readable, stable while the offer exists, and enough to find the offer again without a lookup table.
"""

from __future__ import annotations

from bpp.fleet.models import FlexDirection
from bpp.orders.requests import OfferRef


def item_id(offer: OfferRef) -> str:
    return f"{offer.grid_node}:{offer.direction}"


def parse_item_id(text: str) -> OfferRef | None:
    """The offer an item id names, or None when it is not one of ours."""
    grid_node, _, direction = text.rpartition(":")
    if ":" not in grid_node or direction not in FlexDirection.__members__:
        return None
    return OfferRef(grid_node, FlexDirection(direction))
