"""What an operator sees first on connecting (or reconnecting): every open event, its offers,
recommendation and orders, and the latest alerts. Later messages are changes to this picture."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.service import list_alerts
from bap.console.commands import HELP
from bap.console.messages import ConsoleMessage, MessageType, message
from bap.events.repository import EventRepository
from bap.events.views import event_view
from bap.orders.repository import OrderRepository
from participant.operators import Operator

SNAPSHOT_ALERTS = 20


async def open_events(session: AsyncSession) -> list[dict[str, Any]]:
    events = EventRepository(session)
    open_ones = await events.open_events()
    orders = await OrderRepository(session).for_events(event.id for event in open_ones)
    return [event_view(event, await events.offers(event.id), orders[event.id]) for event in open_ones]


async def snapshot(session: AsyncSession, operator: Operator) -> ConsoleMessage:
    return message(
        MessageType.SNAPSHOT,
        operator={"name": operator.name, "role": operator.role.label},
        events=await open_events(session),
        alerts=await list_alerts(session, limit=SNAPSHOT_ALERTS),
        help=HELP,
    )
