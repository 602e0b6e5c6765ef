"""What every `/api/…` route shares: the desk, the operator check (audited when it forbids), and how a
refusal becomes an HTTP answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bap.audit.service import Channel, Outcome, record
from bap.desk import Desk, get_desk
from bap.errors import BapError
from participant.app import unit_of_work
from participant.operators import Operator, OperatorRegistry, OperatorRole, require_operator

DeskDep = Annotated[Desk, Depends(get_desk)]

_bearer = HTTPBearer(auto_error=False, description="An operator token configured for this BAP.")
_operator_check = require_operator(OperatorRole.OPERATOR)


async def audited_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    desk: DeskDep,
) -> Operator:
    """The operator role, as `OperatorDep`; a caller with a valid token but too low a role is audited."""
    try:
        return await _operator_check(request, credentials)
    except HTTPException as exc:
        registry = getattr(request.app.state, "operators", None)
        if (
            exc.status_code == status.HTTP_403_FORBIDDEN
            and credentials
            and isinstance(registry, OperatorRegistry)
        ):
            caller = registry.authenticate(credentials.credentials)
            if caller is not None:
                route = request.scope.get("route")
                async with unit_of_work(desk.session_factory) as session:
                    record(
                        session,
                        caller,
                        getattr(route, "name", request.url.path),
                        channel=Channel.API,
                        outcome=Outcome.FORBIDDEN,
                        path=request.url.path,
                    )
        raise


OperatorDep = Annotated[Operator, Depends(audited_operator)]
"""Deciding and changing on the desk: the operator role or above, refusals audited."""


async def refused(request: Request, exc: Exception) -> JSONResponse:
    """A `BapError` from a service: its status (404, 409, 422) and its sentence for the operator."""
    assert isinstance(exc, BapError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)
