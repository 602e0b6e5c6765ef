"""Sending one order request (select, init, confirm, update, cancel, status) and waiting for its callback.

The order remembers the message id it waits on and until when; the scheduler acts on the deadline, the
callback handlers on the message id. A request sent outside a step (status) waits for nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.console.messages import MessageType, message
from bap.desk import Desk
from bap.orders.models import Order, OrderState, Step
from bap.orders.views import participation_view, progress_view
from bap.orders.wire import Draft, Line
from participant.db import utcnow
from schemas.core_v1 import Action, BecknModel, Billing

STEP_STATES = {
    Step.SELECT: OrderState.SELECTING,
    Step.INIT: OrderState.INITIALIZING,
    Step.CONFIRM: OrderState.CONFIRMING,
}


def draft_of(order: Order, *, with_order_id: bool = False) -> Draft:
    return Draft(
        provider_id=order.provider_id,
        lines=[Line.read(item) for item in order.items],
        window_start=order.window_start,
        window_end=order.window_end,
        quote=order.quote,
        bpp_order_id=order.bpp_order_id if with_order_id else None,
    )


def billing(desk: Desk) -> Billing:
    return Billing(name=desk.settings.billing_name, email=desk.settings.billing_email)


async def send(
    session: AsyncSession, desk: Desk, order: Order, action: Action, body: BecknModel, *, step: Step | None
) -> str:
    """Enqueue `action` to the order's aggregator; with a `step`, the order now waits for its callback."""
    timeout = timedelta(seconds=desk.settings.activation_timeout_seconds)
    context = desk.sender.request_context(
        action,
        bpp_id=order.aggregator_id,
        bpp_uri=order.bpp_uri,
        transaction_id=order.transaction_id,
        ttl=timeout,
    )
    await desk.sender.send(session, action=action, context=context, message=body)
    if step is not None:
        order.step = step
        order.step_message_id = context.message_id
        order.step_deadline = utcnow() + timeout
        if step in STEP_STATES:
            order.state = STEP_STATES[step]
        desk.reschedule(session)
    await session.flush()
    return context.message_id


def done_waiting(order: Order) -> None:
    order.step = None
    order.step_message_id = None
    order.step_deadline = None
    order.pending_change = None


def announce(session: AsyncSession, desk: Desk, order: Order, *, participation: bool = False) -> None:
    """Push the order's `progress` (and `participation`, when device figures came in) after the commit."""
    desk.publish(session, message(MessageType.PROGRESS, **progress_view(order)))
    if participation:
        desk.publish(session, message(MessageType.PARTICIPATION, **participation_view(order)))


def callback_error(envelope_error: Any) -> str | None:
    """A callback that carries `error` instead of (or beside) a message: the aggregator said no."""
    if envelope_error is None:
        return None
    code = getattr(envelope_error, "code", None)
    text = getattr(envelope_error, "message", None)
    return f"error {code}: {text}" if text else f"error {code}"
