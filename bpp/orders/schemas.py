"""Orders as stored in JSON columns and as the operator API returns them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from bpp.fleet.models import FlexDirection
from bpp.fleet.schemas import Kilowatts
from bpp.orders.models import OrderEventKind
from bpp.orders.states import FulfillmentState, OrderStatus


class TermsSnapshot(BaseModel):
    """The offer terms an order was made under (stored in `bpp_orders.terms`; decimals as strings)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    price_per_kwh: Decimal
    reservation_price_per_kw: Decimal | None
    currency: str
    min_kw: Decimal
    max_kw: Decimal
    response_time_s: int
    min_notice_s: int
    max_duration_s: int
    max_events_per_day: int
    baseline_method: str
    cancel_before_s: int
    cancellation_fee: Decimal
    reliability_headroom: Decimal


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    transaction_id: str
    bap_id: str
    bap_uri: str
    provider_id: str
    item_id: str
    grid_node: str
    direction: FlexDirection
    kw: Kilowatts
    window_start: datetime
    window_end: datetime
    price_per_kwh: Decimal
    currency: str
    quote: dict[str, Any]
    quote_expires_at: datetime
    billing: dict[str, Any] | None
    terms: dict[str, Any]
    status: OrderStatus
    fulfillment_state: FulfillmentState | None
    reservation_id: str | None
    committed_devices: int | None
    cancellation: dict[str, Any] | None
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OrderEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: OrderEventKind
    message_id: str | None
    data: dict[str, Any]
    at: datetime


class BecknMessageRead(BaseModel):
    """One Beckn message of the order's transaction, in or out, with its body as JSON when it is JSON."""

    direction: str
    action: str
    message_id: str | None
    counterparty: str | None
    url: str
    http_status: int | None
    ack_status: str | None
    error_code: str | None
    error_message: str | None
    at: datetime
    body: Any


class OrderDetail(BaseModel):
    order: OrderRead
    events: list[OrderEventRead]
    messages: list[BecknMessageRead]
