"""`/api/beckn/{action}` and `/api/beckn/transactions/{id}`: Beckn for utility systems, any domain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from bap.api import DeskDep, OperatorDep
from bap.beckn.schemas import BecknRequestIn
from bap.beckn.service import request_action, send_request, transaction_log
from participant.app import SessionDep
from participant.operators import ViewerDep

router = APIRouter(prefix="/api/beckn", tags=["beckn client"])


@router.get("/transactions/{transaction_id}")
async def transaction(transaction_id: str, session: SessionDep, _: ViewerDep) -> dict[str, Any]:
    return await transaction_log(session, transaction_id)


@router.post("/{action}", status_code=status.HTTP_202_ACCEPTED)
async def send(
    action: str, request: BecknRequestIn, session: SessionDep, desk: DeskDep, operator: OperatorDep
) -> dict[str, Any]:
    """Sign and send; `search` without a bpp_uri goes to the gateway or every registered BPP of the domain."""
    return await send_request(session, desk, request_action(action), request, operator)
