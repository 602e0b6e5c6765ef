"""The contract: an order with its quote, payments and cancellation, plus rating/support/tracking."""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, Text, Timestamp
from schemas.core_v1.catalog import AddOn, Item, Offer, Provider
from schemas.core_v1.descriptor import Descriptor, Option, TagGroup
from schemas.core_v1.enums import (
    OrderStatusField,
    OrderTypeField,
    PartyField,
    RatingCategoryField,
    TrackingStatusField,
)
from schemas.core_v1.fulfillment import Fulfillment
from schemas.core_v1.location import Location
from schemas.core_v1.parties import Billing
from schemas.core_v1.payment import Payment
from schemas.core_v1.quantities import Price
from schemas.core_v1.terms import CancellationTerm, RefundTerm, ReplacementTerm, ReturnTerm, XInput


class QuotationBreakup(BecknModel):
    item: Item | None = None
    title: str | None = None
    price: Price | None = None


class Quotation(BecknModel):
    id: str | None = None
    price: Price | None = None
    breakup: list[QuotationBreakup] | None = None
    ttl: str | None = None


class Cancellation(BecknModel):
    time: Timestamp | None = None
    cancelled_by: PartyField = None
    reason: Option | None = None
    additional_description: Descriptor | None = None


class Order(BecknModel):
    """A flexibility contract; `status` is ACTIVE, COMPLETE or CANCELLED on the wire."""

    id: str | None = None
    ref_order_ids: list[str] | None = None
    status: OrderStatusField = None
    type: OrderTypeField = None
    provider: Provider | None = None
    items: list[Item] | None = None
    add_ons: list[AddOn] | None = None
    offers: list[Offer] | None = None
    billing: Billing | None = None
    fulfillments: list[Fulfillment] | None = None
    cancellation: Cancellation | None = None
    cancellation_terms: list[CancellationTerm] | None = None
    refund_terms: list[RefundTerm] | None = None
    replacement_terms: list[ReplacementTerm] | None = None
    return_terms: list[ReturnTerm] | None = None
    quote: Quotation | None = None
    payments: list[Payment] | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    xinput: XInput | None = None
    tags: list[TagGroup] | None = None


class Rating(BecknModel):
    rating_category: RatingCategoryField = None
    id: str | None = None
    value: Text | None = None


class Support(BecknModel):
    ref_id: str | None = None
    callback_phone: str | None = None
    phone: str | None = None
    email: str | None = None
    url: str | None = None


class Tracking(BecknModel):
    id: str | None = None
    url: str | None = None
    location: Location | None = None
    status: TrackingStatusField = None
