"""`/api/orders`: confirmed and activating orders, their message timeline, and changing or cancelling them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from bap.api import DeskDep, OperatorDep
from bap.audit.service import Channel
from bap.orders import service
from bap.orders.models import OrderState
from bap.orders.repository import OrderRepository
from bap.orders.schemas import OrderCancelIn, OrderChangeIn
from bap.orders.views import order_view, timeline_view
from participant.app import SessionDep
from participant.operators import ViewerDep

router = APIRouter(prefix="/api/orders", tags=["orders"])


@router.get("")
async def list_orders(
    session: SessionDep, _: ViewerDep, state: Annotated[list[OrderState] | None, Query()] = None
) -> list[dict[str, Any]]:
    orders = await OrderRepository(session).in_states(state or list(OrderState))
    return [order_view(order) for order in orders]


@router.get("/{order_id}")
async def get_order(order_id: str, session: SessionDep, _: ViewerDep) -> dict[str, Any]:
    """The order with every message exchanged for it, as sent and received."""
    repository = OrderRepository(session)
    order = await repository.find(order_id)
    return {**order_view(order), "timeline": [timeline_view(r) for r in await repository.timeline(order)]}


@router.post("/{order_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_order(
    order_id: str,
    session: SessionDep,
    desk: DeskDep,
    operator: OperatorDep,
    body: Annotated[OrderCancelIn | None, Body()] = None,
) -> dict[str, Any]:
    reason = body.reason if body else None
    return order_view(await service.cancel_order(session, desk, order_id, operator, Channel.API, reason))


@router.post("/{order_id}/update", status_code=status.HTTP_202_ACCEPTED)
async def change_order(
    order_id: str, change: OrderChangeIn, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    order = await service.change_order(
        session,
        desk,
        order_id,
        operator,
        Channel.API,
        window_start=change.start,
        window_end=change.end,
        kw=change.kw,
    )
    return order_view(order)


@router.post("/{order_id}/status", status_code=status.HTTP_202_ACCEPTED)
async def request_status(
    order_id: str, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    """Ask the aggregator for the order's status now; the answer comes as `progress` on the console."""
    return order_view(await service.request_status(session, desk, order_id, operator, Channel.API))
