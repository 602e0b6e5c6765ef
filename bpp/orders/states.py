"""The order state machine: an order's status and the state of its fulfillment (the flexibility event).

    DRAFT ──confirm──▶ ACTIVE ─────────────────────────────▶ COMPLETE
      │                  │ SCHEDULED → DISPATCHED → IN_PROGRESS → COMPLETED │ PARTIAL → SETTLED
      └──cancel──▶ CANCELLED ◀──cancel (SCHEDULED, before the offer's cancellation deadline)

The status follows from the fulfillment state (`status_for`), so the two can never disagree. Only the
transitions in `FULFILLMENT_TRANSITIONS` are allowed; the dispatcher drives everything after SCHEDULED.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """DRAFT exists only here; on the wire an order is ACTIVE, COMPLETE or CANCELLED (Beckn 1.1)."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"


class FulfillmentState(StrEnum):
    """The DEG flexibility event: SCHEDULED at confirm, then what the dispatcher and metering report."""

    SCHEDULED = "SCHEDULED"
    DISPATCHED = "DISPATCHED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    SETTLED = "SETTLED"
    CANCELLED = "CANCELLED"


FULFILLMENT_TRANSITIONS: dict[FulfillmentState, frozenset[FulfillmentState]] = {
    FulfillmentState.SCHEDULED: frozenset({FulfillmentState.DISPATCHED, FulfillmentState.CANCELLED}),
    FulfillmentState.DISPATCHED: frozenset(
        {FulfillmentState.IN_PROGRESS, FulfillmentState.COMPLETED, FulfillmentState.PARTIAL}
    ),
    FulfillmentState.IN_PROGRESS: frozenset({FulfillmentState.COMPLETED, FulfillmentState.PARTIAL}),
    FulfillmentState.COMPLETED: frozenset({FulfillmentState.SETTLED}),
    FulfillmentState.PARTIAL: frozenset({FulfillmentState.SETTLED}),
    FulfillmentState.SETTLED: frozenset(),
    FulfillmentState.CANCELLED: frozenset(),
}

_STATUS = {
    FulfillmentState.SCHEDULED: OrderStatus.ACTIVE,
    FulfillmentState.DISPATCHED: OrderStatus.ACTIVE,
    FulfillmentState.IN_PROGRESS: OrderStatus.ACTIVE,
    FulfillmentState.COMPLETED: OrderStatus.COMPLETE,
    FulfillmentState.PARTIAL: OrderStatus.COMPLETE,
    FulfillmentState.SETTLED: OrderStatus.COMPLETE,
    FulfillmentState.CANCELLED: OrderStatus.CANCELLED,
}


def status_for(state: FulfillmentState | None) -> OrderStatus:
    """The order status a fulfillment state implies (no fulfillment yet: a draft)."""
    return OrderStatus.DRAFT if state is None else _STATUS[state]


def can_move(current: FulfillmentState | None, target: FulfillmentState) -> bool:
    """Whether the fulfillment may go from `current` (None: a draft) to `target`."""
    if current is None:
        return target in (FulfillmentState.SCHEDULED, FulfillmentState.CANCELLED)
    return target in FULFILLMENT_TRANSITIONS[current]
