"""What the registry's routes are given: its state, a committed-per-request session, admin access."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import session_scope
from participant.settings import RegistrySettings


@dataclass(frozen=True)
class RegistryState:
    """Created in the app's lifespan, never at import."""

    settings: RegistrySettings
    session_factory: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    encryption_private_key: str
    encryption_public_key: str


def registry_state(request: Request) -> RegistryState:
    state: RegistryState = request.app.state.registry
    return state


StateDep = Annotated[RegistryState, Depends(registry_state)]
_unit_of_work = asynccontextmanager(session_scope)


async def request_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """Committed when the endpoint returns, before the answer is sent (so a 201 means it is stored)."""
    async with _unit_of_work(state.session_factory) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]

_bearer = HTTPBearer(auto_error=False)


def require_admin(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """403 when no admin token is configured at all; 401 for a missing or wrong token."""
    configured = state.settings.admin_token
    if configured is None or not configured.get_secret_value():
        raise HTTPException(
            403,
            detail="the admin API is disabled: start the registry with --admin-token "
            "(or DEGFLEX_REGISTRY_ADMIN_TOKEN)",
        )
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), configured.get_secret_value().encode()):
        raise HTTPException(
            401, detail="missing or wrong admin token", headers={"WWW-Authenticate": "Bearer"}
        )


AdminDep = Depends(require_admin)
