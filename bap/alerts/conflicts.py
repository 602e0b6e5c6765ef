"""Conflicts the desk should resolve: overlapping events on one node, buying too little or too much, and
orders whose delivery is at risk. Pure: computed from events and their orders as they stand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import combinations
from typing import Any

from bap.events.models import EventState, FlexEvent
from bap.orders.models import Order, OrderState
from bap.orders.views import text

OVER_PROCUREMENT_MARGIN = Decimal("0.25")
"""Expected kW more than this above the headroom target counts as buying too much."""
AT_RISK_DELIVERY = Decimal("0.8")
"""Delivering below this share of the commitment while in progress puts an order at risk."""
CONFIRM_BY = timedelta(minutes=5)
"""An order still activating this close to its window start is at risk."""

_PROCURING = (EventState.ACTIVATING, EventState.ACTIVE)
_LIVE = (OrderState.SELECTING, OrderState.INITIALIZING, OrderState.CONFIRMING, OrderState.ACTIVE)


def conflicts(
    events: Sequence[FlexEvent], orders: Mapping[str, Sequence[Order]], now: datetime
) -> list[dict[str, Any]]:
    return [*_overlaps(events), *_procurement(events, orders), *_at_risk(orders, now)]


def _overlaps(events: Sequence[FlexEvent]) -> list[dict[str, Any]]:
    found = []
    open_events = sorted((e for e in events if e.state.open), key=lambda e: (e.grid_node, e.window_start))
    for first, second in combinations(open_events, 2):
        if first.grid_node != second.grid_node:
            continue
        start, end = max(first.window_start, second.window_start), min(first.window_end, second.window_end)
        if start < end:
            found.append(
                {
                    "kind": "overlap",
                    "grid_node": first.grid_node,
                    "event_ids": [first.id, second.id],
                    "window": {"start": start.isoformat(), "end": end.isoformat()},
                    "message": f"two open events ask for flexibility on {first.grid_node} at the same time",
                }
            )
    return found


def expected_kw(orders: Sequence[Order]) -> Decimal:
    """Reliable kW the live orders bring: each order's expected kW scaled to what was committed."""
    total = Decimal(0)
    for order in orders:
        if order.state not in _LIVE or order.requested_kw <= 0:
            continue
        share = (order.committed_kw / order.requested_kw) if order.committed_kw is not None else Decimal(1)
        total += order.expected_kw * share
    return total


def _procurement(events: Sequence[FlexEvent], orders: Mapping[str, Sequence[Order]]) -> list[dict[str, Any]]:
    found = []
    for event in events:
        if event.state not in _PROCURING:
            continue
        expected = expected_kw(orders.get(event.id, ()))
        ceiling = event.required_kw * event.headroom * (1 + OVER_PROCUREMENT_MARGIN)
        if expected < event.required_kw:
            kind, words = "under_procurement", f"short by {text(event.required_kw - expected)} kW"
        elif expected > ceiling:
            kind, words = "over_procurement", f"{text(expected - ceiling)} kW above the headroom target"
        else:
            continue
        found.append(
            {
                "kind": kind,
                "event_id": event.id,
                "grid_node": event.grid_node,
                "required_kw": text(event.required_kw),
                "expected_kw": text(expected),
                "message": f"{event.grid_node}: {words}",
            }
        )
    return found


def _at_risk(orders: Mapping[str, Sequence[Order]], now: datetime) -> list[dict[str, Any]]:
    found = []
    for order in (order for group in orders.values() for order in group):
        reason = _risk(order, now)
        if reason is not None:
            found.append(
                {
                    "kind": "order_at_risk",
                    "event_id": order.event_id,
                    "order_id": order.id,
                    "aggregator_id": order.aggregator_id,
                    "message": reason,
                }
            )
    return found


def _risk(order: Order, now: datetime) -> str | None:
    if order.state.activating and order.window_start - now < CONFIRM_BY:
        start = order.window_start.isoformat()
        return f"{order.aggregator_id} has not confirmed and the window starts at {start}"
    if order.state is not OrderState.ACTIVE:
        return None
    if order.devices_opted_out:
        return f"{order.devices_opted_out} device(s) opted out of {order.aggregator_id}'s order"
    committed = order.committed_kw
    delivered = order.delivered_kw
    if (
        order.fulfillment_state == "IN_PROGRESS"
        and committed is not None
        and delivered is not None
        and delivered < committed * AT_RISK_DELIVERY
    ):
        return f"{order.aggregator_id} delivers {text(delivered)} of {text(committed)} kW"
    return None
