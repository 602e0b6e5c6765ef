"""`/api/grid-alerts`, `/api/alerts`, `/api/conflicts`: stress in, things to look at out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from bap.alerts.conflicts import conflicts
from bap.alerts.grid import handle_grid_alert
from bap.alerts.service import list_alerts
from bap.api import DeskDep, OperatorDep
from bap.audit.service import Channel
from bap.events.repository import EventRepository
from bap.events.schemas import GridAlertIn
from bap.events.views import event_view
from bap.orders.repository import OrderRepository
from bap.orders.views import text
from participant.app import SessionDep
from participant.db import utcnow
from participant.operators import ViewerDep

router = APIRouter(prefix="/api", tags=["alerts"])


@router.post("/grid-alerts", status_code=status.HTTP_202_ACCEPTED)
async def grid_alert(
    alert: GridAlertIn, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    """need = forecast peak − capacity × target loading; a positive need opens a flexibility event."""
    event, need = await handle_grid_alert(session, desk, alert, operator, Channel.API)
    return {"need_kw": text(need), "event": event_view(event, [], []) if event else None}


@router.get("/alerts")
async def alerts(
    session: SessionDep,
    _: ViewerDep,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return await list_alerts(session, since=since, limit=limit)


@router.get("/conflicts")
async def list_conflicts(session: SessionDep, _: ViewerDep) -> list[dict[str, Any]]:
    events = await EventRepository(session).open_events()
    orders = await OrderRepository(session).for_events(event.id for event in events)
    return conflicts(events, orders, utcnow())
