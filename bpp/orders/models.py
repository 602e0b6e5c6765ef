"""The `bpp_orders`, `bpp_order_events` and `bpp_dispatch_queue` tables.

One order per Beckn transaction of a BAP: it is drafted at init (holding its kW until the hold expires),
becomes ACTIVE at confirm (the hold turned into a committed capacity reservation) and is never deleted.
`bpp_order_events` is its append-only history; `bpp_dispatch_queue` is the outbox of work for the
dispatcher (schedule, reschedule, release devices), written in the same transaction as the change that
causes it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bpp.capacity.models import Reservation
from bpp.fleet.models import KW_TYPE, FlexDirection, string_enum
from bpp.offers.models import MONEY_TYPE
from bpp.orders.states import FulfillmentState, OrderStatus
from participant.db import Base, UTCDateTime, new_id, utcnow


class OrderEventKind(StrEnum):
    DRAFTED = "DRAFTED"
    CONFIRMED = "CONFIRMED"
    UPDATED = "UPDATED"
    CANCELLED = "CANCELLED"
    STATE_CHANGED = "STATE_CHANGED"


# Append-only rows get an increasing integer key: their order is the order they were written in.
SEQUENCE_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class DispatchKind(StrEnum):
    """What the dispatcher must do with the devices behind an order."""

    SCHEDULE = "SCHEDULE"
    RESCHEDULE = "RESCHEDULE"
    RELEASE = "RELEASE"


class Order(Base):
    """A flexibility contract: kW of one direction on one grid node over a window, at a price."""

    __tablename__ = "bpp_orders"
    __table_args__ = (
        UniqueConstraint("bap_id", "transaction_id", name="uq_bpp_orders_bap_id_transaction_id"),
        CheckConstraint("kw > 0", name="kw_positive"),
        CheckConstraint("window_end > window_start", name="window_not_empty"),
        CheckConstraint("price_per_kwh >= 0", name="price_not_negative"),
        Index("ix_bpp_orders_status_fulfillment_state", "status", "fulfillment_state"),
        Index("ix_bpp_orders_grid_node_direction_window", "grid_node", "direction", "window_start"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    transaction_id: Mapped[str] = mapped_column(String(255))
    bap_id: Mapped[str] = mapped_column(String(255))
    bap_uri: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str] = mapped_column(String(255))
    item_id: Mapped[str] = mapped_column(String(255))
    grid_node: Mapped[str] = mapped_column(String(128))
    direction: Mapped[FlexDirection] = mapped_column(string_enum(FlexDirection, 16))
    kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    price_per_kwh: Mapped[Decimal] = mapped_column(MONEY_TYPE)
    currency: Mapped[str] = mapped_column(String(3))
    # The priced breakup as last quoted (`bpp.orders.pricing.Quote.as_json`).
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    quote_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The buyer's Beckn `billing` object, as sent in init.
    billing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The offer terms at init (`bpp.orders.schemas.TermsSnapshot`): later changes never alter a contract.
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OrderStatus] = mapped_column(string_enum(OrderStatus, 16), default=OrderStatus.DRAFT)
    fulfillment_state: Mapped[FulfillmentState | None] = mapped_column(string_enum(FulfillmentState, 16))
    # The draft's hold, then the confirmed order's reservation (the same row, committed).
    reservation_id: Mapped[str | None] = mapped_column(String(36), ForeignKey(Reservation.id))
    committed_devices: Mapped[int | None] = mapped_column(Integer)
    cancellation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return (
            f"Order(id={self.id!r}, bap_id={self.bap_id!r}, grid_node={self.grid_node!r}, "
            f"direction={self.direction!s}, kw={self.kw}, status={self.status!s}, "
            f"fulfillment_state={self.fulfillment_state})"
        )


class OrderEvent(Base):
    """One thing that happened to an order, with the Beckn message that caused it when there was one."""

    __tablename__ = "bpp_order_events"
    __table_args__ = (Index("ix_bpp_order_events_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(SEQUENCE_TYPE, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(36), ForeignKey(Order.id, ondelete="CASCADE"))
    kind: Mapped[OrderEventKind] = mapped_column(string_enum(OrderEventKind, 32))
    message_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DispatchTask(Base):
    """Work for the dispatcher; pending while `dispatched_at` is null, handed out in `id` order."""

    __tablename__ = "bpp_dispatch_queue"
    __table_args__ = (Index("ix_bpp_dispatch_queue_dispatched_at_id", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(SEQUENCE_TYPE, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(36), ForeignKey(Order.id, ondelete="CASCADE"), index=True)
    kind: Mapped[DispatchKind] = mapped_column(string_enum(DispatchKind, 16))
    # What to command: grid_node, direction, kw, window_start, window_end, reservation_id.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
