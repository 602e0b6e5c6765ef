"""Tracking: what on_confirm, on_status, on_update and on_cancel say about an order, and so its event.

Figures come from the profile's tag groups (`commitment`, `performance`, `settlement`) wherever the
aggregator put them on the order; a group it left out changes nothing. An event is COMPLETED once every
order has ended and one of them delivered, and then the consoles get `completed`.

Reports only move an order forward: its fulfillment state never goes back
(SCHEDULED < DISPATCHED < IN_PROGRESS < COMPLETED | PARTIAL < SETTLED; SETTLED and CANCELLED are final),
and a report written before the one the order's figures come from (`context.timestamp`) changes nothing,
so an outbox retry or a callback overtaken on the way cannot take the order back. The aggregator's
verdict (COMPLETED or PARTIAL) is kept as the order's `outcome` after SETTLED replaces it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bap.console.messages import MessageType, message
from bap.desk import Desk
from bap.events.models import EventState
from bap.events.repository import EventRepository
from bap.numbers import decimal_or_none, int_or_none
from bap.orders.models import Order, OrderState, Step
from bap.orders.repository import OrderRepository
from bap.orders.steps import announce, done_waiting
from bap.orders.views import outcome_of, outcome_view, text
from bap.orders.wire import Progress, read_progress, reported_verdict
from participant.inbound import InboundMessage
from schemas.core_v1 import OrderStatus

log = logging.getLogger(__name__)

FULFILLMENT_RANK = {
    "SCHEDULED": 0,
    "DISPATCHED": 1,
    "IN_PROGRESS": 2,
    "COMPLETED": 3,
    "PARTIAL": 3,
    "SETTLED": 4,
    "CANCELLED": 4,
}
"""How far an order's fulfillment has got; a report never takes it to a lower rank."""
FINAL_FULFILLMENT = frozenset({"SETTLED", "CANCELLED"})
FINISHED_FULFILLMENT = frozenset({"COMPLETED", "PARTIAL", "SETTLED"})


def is_behind(order: Order, state: str | None, at: datetime) -> bool:
    """Whether a report (its fulfillment state and `context.timestamp`) is older than what the order shows.

    It is when it names a state of lower rank than the order's, or another state than a final one the
    order is in; at the same rank, or when either state is unknown, when it was written before the
    newest report applied.
    """
    current = order.fulfillment_state
    if state is not None and current in FINAL_FULFILLMENT and state != current:
        return True
    rank, current_rank = FULFILLMENT_RANK.get(state or ""), FULFILLMENT_RANK.get(current or "")
    if rank is not None and current_rank is not None and rank != current_rank:
        return rank < current_rank
    return order.reported_at is not None and at < order.reported_at


def apply_progress(order: Order, progress: Progress, at: datetime) -> bool:
    """Copy what a report written at `at` says onto the order, unless it is behind (`is_behind`); True
    when device participation figures changed.

    A report that is behind only fills in the verdict when the order has none yet.
    """
    verdict = reported_verdict(progress.fulfillment_state, progress.settlement)
    if is_behind(order, progress.fulfillment_state, at):
        log.info(
            "order %s: %s report of %s is behind %s of %s; ignored",
            order.id,
            progress.fulfillment_state,
            at.isoformat(),
            order.fulfillment_state,
            order.reported_at.isoformat() if order.reported_at else None,
        )
        if order.outcome is None:
            order.outcome = verdict
        return False
    if progress.fulfillment_state:
        order.fulfillment_state = progress.fulfillment_state
    if verdict is not None:
        order.outcome = verdict
    order.reported_at = at if order.reported_at is None else max(order.reported_at, at)
    commitment, performance, settlement = progress.commitment, progress.performance, progress.settlement
    committed = decimal_or_none(commitment.get("committed_kw"))
    if committed is not None:
        order.committed_kw = committed
    before = (order.devices, order.devices_acked, order.devices_opted_out)
    order.devices = int_or_none(commitment.get("devices")) if "devices" in commitment else order.devices
    for column in ("baseline_kw", "actual_kw", "delivered_kw", "delivered_kwh"):
        value = decimal_or_none(performance.get(column))
        if value is not None:
            setattr(order, column, value)
    for column in ("devices_acked", "devices_opted_out"):
        count = int_or_none(performance.get(column))
        if count is not None:
            setattr(order, column, count)
    if settlement:
        order.settlement = dict(settlement)
        net = decimal_or_none(settlement.get("net_amount"))
        if net is not None:
            order.net_amount = net
    return (order.devices, order.devices_acked, order.devices_opted_out) != before


