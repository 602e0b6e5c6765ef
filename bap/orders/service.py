"""What operators do to orders (change, cancel, ask for status) and what happens when an answer is late.

Every action is audited in the same transaction; the console and the API share these functions.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.models import AlertKind
from bap.alerts.service import raise_alert
from bap.audit.service import Channel, record
from bap.desk import Desk
from bap.errors import Conflict, Invalid
from bap.events.repository import EventRepository
from bap.orders.activation import fail_order
from bap.orders.models import Order, OrderState, Step
from bap.orders.repository import OrderRepository
from bap.orders.steps import announce, done_waiting, draft_of, send
from bap.orders.tracking import settle_event
from bap.orders.wire import Line, cancel_message, status_message, update_message
from participant.db import utcnow
from participant.operators import Operator
from participant.outbox import OutboxStatus
from participant.outbox.worker import DeliveryOutcome
from schemas.core_v1 import Action

log = logging.getLogger(__name__)


async def cancel_order(
    session: AsyncSession,
    desk: Desk,
    order_ref: str,
    actor: Operator,
    channel: Channel,
    reason: str | None = None,
) -> Order:
    """Cancel with the aggregator (an order not confirmed yet is simply dropped: nothing was reserved)."""
    order = await OrderRepository(session).find(order_ref)
    if order.state.final:
        raise Conflict(f"order {order.id} is already {order.state.value.lower()}")
    if order.step in (Step.CANCEL, Step.UPDATE):
        raise Conflict(f"order {order.id} is waiting for on_{order.step.value}; try again when it answers")
    reason = reason or f"cancelled by {actor.name}"
    if order.state is OrderState.ACTIVE and order.bpp_order_id:
        await send(
            session, desk, order, Action.CANCEL, cancel_message(order.bpp_order_id, reason), step=Step.CANCEL
        )
    else:
        order.state = OrderState.CANCELLED
        order.failure_reason = reason
        done_waiting(order)
        await session.flush()
        await settle_event(session, desk, order.event_id)
    announce(session, desk, order)
    record(
        session,
        actor,
        "cancel_order",
        channel=channel,
        target_type="order",
        target_id=order.id,
        reason=reason,
    )
    return order


async def change_order(
    session: AsyncSession,
    desk: Desk,
    order_ref: str,
    actor: Operator,
    channel: Channel,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    kw: Decimal | None = None,
) -> Order:
    """Send `update` with the new window and/or kW; the order changes when the aggregator agrees."""
    order = await OrderRepository(session).find(order_ref)
    if order.state is not OrderState.ACTIVE or not order.bpp_order_id:
        raise Conflict(f"order {order.id} is {order.state.value.lower()}; only a confirmed order can change")
    if order.step is not None:
        raise Conflict(f"order {order.id} is waiting for on_{order.step.value}; try again when it answers")
    start, end = window_start or order.window_start, window_end or order.window_end
    if end <= start:
        raise Invalid("the window must end after it starts")
    if kw is None and start == order.window_start and end == order.window_end:
        raise Invalid("nothing to change: give a new window or kW")
    draft = draft_of(order, with_order_id=True)
    lines = _scaled(list(draft.lines), kw) if kw is not None else list(draft.lines)
    changed = replace(draft, lines=lines, window_start=start, window_end=end, quote=None)
    await send(session, desk, order, Action.UPDATE, update_message(changed), step=Step.UPDATE)
    order.pending_change = {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        **({"kw": str(kw)} if kw is not None else {}),
    }
    announce(session, desk, order)
    record(
        session,
        actor,
        "change_order",
        channel=channel,
        target_type="order",
        target_id=order.id,
        **order.pending_change,
    )
    return order


def _scaled(lines: list[Line], kw: Decimal) -> list[Line]:
    """Spread a new total over the order's items in proportion to what each held."""
    if kw <= 0:
        raise Invalid("kW must be positive; cancel the order to drop it")
    total = sum((line.kw for line in lines), Decimal(0))
    return [replace(line, kw=(kw * line.kw / total).quantize(Decimal("0.001"))) for line in lines]


async def request_status(
    session: AsyncSession, desk: Desk, order_ref: str, actor: Operator, channel: Channel
) -> Order:
    order = await OrderRepository(session).find(order_ref)
    if not order.bpp_order_id:
        raise Conflict(f"order {order.id} has no order id from {order.aggregator_id} yet")
    await send(session, desk, order, Action.STATUS, status_message(order.bpp_order_id), step=None)
    record(session, actor, "request_status", channel=channel, target_type="order", target_id=order.id)
    return order


async def refresh_active(session: AsyncSession, desk: Desk) -> list[Order]:
    """Ask every confirmed order's aggregator for its status (the console's `status` command)."""
    orders = await OrderRepository(session).in_states([OrderState.ACTIVE])
    for order in orders:
        if order.bpp_order_id and order.step is None:
            await send(session, desk, order, Action.STATUS, status_message(order.bpp_order_id), step=None)
    return orders


async def step_timeout(session: AsyncSession, desk: Desk, order_id: str) -> None:
    """The callback the order waits for is late: activation moves on, a change or cancel is reported."""
    order = await OrderRepository(session).get(order_id)
    if order is None or order.step is None or order.step_deadline is None or order.step_deadline > utcnow():
        return
    step = order.step
    reason = (
        f"{order.aggregator_id} did not answer {step.value} within "
        f"{desk.settings.activation_timeout_seconds:g} s"
    )
    if step in (Step.SELECT, Step.INIT, Step.CONFIRM):
        await fail_order(session, desk, order, AlertKind.CALLBACK_TIMEOUT, reason)
        return
    done_waiting(order)
    announce(session, desk, order)
    await raise_alert(
        session,
        desk,
        AlertKind.CALLBACK_TIMEOUT,
        reason,
        event_id=order.event_id,
        order_id=order.id,
        aggregator_id=order.aggregator_id,
    )


async def delivery_failed(session: AsyncSession, desk: Desk, outcome: DeliveryOutcome) -> None:
    """A request of ours was refused (NACK) or could not be delivered before it expired."""
    if not outcome.final or outcome.status is OutboxStatus.DELIVERED:
        return
    if outcome.status is OutboxStatus.NACKED:
        kind = AlertKind.AGGREGATOR_NACK
        why = f"refused {outcome.action}"
        if outcome.error_code or outcome.error_message:
            why += f" ({outcome.error_code}: {outcome.error_message})"
    else:
        kind = AlertKind.AGGREGATOR_SILENT
        why = f"could not be reached with {outcome.action} ({outcome.error_message or outcome.status.value})"
    reason = f"{outcome.counterparty} {why}"
    if outcome.action == Action.SEARCH.value:
        event = await EventRepository(session).by_transaction(outcome.transaction_id or "")
        if event is not None:
            await raise_alert(
                session, desk, kind, reason, event_id=event.id, aggregator_id=outcome.counterparty
            )
        return
    order = await OrderRepository(session).awaiting(outcome.message_id or "")
    if order is None:
        if outcome.action in (Action.STATUS.value, Action.CANCEL.value, Action.UPDATE.value):
            await raise_alert(session, desk, kind, reason, aggregator_id=outcome.counterparty)
        return
    if order.step in (Step.SELECT, Step.INIT, Step.CONFIRM):
        await fail_order(session, desk, order, kind, reason)
        return
    done_waiting(order)
    announce(session, desk, order)
    await raise_alert(
        session,
        desk,
        kind,
        reason,
        event_id=order.event_id,
        order_id=order.id,
        aggregator_id=order.aggregator_id,
    )
