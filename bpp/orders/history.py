"""What an order leaves behind when it changes: an event in its history and, when devices must follow,
a task for the dispatcher, both written in the transaction of the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.models import format_kw
from bpp.orders.models import DispatchKind, DispatchTask, Order, OrderEvent, OrderEventKind
from bpp.orders.repository import DispatchQueueRepository, OrderRepository


def commitment_of(order: Order) -> dict[str, Any]:
    """What the order commits the fleet to, as plain JSON."""
    return {
        "grid_node": order.grid_node,
        "direction": str(order.direction),
        "kw": format_kw(order.kw),
        "window_start": order.window_start.isoformat(),
        "window_end": order.window_end.isoformat(),
    }


async def record(
    session: AsyncSession,
    order: Order,
    kind: OrderEventKind,
    now: datetime,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
) -> OrderEvent:
    event = OrderEvent(order_id=order.id, kind=kind, message_id=message_id, data=data, at=now)
    return await OrderRepository(session).add_event(event)


async def queue_dispatch(
    session: AsyncSession, order: Order, kind: DispatchKind, now: datetime
) -> DispatchTask:
    payload = {
        **commitment_of(order),
        "reservation_id": order.reservation_id,
        "committed_devices": order.committed_devices,
    }
    task = DispatchTask(order_id=order.id, kind=kind, payload=payload, created_at=now)
    return await DispatchQueueRepository(session).add(task)
