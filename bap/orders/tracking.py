"""Tracking: what on_confirm, on_status, on_update and on_cancel say about an order, and so its event.

Figures come from the profile's tag groups (`commitment`, `performance`, `settlement`) wherever the
aggregator put them on the order; a group it left out changes nothing. An event is COMPLETED once every
order has ended and one of them delivered, and then the consoles get `completed`.
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
from bap.orders.views import text
from bap.orders.wire import Progress, read_progress
from participant.inbound import InboundMessage
from schemas.core_v1 import OrderStatus

log = logging.getLogger(__name__)

FINISHED_FULFILLMENT = frozenset({"COMPLETED", "PARTIAL", "SETTLED"})


def apply_progress(order: Order, progress: Progress) -> bool:
    """Copy what `progress` reports onto the order; True when device participation figures changed."""
    if progress.fulfillment_state:
        order.fulfillment_state = progress.fulfillment_state
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
    participation = apply_progress(order, progress)
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
    apply_progress(order, read_progress(beckn_order))
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
    }
