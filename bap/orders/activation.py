"""Activation: select → init → confirm with each chosen aggregator, in parallel, with automatic fallback.

Each aggregator gets one order holding the offers taken from it. A NACK, a callback carrying an error, a
quote that changed, or silence past the activation timeout fails that order, raises an alert, and moves
its reliable kW to the next-best offers not tried yet (the recommendation run again over what is left).
A confirmation that arrives for an order we already gave up on is cancelled straight away, so no capacity
stays reserved for nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.models import AlertKind
from bap.alerts.service import raise_alert
from bap.audit.service import SYSTEM, Channel, record
from bap.desk import Desk
from bap.events.choice import need_of, options_of
from bap.events.models import EventState, FlexEvent, Severity
from bap.events.repository import EventRepository
from bap.orders.models import Order, OrderState, Step
from bap.orders.repository import OrderRepository
from bap.orders.steps import announce, billing, callback_error, done_waiting, draft_of, send
from bap.orders.tracking import apply_progress, settle_event
from bap.orders.views import text
from bap.orders.wire import (
    Line,
    Quote,
    cancel_message,
    confirm_message,
    init_message,
    read_progress,
    read_quote,
    select_message,
)
from bap.recommendation.models import Selection
from bap.recommendation.recommend import recommend
from participant.db import new_id, utcnow
from participant.inbound import InboundMessage
from schemas.core_v1 import Action, OrderStatus

log = logging.getLogger(__name__)

CENT = Decimal("0.01")


async def activate(
    session: AsyncSession, desk: Desk, event: FlexEvent, selections: Sequence[Selection], *, round_: int = 0
) -> list[Order]:
    """Create one order per (aggregator, provider) of `selections` and send each its select."""
    offers = {offer.id: offer for offer in await EventRepository(session).offers(event.id)}
    repository = OrderRepository(session)
    busy = {(o.aggregator_id, o.transaction_id) for o in await repository.for_event(event.id)}
    groups: dict[tuple[str, str], list[Selection]] = {}
    for selection in selections:
        offer = offers[selection.option_id]
        groups.setdefault((offer.aggregator_id, offer.provider_id), []).append(selection)
    orders = []
    for (aggregator_id, provider_id), chosen in groups.items():
        first = offers[chosen[0].option_id]
        # One Beckn transaction per aggregator: a second order with it (a fallback) gets its own.
        transaction_id = event.transaction_id
        if (aggregator_id, transaction_id) in busy:
            transaction_id = new_id()
        busy.add((aggregator_id, transaction_id))
        lines = [
            Line(
                offer_id=s.option_id,
                item_id=offers[s.option_id].item_id,
                kw=s.kw,
                price_per_kwh=s.price_per_kwh,
                reliability=s.reliability,
                fulfillment_id=offers[s.option_id].fulfillment_id,
            )
            for s in chosen
        ]
        order = await repository.add(
            Order(
                event_id=event.id,
                round=round_,
                aggregator_id=aggregator_id,
                bpp_uri=first.bpp_uri,
                provider_id=provider_id,
                transaction_id=transaction_id,
                state=OrderState.SELECTING,
                items=[line.stored() for line in lines],
                window_start=event.window_start,
                window_end=event.window_end,
                requested_kw=sum((s.kw for s in chosen), Decimal(0)),
                expected_kw=sum((s.expected_kw for s in chosen), Decimal(0)),
                expected_cost=sum((s.cost for s in chosen), Decimal(0)),
                currency=first.currency,
            )
        )
        await send(session, desk, order, Action.SELECT, select_message(draft_of(order)), step=Step.SELECT)
        announce(session, desk, order)
        orders.append(order)
    return orders


def quote_problem(order: Order, quote: Quote, tolerance: Decimal) -> str | None:
    """Why a quote is not what was recommended (fewer kW, or dearer beyond the tolerance), or None."""
    if quote.selected_kw is not None and quote.selected_kw < order.requested_kw:
        return (
            f"{order.aggregator_id} changed its quote: {text(quote.selected_kw)} kW instead of "
            f"{text(order.requested_kw)} kW"
        )
    limit = order.expected_cost * (1 + tolerance) + CENT
    if quote.total is not None and quote.total > limit:
        return (
            f"{order.aggregator_id} changed its quote: {quote.total} instead of about "
            f"{order.expected_cost.quantize(CENT)}"
        )
    return None


async def on_select(session: AsyncSession, desk: Desk, order: Order, message: InboundMessage) -> None:
    if order.step is not Step.SELECT:
        log.info("on_select for order %s, which waits for %s; ignored", order.id, order.step)
        return
    if await _refused(session, desk, order, message, Step.SELECT):
        return
    if not await _take_quote(
        session, desk, order, read_quote(getattr(message.envelope.message, "order", None))
    ):
        return
    await send(
        session, desk, order, Action.INIT, init_message(draft_of(order), billing(desk)), step=Step.INIT
    )
    announce(session, desk, order)


async def on_init(session: AsyncSession, desk: Desk, order: Order, message: InboundMessage) -> None:
    if order.step is not Step.INIT:
        log.info("on_init for order %s, which waits for %s; ignored", order.id, order.step)
        return
    if await _refused(session, desk, order, message, Step.INIT):
        return
    quote = read_quote(getattr(message.envelope.message, "order", None))
    if (quote.total is not None or quote.selected_kw is not None) and not await _take_quote(
        session, desk, order, quote
    ):
        return
    body = confirm_message(draft_of(order), billing(desk))
    await send(session, desk, order, Action.CONFIRM, body, step=Step.CONFIRM)
    announce(session, desk, order)


async def on_confirm(session: AsyncSession, desk: Desk, order: Order, message: InboundMessage) -> None:
    beckn_order = getattr(message.envelope.message, "order", None)
    if order.state in (OrderState.FAILED, OrderState.CANCELLED):
        await release_late(session, desk, order, beckn_order.id if beckn_order else None)
        return
    if order.step is not Step.CONFIRM:
        log.info("on_confirm for order %s, which waits for %s; ignored", order.id, order.step)
        return
    if await _refused(session, desk, order, message, Step.CONFIRM):
        return
    assert beckn_order is not None  # _refused handles a callback without a message
    progress = read_progress(beckn_order)
    if progress.status == OrderStatus.CANCELLED.value or not progress.bpp_order_id:
        reason = "confirmed nothing (no order id)" if not progress.bpp_order_id else "cancelled at confirm"
        await fail_order(session, desk, order, AlertKind.AGGREGATOR_NACK, f"{order.aggregator_id} {reason}")
        return
    order.bpp_order_id = progress.bpp_order_id
    order.state = OrderState.ACTIVE
    order.confirmed_at = utcnow()
    order.committed_kw = order.requested_kw
    done_waiting(order)
    participation = apply_progress(order, progress, message.context.timestamp)
    announce(session, desk, order, participation=participation)
    if order.committed_kw is not None and order.committed_kw < order.requested_kw:
        await raise_alert(
            session,
            desk,
            AlertKind.SHORTFALL,
            f"{order.aggregator_id} committed {text(order.committed_kw)} of {text(order.requested_kw)} kW",
            severity=Severity.MEDIUM,
            event_id=order.event_id,
            order_id=order.id,
            aggregator_id=order.aggregator_id,
        )
    await settle_event(session, desk, order.event_id)


async def _refused(
    session: AsyncSession, desk: Desk, order: Order, message: InboundMessage, step: Step
) -> bool:
    error = callback_error(message.envelope.error)
    if error is None and message.envelope.message is not None:
        return False
    reason = f"{order.aggregator_id} refused {step.value}: {error or 'no message'}"
    await fail_order(session, desk, order, AlertKind.AGGREGATOR_NACK, reason)
    return True


async def _take_quote(session: AsyncSession, desk: Desk, order: Order, quote: Quote) -> bool:
    problem = quote_problem(order, quote, desk.settings.quote_tolerance)
    if problem is not None:
        await fail_order(session, desk, order, AlertKind.QUOTE_CHANGED, problem)
        return False
    if quote.total is not None:
        order.quoted_cost = quote.total
    order.currency = quote.currency or order.currency
    if quote.body is not None:
        order.quote = quote.body
    return True


async def fail_order(session: AsyncSession, desk: Desk, order: Order, kind: AlertKind, reason: str) -> None:
    """Give up on an activating order, say why, and fall back to the next-best offers."""
    order.state = OrderState.FAILED
    order.failure_reason = reason
    done_waiting(order)
    await session.flush()
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
    await fall_back(session, desk, order)
    await settle_event(session, desk, order.event_id)


async def fall_back(session: AsyncSession, desk: Desk, failed: Order) -> list[Order]:
    """Cover the failed order's reliable kW with offers not tried yet, from aggregators that did not fail."""
    events = EventRepository(session)
    event = await events.lock(failed.event_id)
    if event is None or event.state not in (EventState.ACTIVATING, EventState.ACTIVE):
        return []
    orders = await OrderRepository(session).for_event(event.id)
    tried = {item["offer_id"] for order in orders for item in order.items}
    failed_aggregators = {order.aggregator_id for order in orders if order.state is OrderState.FAILED}
    candidates = [
        offer
        for offer in await events.offers(event.id)
        if offer.id not in tried and offer.aggregator_id not in failed_aggregators
    ]
    missing = failed.expected_kw
    if missing <= 0:
        return []
    need = need_of(event, required_kw=missing, headroom=Decimal(1))
    plan = await asyncio.to_thread(recommend, need, options_of(candidates)) if candidates else None
    if plan is None or not plan.selections:
        await raise_alert(
            session,
            desk,
            AlertKind.SHORTFALL,
            f"no offer is left to replace {failed.aggregator_id}: "
            f"{text(missing)} reliable kW short on {event.grid_node}",
            event_id=event.id,
            aggregator_id=failed.aggregator_id,
        )
        return []
    replacements = await activate(session, desk, event, plan.selections, round_=failed.round + 1)
    names = ", ".join(f"{s.aggregator_id} ({text(s.kw)} kW)" for s in plan.selections)
    await raise_alert(
        session,
        desk,
        AlertKind.FALLBACK,
        f"moved {text(missing)} reliable kW from {failed.aggregator_id} to {names}",
        severity=Severity.MEDIUM,
        event_id=event.id,
        order_id=failed.id,
        aggregator_id=failed.aggregator_id,
    )
    if plan.partial:
        await raise_alert(
            session,
            desk,
            AlertKind.SHORTFALL,
            f"the fallback for {failed.aggregator_id} is {text(plan.gap_kw)} reliable kW short",
            event_id=event.id,
        )
    record(
        session,
        SYSTEM,
        "fallback",
        channel=Channel.SYSTEM,
        target_type="order",
        target_id=failed.id,
        replacements=[order.id for order in replacements],
    )
    return replacements


async def release_late(session: AsyncSession, desk: Desk, order: Order, bpp_order_id: str | None) -> None:
    """An aggregator confirmed an order we had given up on: cancel it so its capacity is freed."""
    if not bpp_order_id:
        return
    order.bpp_order_id = bpp_order_id
    await send(
        session, desk, order, Action.CANCEL, cancel_message(bpp_order_id, "confirmed too late"), step=None
    )
    record(
        session,
        SYSTEM,
        "cancel_late_confirmation",
        channel=Channel.SYSTEM,
        target_type="order",
        target_id=order.id,
        bpp_order_id=bpp_order_id,
    )
