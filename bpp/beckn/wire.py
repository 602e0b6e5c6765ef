"""Beckn objects shared by the catalog and the orders: the event fulfillment, kW, payments, terms."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from bpp.fleet.models import FlexDirection
from bpp.orders.requests import Window
from schemas.core_v1 import (
    CancellationTerm,
    Descriptor,
    Fee,
    Fulfillment,
    FulfillmentState,
    Location,
    Payment,
    PaymentParams,
    PaymentStatus,
    PaymentType,
    Price,
    Scalar,
    Stop,
    Time,
    TimeRange,
    format_decimal,
    format_duration,
)

EVENT_FULFILLMENT_ID = "event"
EVENT_FULFILLMENT_TYPE = "DEMAND_FLEXIBILITY"
EVENT_STOP_TYPE = "event"
PAYMENT_ID = "post-fulfillment"
PAYMENT_COLLECTOR = "BPP"


def kilowatts(value: Decimal) -> Scalar:
    return Scalar(value=format_decimal(value), unit="kW")


def money(currency: str, value: Decimal) -> Price:
    return Price(currency=currency, value=format_decimal(value))


def offer_name(grid_node: str, direction: FlexDirection) -> str:
    verb = "Reduce" if direction is FlexDirection.REDUCE else "Increase"
    return f"{verb} net load behind {grid_node}"


def event_fulfillment(
    window: Window | None,
    *,
    grid_node: str | None = None,
    state: str | None = None,
    updated_at: datetime | None = None,
) -> Fulfillment:
    """The flexibility event: one stop at the grid node, over the window; its state once confirmed."""
    stop = Stop(
        type=EVENT_STOP_TYPE,
        location=Location(id=grid_node) if grid_node is not None else None,
        time=Time(range=TimeRange(start=window.start, end=window.end)) if window is not None else None,
    )
    return Fulfillment(
        id=EVENT_FULFILLMENT_ID,
        type=EVENT_FULFILLMENT_TYPE,
        state=(
            FulfillmentState(descriptor=Descriptor(code=state), updated_at=updated_at)
            if state is not None
            else None
        ),
        stops=[stop],
    )


def post_fulfillment_payment(
    currency: str | None = None, amount: Decimal | None = None, *, status: PaymentStatus | None = None
) -> Payment:
    """Flexibility is paid after delivery, to the aggregator; the amount is the quote until settled."""
    params = (
        PaymentParams(amount=format_decimal(amount), currency=currency)
        if currency is not None and amount is not None
        else None
    )
    return Payment(
        id=PAYMENT_ID,
        type=PaymentType.POST_FULFILLMENT,
        collected_by=PAYMENT_COLLECTOR,
        status=status,
        params=params,
    )


def cancellation_term(
    *, currency: str, fee: Decimal, cancel_before: timedelta, window: Window | None = None
) -> CancellationTerm:
    """Cancel while SCHEDULED, up to `cancel_before` the start (a deadline once the window is known)."""
    cancel_by = (
        Time(label="latest cancellation", timestamp=window.start - cancel_before)
        if window is not None
        else Time(label="before the event starts", duration=format_duration(cancel_before))
    )
    return CancellationTerm(
        fulfillment_state=FulfillmentState(descriptor=Descriptor(code="SCHEDULED")),
        reason_required=False,
        cancel_by=cancel_by,
        cancellation_fee=Fee(amount=money(currency, fee)),
    )