async def on_progress(session: AsyncSession, desk: Desk, order: Order, message: InboundMessage) -> None:
    """on_status / on_update, solicited or not: the order's state, commitment, delivery and settlement."""
    beckn_order = getattr(message.envelope.message, "order", None)
    answered = order.step_message_id == message.context.message_id
    if beckn_order is None:
        log.info("%s without an order for %s: %s", message.action.value, order.id, message.envelope.error)
        if answered:
            done_waiting(order)
        return
    progress = read_progress(beckn_order)
    if answered and order.step is Step.UPDATE:
        _apply_change(order, message.envelope.error is None)
    if answered:
        done_waiting(order)
    participation = apply_progress(order, progress, message.context.timestamp)
    if not order.state.final:
        if progress.status == OrderStatus.CANCELLED.value:
            order.state = OrderState.CANCELLED
        elif order.fulfillment_state in FINISHED_FULFILLMENT:
            order.state = OrderState.COMPLETED
    await session.flush()
    announce(session, desk, order, participation=participation)
    await settle_event(session, desk, order.event_id)


def _apply_change(order: Order, accepted: bool) -> None:
    change = order.pending_change or {}
    if not accepted or not change:
        return
    if "window_start" in change and "window_end" in change:
        order.window_start = datetime.fromisoformat(change["window_start"])
        order.window_end = datetime.fromisoformat(change["window_end"])
    kw = decimal_or_none(change.get("kw"))
    if kw is not None:
        order.requested_kw = kw
        order.committed_kw = kw


async def on_cancel(session: AsyncSession, desk: Desk, order: Order, message: InboundMessage) -> None:
    beckn_order = getattr(message.envelope.message, "order", None)
    if message.envelope.error is not None or beckn_order is None:
        log.warning("cancel of order %s refused: %s", order.id, message.envelope.error)
        done_waiting(order)
        announce(session, desk, order)
        return
    done_waiting(order)
    apply_progress(order, read_progress(beckn_order), message.context.timestamp)
    if order.state is not OrderState.FAILED:
        order.state = OrderState.CANCELLED
    await session.flush()
    announce(session, desk, order)
    await settle_event(session, desk, order.event_id)


async def settle_event(session: AsyncSession, desk: Desk, event_id: str) -> None:
    """Derive the event's state from its orders; tell the consoles when it completes or fails."""
    events = EventRepository(session)
    event = await events.lock(event_id)
    if event is None or event.state not in (EventState.ACTIVATING, EventState.ACTIVE):
        return
    orders = await OrderRepository(session).for_event(event_id)
    states = {order.state for order in orders}
    if any(state.activating for state in states):
        target = EventState.ACTIVATING
    elif OrderState.ACTIVE in states:
        target = EventState.ACTIVE
    elif OrderState.COMPLETED in states:
        target = EventState.COMPLETED
    elif states == {OrderState.CANCELLED}:
        target = EventState.CANCELLED
    else:
        target = EventState.FAILED
    if target is event.state:
        return
    await events.transition(event_id, (event.state,), target)
    event.state = target
    if target in (EventState.COMPLETED, EventState.CANCELLED):
        desk.publish(session, message(MessageType.COMPLETED, **completion(event_id, target, orders)))
    elif target is EventState.FAILED:
        desk.publish(
            session,
            message(
                MessageType.ERROR,
                code="activation_failed",
                event_id=event_id,
                message=f"no aggregator confirmed flexibility for {event.grid_node}; see the alerts",
            ),
        )


def completion(event_id: str, state: EventState, orders: list[Order]) -> dict[str, object]:
    """The `completed` frame: totals over the orders that ran to their end, each with its outcome, and the
    event's outcome (PARTIAL when any of them fell short, COMPLETED when all delivered, else unknown)."""
    delivered = [order for order in orders if order.state is OrderState.COMPLETED]
    committed = sum((order.committed_kw or Decimal(0) for order in delivered), Decimal(0))
    delivered_kw = sum((order.delivered_kw or Decimal(0) for order in delivered), Decimal(0))
    delivered_kwh = sum((order.delivered_kwh or Decimal(0) for order in delivered), Decimal(0))
    cost = sum((order.net_amount or order.quoted_cost or Decimal(0) for order in delivered), Decimal(0))
    return {
        "event_id": event_id,
        "state": state.value,
        "orders": [order.id for order in orders if order.state is not OrderState.FAILED],
        "committed_kw": text(committed),
        "delivered_kw": text(delivered_kw),
        "delivered_kwh": text(delivered_kwh),
        "cost": text(cost),
        "outcome": event_outcome(delivered),
        "order_outcomes": [outcome_view(order) for order in delivered],
    }


def event_outcome(delivered: list[Order]) -> str | None:
    """PARTIAL when any order fell short, COMPLETED when every one delivered, None while unknown."""
    outcomes = {outcome_of(order) for order in delivered}
    if "PARTIAL" in outcomes:
        return "PARTIAL"
    return "COMPLETED" if outcomes == {"COMPLETED"} else None
