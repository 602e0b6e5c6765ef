"""`/api/orders/{id}/dispatch`: how an order is being delivered, device by device."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from bpp.dispatch import views
from bpp.dispatch.schemas import DispatchRead
from bpp.orders.errors import OrderNotFound
from participant.app import SessionDep
from participant.operators import ViewerDep

router = APIRouter(prefix="/api/orders", tags=["dispatch"])


@router.get("/{order_id}/dispatch")
async def get_dispatch(
    order_id: Annotated[str, Path(min_length=1, max_length=36)], session: SessionDep, _: ViewerDep
) -> DispatchRead:
    """The plan, its commands (RELEASEs included) and each device's baseline and delivery so far."""
    try:
        return await views.dispatch_of(session, order_id)
    except OrderNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=exc.message) from exc
