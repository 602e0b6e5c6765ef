"""The on_search catalog: the aggregator as the one provider, one item per matching offer."""

from __future__ import annotations

import logging
from datetime import timedelta

from bpp.beckn.wire import (
    EVENT_FULFILLMENT_ID,
    PAYMENT_ID,
    cancellation_term,
    event_fulfillment,
    kilowatts,
    money,
    offer_name,
    post_fulfillment_payment,
)
from bpp.catalog.service import CatalogOffer, NodeFleet
from bpp.orders.requests import Window
from bpp.settings import BppSettings
from schemas.core_v1 import (
    Catalog,
    Descriptor,
    Item,
    ItemQuantity,
    Location,
    OnSearchMessage,
    Provider,
    QuantityAmount,
    TagGroup,
)
from schemas.profile import ProfileError, tag_group

log = logging.getLogger(__name__)


def provider_descriptor(settings: BppSettings) -> Descriptor:
    return Descriptor(
        name=settings.provider_name,
        short_desc=settings.provider_short_desc,
        long_desc=settings.provider_long_desc,
    )


def catalog_message(
    settings: BppSettings, offers: list[CatalogOffer], window: Window | None
) -> OnSearchMessage:
    """Offers whose tags the profile refuses (a grid node kind it does not know) are left out, logged."""
    items: list[Item] = []
    locations: dict[str, Location] = {}
    for offer in offers:
        try:
            tags = [flex_offer_tags(offer)]
        except ProfileError as exc:
            log.warning("offer %s left out of the catalog: %s", offer.item_id, exc.message)
            continue
        items.append(catalog_item(offer, tags))
        locations.setdefault(offer.offer.grid_node, node_location(offer.fleet))
    providers = []
    if items:
        providers.append(
            Provider(
                id=settings.provider,
                descriptor=provider_descriptor(settings),
                locations=list(locations.values()),
                fulfillments=[event_fulfillment(window)],
                payments=[post_fulfillment_payment()],
                items=items,
            )
        )
    return OnSearchMessage(
        catalog=Catalog(descriptor=Descriptor(name=settings.provider_name), providers=providers)
    )


def catalog_item(offer: CatalogOffer, tags: list[TagGroup]) -> Item:
    terms = offer.terms
    return Item(
        id=offer.item_id,
        descriptor=Descriptor(name=offer_name(terms.grid_node, terms.direction), code=str(terms.direction)),
        price=money(terms.currency, terms.price_per_kwh),
        quantity=ItemQuantity(
            available=QuantityAmount(measure=kilowatts(offer.available_kw)),
            minimum=QuantityAmount(measure=kilowatts(terms.min_kw)),
            maximum=QuantityAmount(measure=kilowatts(terms.max_kw)),
        ),
        location_ids=[terms.grid_node],
        fulfillment_ids=[EVENT_FULFILLMENT_ID],
        payment_ids=[PAYMENT_ID],
        cancellation_terms=[
            cancellation_term(
                currency=terms.currency,
                fee=terms.cancellation_fee,
                cancel_before=timedelta(seconds=terms.cancel_before_s),
            )
        ],
        tags=tags,
    )


def flex_offer_tags(offer: CatalogOffer) -> TagGroup:
    terms, direction = offer.terms, offer.terms.direction
    return tag_group(
        "flex_offer",
        {
            "direction": str(direction),
            "grid_node": terms.grid_node,
            "min_kw": terms.min_kw,
            "max_kw": terms.max_kw,
            "response_time": timedelta(seconds=terms.response_time_s),
            "max_duration": timedelta(seconds=terms.max_duration_s),
            "baseline_method": terms.baseline_method,
            "reliability": offer.fleet.reliability(direction),
            "device_types": ",".join(offer.fleet.kinds(direction)),
            "notice": timedelta(seconds=terms.min_notice_s),
            "max_events_per_day": terms.max_events_per_day,
        },
    )


def node_location(fleet: NodeFleet) -> Location:
    """The grid node, at the centre of its located devices, in the area most of them are in."""
    centroid = fleet.centroid
    area_codes = fleet.area_codes
    return Location(
        id=fleet.grid_node,
        descriptor=Descriptor(name=fleet.grid_node, code=fleet.grid_node),
        gps=f"{centroid.latitude:.6f},{centroid.longitude:.6f}" if centroid is not None else None,
        area_code=area_codes[0] if area_codes else None,
    )
