"""`/api/flex-requests`, `/api/curtailment`, `/api/events`: opening events, deciding them, their history."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import PlainTextResponse

from bap.api import DeskDep, OperatorDep
from bap.audit.service import Channel
from bap.events import service
from bap.events.history import as_csv, history
from bap.events.models import EventSource, EventState
from bap.events.repository import EventRepository
from bap.events.schemas import AdjustIn, CurtailmentIn, DecisionIn, FlexRequestIn, window_of
from bap.events.views import event_view
from bap.orders.repository import OrderRepository
from bap.recommendation.models import FlexDirection
from participant.app import SessionDep
from participant.db import utcnow
from participant.operators import ViewerDep

router = APIRouter(prefix="/api", tags=["flexibility events"])


async def _full(session: Any, event_id: str) -> dict[str, Any]:
    events = EventRepository(session)
    event = await events.find(event_id)
    return event_view(
        event, await events.offers(event.id), await OrderRepository(session).for_event(event.id)
    )


@router.post("/flex-requests", status_code=status.HTTP_202_ACCEPTED)
async def open_flex_request(
    request: FlexRequestIn, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    """Start a Beckn search for the need; offers come in until the collection window closes."""
    event = await service.open_event(session, desk, request, actor=operator, channel=Channel.API)
    return event_view(event, [], [])


@router.post("/curtailment", status_code=status.HTTP_202_ACCEPTED)
async def curtail(
    request: CurtailmentIn, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    """A direct curtailment order from the control room: a REDUCE event starting now (or at `start`)."""
    flex = FlexRequestIn(
        grid_node=request.grid_node,
        window=window_of(request.start or utcnow() + timedelta(seconds=1), request.duration),
        required_kw=request.kw,
        direction=FlexDirection.REDUCE,
        max_price=request.max_price,
        severity=request.severity,
        note=request.reason,
    )
    event = await service.open_event(
        session, desk, flex, actor=operator, channel=Channel.API, source=EventSource.CURTAILMENT
    )
    return event_view(event, [], [])


@router.get("/flex-requests")
async def list_flex_requests(
    session: SessionDep, _: ViewerDep, state: Annotated[list[EventState] | None, Query()] = None
) -> list[dict[str, Any]]:
    events = EventRepository(session)
    found = await (events.in_states(state) if state else events.recent())
    orders = await OrderRepository(session).for_events(event.id for event in found)
    return [event_view(event, None, orders[event.id]) for event in found]


@router.get("/flex-requests/{event_id}")
async def get_flex_request(event_id: str, session: SessionDep, _: ViewerDep) -> dict[str, Any]:
    return await _full(session, event_id)


@router.post("/flex-requests/{event_id}/close")
async def close_now(
    event_id: str, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    """Stop waiting for offers and recommend over those already in."""
    event = await EventRepository(session).find(event_id)
    if event.state is EventState.COLLECTING:
        event.collect_until = utcnow()
        desk.reschedule(session)
    return event_view(event)


@router.post("/flex-requests/{event_id}/approve")
async def approve(
    event_id: str,
    session: SessionDep,
    desk: DeskDep,
    operator: OperatorDep,
    _: Annotated[DecisionIn | None, Body()] = None,
) -> dict[str, Any]:
    event = await service.approve(session, desk, event_id, operator, Channel.API)
    return await _full(session, event.id)


@router.post("/flex-requests/{event_id}/decline")
async def decline(
    event_id: str,
    session: SessionDep,
    desk: DeskDep,
    operator: OperatorDep,
    decision: Annotated[DecisionIn | None, Body()] = None,
) -> dict[str, Any]:
    event = await service.decline(
        session, desk, event_id, operator, Channel.API, decision.note if decision else None
    )
    return event_view(event)


@router.post("/flex-requests/{event_id}/adjust")
async def adjust(
    event_id: str, change: AdjustIn, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    takes = {take.offer_id: take.kw for take in change.takes}
    event = await service.adjust(session, desk, event_id, takes, operator, Channel.API)
    return await _full(session, event.id)


@router.get("/events")
async def events_history(
    session: SessionDep, _: ViewerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    return await history(session, limit)


@router.get("/events.csv", response_class=PlainTextResponse)
async def events_csv(
    session: SessionDep, _: ViewerDep, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
) -> PlainTextResponse:
    return PlainTextResponse(
        as_csv(await history(session, limit)),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="degflex-events.csv"'},
    )
