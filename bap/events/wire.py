"""The flexibility search on the wire, and the offers read back from an `on_search` catalog.

Strict in what we send: the intent carries the event window as a fulfillment stop's time range, the grid
node as the stop's location id, and a `flex_need` tag group. Liberal in what we read: an item without a
price or available kW cannot be bought and is skipped (with the reason); missing profile terms fall back
to what the item itself says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bap.numbers import decimal_or_none
from schemas.core_v1 import (
    Catalog,
    Descriptor,
    Fulfillment,
    Intent,
    Item,
    Location,
    Provider,
    SearchMessage,
    Stop,
    Time,
    TimeRange,
)
from schemas.profile import ProfileError, read_tag_group, tag_group, validate_tag_group

log = logging.getLogger(__name__)

DEFAULT_RELIABILITY = Decimal("0.8")
"""Assumed for an offer that states none, until the aggregator has a history with us."""


@dataclass(frozen=True)
class NeedOnWire:
    grid_node: str
    direction: str
    required_kw: Decimal
    window_start: datetime
    window_end: datetime
    location: dict[str, Any] | None = None
    min_notice: timedelta | None = None


def search_message(need: NeedOnWire) -> SearchMessage:
    location = Location.model_validate({**(need.location or {}), "id": need.grid_node})
    values: dict[str, str | Decimal | timedelta | None] = {
        "direction": need.direction,
        "required_kw": need.required_kw,
        "min_notice": need.min_notice,
        "grid_node": need.grid_node,
    }
    return SearchMessage(
        intent=Intent(
            descriptor=Descriptor(name="demand flexibility", code="flex_need"),
            fulfillment=Fulfillment(
                stops=[
                    Stop(
                        type="event",
                        location=location,
                        time=Time(range=TimeRange(start=need.window_start, end=need.window_end)),
                    )
                ]
            ),
            tags=[tag_group("flex_need", values)],
        )
    )


@dataclass(frozen=True)
class OfferDraft:
    """One purchasable item of an on_search, before it is stored as a `FlexOffer`."""

    provider_id: str
    provider_name: str | None
    item_id: str
    item_name: str | None
    fulfillment_id: str | None
    direction: str | None
    grid_node: str | None
    available_kw: Decimal
    min_kw: Decimal
    max_kw: Decimal
    price_per_kwh: Decimal
    currency: str | None
    reliability: Decimal
    terms: dict[str, str]


def offers_in(catalog: Catalog) -> list[OfferDraft]:
    """Every usable item of every provider; unusable ones are logged and left out."""
    drafts: list[OfferDraft] = []
    for provider in catalog.providers or []:
        for item in provider.items or []:
            try:
                drafts.append(_offer(provider, item))
            except UnusableOffer as exc:
                log.info("skipping item %s of %s: %s", item.id, provider.id, exc)
    return drafts


class UnusableOffer(ValueError):
    """An item that cannot be bought as flexibility (no id, price or kW, or broken profile terms)."""


def _offer(provider: Provider, item: Item) -> OfferDraft:
    if not provider.id or not item.id:
        raise UnusableOffer("no provider or item id")
    terms = _flex_offer_terms(item)
    available = decimal_or_none(_available_kw(item))
    price = decimal_or_none(item.price.value if item.price else None)
    if available is None or price is None:
        raise UnusableOffer("no available kW or no price")
    max_kw = decimal_or_none(terms.get("max_kw")) or available
    min_kw = decimal_or_none(terms.get("min_kw")) or Decimal(0)
    reliability = decimal_or_none(terms.get("reliability"))
    if reliability is None or not Decimal(0) <= reliability <= Decimal(1):
        reliability = DEFAULT_RELIABILITY
    if available < 0 or price < 0 or max_kw <= 0 or min_kw > max_kw:
        raise UnusableOffer(f"inconsistent figures: available {available}, min {min_kw}, max {max_kw}")
    return OfferDraft(
        provider_id=provider.id,
        provider_name=provider.descriptor.name if provider.descriptor else None,
        item_id=item.id,
        item_name=item.descriptor.name if item.descriptor else None,
        fulfillment_id=item.fulfillment_ids[0] if item.fulfillment_ids else None,
        direction=terms.get("direction"),
        grid_node=terms.get("grid_node"),
        available_kw=available,
        min_kw=min_kw,
        max_kw=max_kw,
        price_per_kwh=price,
        currency=item.price.currency if item.price else None,
        reliability=reliability,
        terms=terms,
    )


def _flex_offer_terms(item: Item) -> dict[str, str]:
    for group in item.tags or []:
        if group.descriptor is not None and group.descriptor.code == "flex_offer":
            try:
                validate_tag_group(group)
            except ProfileError as exc:
                raise UnusableOffer(f"flex_offer breaks the profile: {exc.message}") from None
    return read_tag_group(item.tags, "flex_offer") or {}


def _available_kw(item: Item) -> str | None:
    quantity = item.quantity
    if quantity is None or quantity.available is None or quantity.available.measure is None:
        return None
    return quantity.available.measure.value
