"""`GET /api/capacity`: per grid node and direction, what is controllable, promised and still free."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from bpp.capacity import service
from bpp.capacity.schemas import NodeCapacityRead
from participant.app import SessionDep
from participant.operators import ViewerDep

router = APIRouter(prefix="/api/capacity", tags=["capacity"])


@router.get("")
async def capacity_summary(
    session: SessionDep,
    _: ViewerDep,
    at: Annotated[datetime | None, Query(description="RFC 3339 with a UTC offset; default now")] = None,
) -> list[NodeCapacityRead]:
    if at is not None and at.tzinfo is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail="`at` needs a UTC offset, e.g. 2026-11-21T14:00Z"
        )
    return [NodeCapacityRead.model_validate(entry) for entry in await service.node_summary(session, at)]
