"""An order as a progress report shows it: the contract (`bpp.beckn.orders.order_message`) with the
`performance` and, once settled, `settlement` tag groups of the DEG profile in `order.tags`."""

from __future__ import annotations

from collections.abc import Mapping

from bpp.beckn.orders import order_message
from bpp.orders.models import Order
from bpp.settings import BppSettings
from schemas import core_v1 as beckn
from schemas.profile import tag_group


def order_report(
    settings: BppSettings,
    order: Order,
    *,
    performance: Mapping[str, str] | None = None,
    settlement: Mapping[str, str] | None = None,
) -> beckn.Order:
    """The order with its figures so far; tag values are the stored wire strings."""
    wire = order_message(settings, order)
    tags = list(wire.tags or [])
    if performance:
        tags.append(tag_group("performance", performance))
    if settlement:
        tags.append(tag_group("settlement", settlement))
    wire.tags = tags or None
    return wire
