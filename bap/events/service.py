"""Flexibility events: open one (a signed search), take offers until the window closes, recommend, decide.

The search's ttl is the collection window; offers that come after it are not considered. With aggregators
found in the registry (no gateway), the window closes early once every one of them has answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.models import AlertKind
from bap.alerts.service import raise_alert
from bap.audit.service import POLICY, Channel, record
from bap.console.messages import MessageType, message
from bap.desk import Desk
from bap.errors import Ambiguous, Conflict, NotFound
from bap.events.choice import adjusted, loaded, need_of, options_of, stored
from bap.events.models import EventSource, EventState, FlexEvent, FlexOffer, Severity
from bap.events.reliability import blended, delivery_ratio
from bap.events.repository import EventRepository
from bap.events.schemas import FlexRequestIn
from bap.events.views import offer_view, recommendation_view
from bap.events.wire import NeedOnWire, OfferDraft, search_message
from bap.orders.activation import activate
from bap.orders.repository import OrderRepository
from bap.orders.views import text
from bap.recommendation.recommend import recommend
from participant.db import utcnow
from participant.operators import Operator
from schemas.core_v1 import Action, Catalog

log = logging.getLogger(__name__)


async def open_event(
    session: AsyncSession,
    desk: Desk,
    request: FlexRequestIn,
    *,
    actor: Operator,
    channel: Channel,
    source: EventSource = EventSource.API,
    grid_alert: Mapping[str, Any] | None = None,
) -> FlexEvent:
    """Store the event and enqueue its search, to the gateway or every registered aggregator."""
    settings = desk.settings
    window = timedelta(seconds=settings.collection_seconds)
    context = desk.sender.request_context(Action.SEARCH, ttl=window)
    min_notice = timedelta(seconds=settings.min_notice_seconds) if settings.min_notice_seconds else None
    body = search_message(
        NeedOnWire(
            grid_node=request.grid_node,
            direction=request.direction.value,
            required_kw=request.required_kw,
            window_start=request.window.start,
            window_end=request.window.end,
            location=request.location,
            min_notice=min_notice,
        )
    )
    now = utcnow()
    event = await EventRepository(session).add(
        FlexEvent(
            source=source,
            grid_node=request.grid_node,
            location=request.location,
            direction=request.direction.value,
            required_kw=request.required_kw,
            window_start=request.window.start,
            window_end=request.window.end,
            max_price_per_kwh=request.max_price,
            headroom=settings.headroom,
            severity=request.severity,
            state=EventState.COLLECTING,
            transaction_id=context.transaction_id,
            search_message_id=context.message_id,
            collect_until=now + window,
            grid_alert=dict(grid_alert) if grid_alert else None,
            note=request.note,
            created_by=actor.name,
        )
    )
    entries = await desk.sender.send(session, action=Action.SEARCH, context=context, message=body)
    event.searched_bpps = None if settings.gateway_url else sorted({entry.counterparty for entry in entries})
    if not entries:
        event.collect_until = now
    desk.reschedule(session)
    record(
        session,
        actor,
        "open_event",
        channel=channel,
        target_type="event",
        target_id=event.id,
        grid_node=event.grid_node,
        required_kw=str(event.required_kw),
        severity=event.severity.value,
        source=source.value,
    )
    await session.flush()
    return event


async def receive_offers(
    session: AsyncSession,
    desk: Desk,
    event: FlexEvent,
    aggregator_id: str,
    bpp_uri: str,
    drafts: list[OfferDraft],
) -> list[FlexOffer]:
    """Store an aggregator's offers while the window is open; close it early once everyone answered.

    The event row is locked first so that aggregators answering at the same moment take turns: each
    then sees the others' offers (one `options` frame has them all) and the early close is not missed.
    """
    events = EventRepository(session)
    locked = await events.lock(event.id)
    if locked is None or locked.state is not EventState.COLLECTING:
        log.info("on_search from %s after event %s stopped collecting; ignored", aggregator_id, event.id)
        return []
    history = await _delivery_history(session, aggregator_id)
    added = await events.add_offers(
        FlexOffer(
            event_id=event.id,
            aggregator_id=aggregator_id,
            bpp_uri=bpp_uri,
            provider_id=draft.provider_id,
            provider_name=draft.provider_name,
            item_id=draft.item_id,
            item_name=draft.item_name,
            fulfillment_id=draft.fulfillment_id,
            direction=draft.direction,
            grid_node=draft.grid_node,
            available_kw=draft.available_kw,
            min_kw=draft.min_kw,
            max_kw=draft.max_kw,
            price_per_kwh=draft.price_per_kwh,
            currency=draft.currency,
            offer_reliability=draft.reliability,
            reliability=blended(draft.reliability, history),
            terms=draft.terms,
        )
        for draft in drafts
    )
    offers = await events.offers(event.id)
    desk.publish(
        session,
        message(
            MessageType.OPTIONS,
            event_id=event.id,
            grid_node=event.grid_node,
            from_aggregator=aggregator_id,
            offers=[offer_view(offer) for offer in offers],
        ),
    )
    if event.searched_bpps and set(event.searched_bpps) <= await events.responders(event.transaction_id):
        event.collect_until = utcnow()
        desk.reschedule(session)
    return added


async def _delivery_history(session: AsyncSession, aggregator_id: str) -> list[Decimal]:
    ratios = []
    for order in await OrderRepository(session).finished([aggregator_id]):
        ratio = delivery_ratio(
            order.committed_kw, order.delivered_kw, order.delivered_kwh, order.window_start, order.window_end
        )
        if ratio is not None:
            ratios.append(ratio)
    return ratios


async def close_collection(session: AsyncSession, desk: Desk, event_id: str) -> None:
    """The window closed: recommend over the offers, alert on silence or shortfall, auto-approve if allowed.

    Runs in its own transaction from the scheduler; a second replica finds the event no longer COLLECTING.
    """
    events = EventRepository(session)
    event = await events.get(event_id)
    if event is None or event.state is not EventState.COLLECTING:
        return
    offers = await events.offers(event.id)
    recommendation = None
    if offers:
        recommendation = await asyncio.to_thread(recommend, need_of(event), options_of(offers))
    claimed = await events.transition(
        event.id,
        [EventState.COLLECTING],
        EventState.AWAITING_APPROVAL if recommendation else EventState.NO_OPTIONS,
        **({"recommendation": stored(recommendation), "recommended_at": utcnow()} if recommendation else {}),
    )
    if not claimed:
        return
    responders = await events.responders(event.transaction_id)
    for silent in sorted(set(event.searched_bpps or ()) - responders):
        await raise_alert(
            session,
            desk,
            AlertKind.AGGREGATOR_SILENT,
            f"{silent} did not answer the search for {event.grid_node} in time",
            severity=Severity.MEDIUM,
            event_id=event.id,
            aggregator_id=silent,
        )
    if recommendation is None:
        await raise_alert(
            session,
            desk,
            AlertKind.NO_OPTIONS,
            f"no aggregator offered flexibility for {text(event.required_kw)} kW on {event.grid_node}",
            severity=Severity.CRITICAL if event.severity is Severity.CRITICAL else Severity.HIGH,
            event_id=event.id,
        )
        return
    await session.refresh(event)
    desk.publish(session, message(MessageType.RECOMMENDATION, **(recommendation_view(event) or {})))
    if recommendation.partial:
        await raise_alert(
            session,
            desk,
            AlertKind.SHORTFALL,
            f"the offers for {event.grid_node} cover {text(recommendation.expected_kw)} of "
            f"{text(recommendation.target_kw)} reliable kW; {text(recommendation.gap_kw)} kW short",
            event_id=event.id,
        )
    if (
        event.severity is Severity.CRITICAL
        and desk.settings.auto_activate_critical
        and recommendation.selections
    ):
        await approve(session, desk, event.id, POLICY, Channel.POLICY)


async def pending_event(session: AsyncSession, ref: str | None) -> FlexEvent:
    """The event a command means: the one named, or the only one awaiting approval."""
    events = EventRepository(session)
    if ref is not None:
        return await events.find(ref)
    waiting = await events.in_states([EventState.AWAITING_APPROVAL])
    if not waiting:
        raise NotFound("no recommendation is waiting for approval")
    if len(waiting) > 1:
        listed = ", ".join(f"{e.id[:8]} ({e.grid_node})" for e in waiting)
        raise Ambiguous(
            f"{len(waiting)} recommendations are waiting: {listed}; "
            f"name one, e.g. 'approve {waiting[0].id[:8]}'"
        )
    return waiting[0]


async def approve(
    session: AsyncSession, desk: Desk, ref: str | None, actor: Operator, channel: Channel
) -> FlexEvent:
    event = await pending_event(session, ref)
    if event.recommendation is None or event.state is not EventState.AWAITING_APPROVAL:
        raise Conflict(f"event {event.id} is {event.state.value.lower()}, not awaiting approval")
    selections = loaded(event.recommendation).selections
    if not selections:
        raise Conflict(f"the recommendation for event {event.id} takes no offer; adjust it first")
    if not await EventRepository(session).transition(
        event.id,
        [EventState.AWAITING_APPROVAL],
        EventState.ACTIVATING,
        decided_by=actor.name,
        decided_at=utcnow(),
    ):
        raise Conflict(f"event {event.id} was decided by someone else a moment ago")
    await session.refresh(event)
    record(
        session,
        actor,
        "approve",
        channel=channel,
        target_type="event",
        target_id=event.id,
        offers=[s.option_id for s in selections],
    )
    await activate(session, desk, event, selections)
    return event


async def decline(
    session: AsyncSession,
    desk: Desk,
    ref: str | None,
    actor: Operator,
    channel: Channel,
    note: str | None = None,
) -> FlexEvent:
    event = await pending_event(session, ref)
    if not await EventRepository(session).transition(
        event.id,
        [EventState.AWAITING_APPROVAL, EventState.COLLECTING],
        EventState.DECLINED,
        decided_by=actor.name,
        decided_at=utcnow(),
        note=note or event.note,
    ):
        raise Conflict(f"event {event.id} is {event.state.value.lower()}; only a pending one can be declined")
    await session.refresh(event)
    record(session, actor, "decline", channel=channel, target_type="event", target_id=event.id, note=note)
    desk.publish(
        session, message(MessageType.RECOMMENDATION, **(recommendation_view(event) or {"event_id": event.id}))
    )
    return event


async def adjust(
    session: AsyncSession,
    desk: Desk,
    ref: str | None,
    takes: Mapping[str, Decimal],
    actor: Operator,
    channel: Channel,
) -> FlexEvent:
    """Replace the kW taken from some offers (offer ids may be shortened) before approving."""
    events = EventRepository(session)
    if ref is None and len(takes) == 1:
        offer = await events.find_offer(next(iter(takes)))
        event = await events.find(offer.event_id)
        takes = {offer.id: next(iter(takes.values()))}
    else:
        event = await pending_event(session, ref)
        takes = {(await events.find_offer(offer_ref)).id: kw for offer_ref, kw in takes.items()}
    if event.state is not EventState.AWAITING_APPROVAL or event.recommendation is None:
        raise Conflict(
            f"event {event.id} is {event.state.value.lower()}; only a pending recommendation can change"
        )
    offers = {offer.id: offer for offer in await events.offers(event.id)}
    changed = adjusted(need_of(event), loaded(event.recommendation), offers, takes)
    event.recommendation = stored(changed)
    await session.flush()
    record(
        session,
        actor,
        "adjust",
        channel=channel,
        target_type="event",
        target_id=event.id,
        takes={offer_id: str(kw) for offer_id, kw in takes.items()},
    )
    desk.publish(session, message(MessageType.RECOMMENDATION, **(recommendation_view(event) or {})))
    return event


def catalog_of(message_body: Any) -> Catalog | None:
    catalog = getattr(message_body, "catalog", None)
    return catalog if isinstance(catalog, Catalog) else None
