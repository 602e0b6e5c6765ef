"""A small BPP operator API on a real uvicorn port: fleet, offers and capacity routers, operator tokens."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity.routes import router as capacity_router
from bpp.fleet.routes import router as fleet_router
from bpp.offers.routes import router as offers_router
from participant.app import get_session, unit_of_work
from participant.db import make_engine, make_session_factory
from participant.operators import OperatorRegistry
from tests.support.servers import ThreadedServer

ADMIN_TOKEN = "admin-token-0123456789abcdef"
OPERATOR_TOKEN = "operator-token-0123456789abcdef"
VIEWER_TOKEN = "viewer-token-0123456789abcdef"

OPERATORS = OperatorRegistry.from_entries(
    [
        {"name": "grid-admin", "role": "admin", "token": ADMIN_TOKEN},
        {"name": "control-room", "role": "OPERATOR", "token": OPERATOR_TOKEN},
        {
            "name": "auditor",
            "role": "viewer",
            "token_sha256": hashlib.sha256(VIEWER_TOKEN.encode()).hexdigest(),
        },
    ]
)


def build_app(database_url: str, operators: OperatorRegistry | None = OPERATORS) -> FastAPI:
    """The routers as a BPP mounts them, with a committed-per-request session on `database_url`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url)
        factory = make_session_factory(engine)

        async def request_session() -> AsyncIterator[AsyncSession]:
            async with unit_of_work(factory) as session:
                yield session

        app.dependency_overrides[get_session] = request_session
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    if operators is not None:
        app.state.operators = operators
    for router in (fleet_router, offers_router, capacity_router):
        app.include_router(router)
    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serve(app: FastAPI) -> Iterator[httpx.Client]:
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
