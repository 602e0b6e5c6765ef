"""`GET /health`: what this participant is, and whether its database answers (503 when it does not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.cli import package_version
from participant.role import Role


class HasSessions(Protocol):
    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...


def health_router(role: Role, subscriber_id: str, get_runtime: Callable[[Request], HasSessions]) -> APIRouter:
    router = APIRouter(tags=["health"])
    identity = {"role": role.value, "subscriber_id": subscriber_id, "version": package_version()}

    @router.get("/health")
    async def health(request: Request) -> JSONResponse:
        try:
            async with get_runtime(request).session_factory() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means: not healthy
            body = {"status": "unavailable", **identity, "database": f"unavailable: {type(exc).__name__}"}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok", **identity, "database": "ok"})

    return router
