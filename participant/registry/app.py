"""`degflex registry`: a small SQL-backed Beckn registry for networks on one machine and for tests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from participant.db import make_engine, make_session_factory
from participant.migrate import upgrade
from participant.registry.dependencies import RegistryState
from participant.registry.repository import RegistryRepository
from participant.registry.routes import admin, router
from participant.registry.service import RegistryError, registry_encryption_key, validity
from participant.settings import RegistrySettings
from registry_client.subscribers import Subscriber

log = logging.getLogger(__name__)


def create_registry_app(settings: RegistrySettings, *, seed: Sequence[Subscriber] = ()) -> FastAPI:
    """The registry app; its database is migrated, and `seed` upserted, when it starts (not at import)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            factory = make_session_factory(engine)
            async with factory() as session, session.begin():
                key = await registry_encryption_key(session)
                repository = RegistryRepository(session)
                for subscriber in seed:
                    valid_from, valid_until = validity(subscriber)
                    await repository.upsert(
                        subscriber, status=subscriber.status, valid_from=valid_from, valid_until=valid_until
                    )
            if seed:
                log.info("registry seeded with %d subscriptions", len(seed))
            async with httpx.AsyncClient(follow_redirects=False) as client:
                app.state.registry = RegistryState(
                    settings=settings,
                    session_factory=factory,
                    client=client,
                    encryption_private_key=key.private_key,
                    encryption_public_key=key.public_key,
                )
                yield
        finally:
            await engine.dispose()

    app = FastAPI(title="degflex registry", lifespan=lifespan)
    app.include_router(router)
    app.include_router(admin)

    @app.exception_handler(RegistryError)
    async def refused(request: Request, exc: RegistryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)

    return app
