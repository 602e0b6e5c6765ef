"""`GET /api/audit`: the trail of desk actions, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from bap.audit.repository import entries
from bap.audit.service import entry_view
from participant.app import SessionDep
from participant.operators import ViewerDep

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit")
async def audit(
    session: SessionDep,
    _: ViewerDep,
    since: Annotated[AwareDatetime | None, Query()] = None,
    actor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return [entry_view(entry) for entry in await entries(session, since=since, actor=actor, limit=limit)]
