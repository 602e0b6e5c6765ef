"""`/api/orders`: the operator's view of contracts, each with its history and Beckn message timeline."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from bpp.fleet.models import FlexDirection
from bpp.fleet.schemas import GridNode
from bpp.orders import service
from bpp.orders.errors import OrderNotFound
from bpp.orders.schemas import BecknMessageRead, OrderDetail, OrderEventRead, OrderRead
from bpp.orders.states import FulfillmentState, OrderStatus
from participant.app import SessionDep
from participant.messagelog import MessageRecord
from participant.operators import ViewerDep

router = APIRouter(prefix="/api/orders", tags=["orders"])

Moment = Annotated[datetime | None, Query(description="RFC 3339 with a UTC offset")]


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail=f"`{name}` needs a UTC offset, e.g. 2026-11-21T14:00Z"
        )
    return value


@router.get("")
async def list_orders(
    session: SessionDep,
    _: ViewerDep,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    fulfillment_state: Annotated[FulfillmentState | None, Query()] = None,
    grid_node: Annotated[GridNode | None, Query()] = None,
    direction: Annotated[FlexDirection | None, Query()] = None,
    bap_id: Annotated[str | None, Query(max_length=255)] = None,
    transaction_id: Annotated[str | None, Query(max_length=255)] = None,
    starts_after: Moment = None,
    starts_before: Moment = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderRead]:
    """Newest first; every filter narrows (`starts_*` compare the event window's start)."""
    orders = await service.list_orders(
        session,
        status=order_status,
        fulfillment_state=fulfillment_state,
        grid_node=grid_node,
        direction=direction,
        bap_id=bap_id,
        transaction_id=transaction_id,
        starts_after=_aware("starts_after", starts_after),
        starts_before=_aware("starts_before", starts_before),
        limit=limit,
        offset=offset,
    )
    return [OrderRead.model_validate(order) for order in orders]


@router.get("/{order_id}")
async def get_order(
    order_id: Annotated[str, Path(min_length=1, max_length=36)], session: SessionDep, _: ViewerDep
) -> OrderDetail:
    try:
        order = await service.get(session, order_id)
    except OrderNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=exc.message) from exc
    events = await service.events(session, order.id)
    records = await service.timeline(session, order)
    return OrderDetail(
        order=OrderRead.model_validate(order),
        events=[OrderEventRead.model_validate(event) for event in events],
        messages=[_message(record) for record in records],
    )


def _message(record: MessageRecord) -> BecknMessageRead:
    return BecknMessageRead(
        direction=record.direction.value,
        action=record.action,
        message_id=record.message_id,
        counterparty=record.counterparty,
        url=record.url,
        http_status=record.http_status,
        ack_status=record.ack_status,
        error_code=record.error_code,
        error_message=record.error_message,
        at=record.created_at,
        body=_body(record.body),
    )


def _body(raw: bytes) -> Any:
    """The body as JSON when it is JSON (it is what was signed), else as text."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", errors="replace")
