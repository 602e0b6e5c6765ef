"""Reading an order's dispatch for the operator API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.dispatch.readings import OrderDeviceRepository
from bpp.dispatch.repository import CommandRepository, PlanRepository
from bpp.dispatch.schemas import CommandRead, DeviceFiguresRead, DispatchRead, PlanRead
from bpp.orders import service as orders


async def dispatch_of(session: AsyncSession, order_id: str) -> DispatchRead:
    """OrderNotFound when there is no such order; `plan` is None until the dispatcher has taken it in."""
    order = await orders.get(session, order_id)
    plan = await PlanRepository(session).get(order.id)
    commands = await CommandRepository(session).of_order(order.id, include_releases=True)
    devices = await OrderDeviceRepository(session).of_order(order.id)
    return DispatchRead(
        plan=PlanRead.model_validate(plan) if plan is not None else None,
        commands=[CommandRead.model_validate(command) for command in commands],
        devices=[DeviceFiguresRead.model_validate(row) for row in devices.values()],
    )
