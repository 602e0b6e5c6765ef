"""Discovery: what a BAP asks for (`Intent`) and what BPPs offer (`Catalog` of providers and items).

In DEG flexibility a provider is an aggregator and each item one flexibility offer.
"""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, Text, Timestamp
from schemas.core_v1.descriptor import Descriptor, TagGroup
from schemas.core_v1.fulfillment import Fulfillment
from schemas.core_v1.location import Location
from schemas.core_v1.parties import Organization
from schemas.core_v1.payment import Payment
from schemas.core_v1.quantities import ItemQuantity, Price
from schemas.core_v1.terms import CancellationTerm, RefundTerm, ReplacementTerm, ReturnTerm, XInput
from schemas.core_v1.times import Time


class AddOn(BecknModel):
    id: str | None = None
    descriptor: Descriptor | None = None
    price: Price | None = None


class Category(BecknModel):
    id: str | None = None
    parent_category_id: str | None = None
    descriptor: Descriptor | None = None
    time: Time | None = None
    ttl: Text | None = None
    tags: list[TagGroup] | None = None


class Offer(BecknModel):
    id: str | None = None
    descriptor: Descriptor | None = None
    location_ids: list[str] | None = None
    category_ids: list[str] | None = None
    item_ids: list[str] | None = None
    time: Time | None = None
    tags: list[TagGroup] | None = None


class Item(BecknModel):
    id: str | None = None
    parent_item_id: str | None = None
    parent_item_quantity: ItemQuantity | None = None
    descriptor: Descriptor | None = None
    creator: Organization | None = None
    price: Price | None = None
    quantity: ItemQuantity | None = None
    category_ids: list[str] | None = None
    fulfillment_ids: list[str] | None = None
    location_ids: list[str] | None = None
    payment_ids: list[str] | None = None
    add_ons: list[AddOn] | None = None
    cancellation_terms: list[CancellationTerm] | None = None
    refund_terms: list[RefundTerm] | None = None
    replacement_terms: list[ReplacementTerm] | None = None
    return_terms: list[ReturnTerm] | None = None
    xinput: XInput | None = None
    time: Time | None = None
    rateable: bool | None = None
    rating: Text | None = None
    matched: bool | None = None
    related: bool | None = None
    recommended: bool | None = None
    ttl: Text | None = None
    tags: list[TagGroup] | None = None


class Provider(BecknModel):
    id: str | None = None
    descriptor: Descriptor | None = None
    category_id: str | None = None
    rating: Text | None = None
    time: Time | None = None
    categories: list[Category] | None = None
    fulfillments: list[Fulfillment] | None = None
    payments: list[Payment] | None = None
    locations: list[Location] | None = None
    offers: list[Offer] | None = None
    items: list[Item] | None = None
    exp: Timestamp | None = None
    rateable: bool | None = None
    ttl: int | None = None
    tags: list[TagGroup] | None = None


class Catalog(BecknModel):
    descriptor: Descriptor | None = None
    fulfillments: list[Fulfillment] | None = None
    payments: list[Payment] | None = None
    offers: list[Offer] | None = None
    providers: list[Provider] | None = None
    exp: Timestamp | None = None
    ttl: Text | None = None


class Intent(BecknModel):
    """A search: for flexibility, the event window, the grid location and a `flex_need` tag group."""

    descriptor: Descriptor | None = None
    provider: Provider | None = None
    fulfillment: Fulfillment | None = None
    payment: Payment | None = None
    category: Category | None = None
    offer: Offer | None = None
    item: Item | None = None
    tags: list[TagGroup] | None = None
