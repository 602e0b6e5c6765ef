"""The participant app: Beckn endpoints, /on_subscribe, /health, /metrics, and the workers behind them.

Everything with I/O (engine, HTTP client, key store, outbox worker, inbox) is created in the lifespan,
never at import or app creation, so several participants can live in one process (as in the tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from participant.db import make_engine, make_session_factory, session_scope
from participant.health import health_router
from participant.inbound import (
    ActionHandler,
    InboundPipeline,
    InboundPolicy,
    InboxDispatcher,
    build_beckn_router,
)
from participant.metrics import Metrics, metrics_router
from participant.migrate import upgrade
from participant.outbound import OutboundSender
from participant.outbox import OutboxWorker
from participant.role import Role
from participant.settings import ParticipantSettings
from registry_client.errors import LookupFailed
from registry_client.keys import load_signing_key
from registry_client.lookup import (
    ChainedSource,
    HttpRegistry,
    KeyStore,
    StaticRegistry,
    SubscriberSource,
    SubscriberType,
)
from registry_client.signing import BecknAuth
from registry_client.subscribe import on_subscribe_router
from registry_client.verifier import RequestVerifier
from schemas.core_v1 import Action

__all__ = [
    "ParticipantRuntime",
    "Role",
    "RuntimeDep",
    "SessionDep",
    "create_participant_app",
    "open_runtime",
    "unit_of_work",
]

log = logging.getLogger(__name__)

HandlerFactory = Callable[["ParticipantRuntime"], Mapping[Action, ActionHandler]]


@dataclass
class ParticipantRuntime:
    """What a running participant is made of; handlers get it to reach storage, peers and the outbox.

    `handlers`, `inbox` and `pipeline` are filled in after the handler factory has seen the rest.
    """

    settings: ParticipantSettings
    role: Role
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    keystore: KeyStore
    verifier: RequestVerifier
    outbox: OutboxWorker
    metrics: Metrics
    sender: OutboundSender
    handlers: Mapping[Action, ActionHandler] = field(init=False)
    inbox: InboxDispatcher = field(init=False)
    pipeline: InboundPipeline = field(init=False)


def subscriber_source(settings: ParticipantSettings, http: httpx.AsyncClient) -> SubscriberSource:
    """The static file first (operator-vouched keys), then the registry."""
    sources: list[SubscriberSource] = []
    if settings.registry_file is not None:
        sources.append(StaticRegistry.from_file(settings.registry_file))
    if settings.registry_url is not None:
        sources.append(HttpRegistry(settings.registry_url, http, timeout=settings.http_timeout_seconds))
    return sources[0] if len(sources) == 1 else ChainedSource(sources)


@asynccontextmanager
async def open_runtime(
    settings: ParticipantSettings, role: Role, handlers: HandlerFactory, *, metrics: Metrics | None = None
) -> AsyncIterator[ParticipantRuntime]:
    """Migrate, build and start a participant's parts; stop them in reverse order on the way out."""
    await asyncio.to_thread(upgrade, settings.database_url)
    engine = make_engine(settings.database_url)
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds, follow_redirects=False)
    try:
        session_factory = make_session_factory(engine)
        keystore = KeyStore(
            subscriber_source(settings, http),
            ttl=settings.key_cache_seconds,
            negative_ttl=settings.negative_cache_seconds,
        )
        metrics = metrics or Metrics()
        outbox = OutboxWorker(
            session_factory,
            http,
            BecknAuth(
                load_signing_key(settings.signing_private_key.get_secret_value()),
                settings.subscriber_id,
                settings.unique_key_id,
                validity=settings.signature_validity_seconds,
            ),
            poll_seconds=settings.outbox_poll_seconds,
            batch_size=settings.outbox_batch_size,
            backoff_base=settings.outbox_backoff_base_seconds,
            backoff_max=settings.outbox_backoff_max_seconds,
            lease_seconds=settings.outbox_lease_seconds,
            on_outcome=metrics.on_outcome,
        )
        runtime = ParticipantRuntime(
            settings=settings,
            role=role,
            engine=engine,
            session_factory=session_factory,
            http=http,
            keystore=keystore,
            verifier=RequestVerifier(keystore, skew=settings.clock_skew_seconds),
            outbox=outbox,
            metrics=metrics,
            sender=OutboundSender(settings, keystore, wake=outbox.wake),
        )
        runtime.handlers = handlers(runtime)
        runtime.inbox = InboxDispatcher(session_factory, runtime.handlers, keystore)
        runtime.pipeline = InboundPipeline(
            policy=InboundPolicy.from_settings(settings),
            verifier=runtime.verifier,
            session_factory=session_factory,
            handlers=runtime.handlers,
            inbox=runtime.inbox,
            metrics=metrics,
        )
        await outbox.start()
        try:
            await runtime.inbox.resume()
            yield runtime
        finally:
            await runtime.inbox.stop()
            await outbox.stop()
    finally:
        await http.aclose()
        await engine.dispose()


def get_runtime(request: Request) -> ParticipantRuntime:
    runtime: ParticipantRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ParticipantRuntime, Depends(get_runtime)]


unit_of_work = asynccontextmanager(session_scope)
"""`async with unit_of_work(runtime.session_factory) as session:` commits on success, rolls back on error."""


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the endpoint returns, before the answer is sent."""
    async with unit_of_work(runtime.session_factory) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def create_participant_app(
    settings: ParticipantSettings,
    *,
    role: Role,
    handlers: HandlerFactory,
    routers: Sequence[APIRouter] = (),
    title: str | None = None,
) -> FastAPI:
    """A BAP or BPP: the Beckn actions `role` receives at the root, plus the operator `routers`."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, role, handlers, metrics=metrics) as runtime:
            app.state.runtime = runtime
            log.info("%s %s ready at %s", role.value, settings.subscriber_id, settings.subscriber_url)
            yield

    app = FastAPI(title=title or f"degflex {role.value} {settings.subscriber_id}", lifespan=lifespan)
    app.include_router(build_beckn_router(role.receives, lambda request: get_runtime(request).pipeline))
    if settings.encryption_private_key is not None:
        app.include_router(
            on_subscribe_router(
                encryption_private_key_b64=settings.encryption_private_key.get_secret_value(),
                registry_public_key=lambda: registry_encryption_key(app),
            ),
            tags=["registry"],
        )
    app.include_router(health_router(role, settings.subscriber_id, get_runtime))
    app.include_router(metrics_router(metrics))
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


async def registry_encryption_key(app: FastAPI) -> str:
    """The registry's X25519 key for the /on_subscribe challenge: its BREG entry, else what
    `degflex registry` publishes at its root."""
    runtime: ParticipantRuntime = app.state.runtime
    settings = runtime.settings
    for entry in await runtime.keystore.find(SubscriberType.BREG, settings.domain):
        if entry.encryption_public_key:
            return entry.encryption_public_key
    if settings.registry_url is not None:
        try:
            response = await runtime.http.get(settings.registry_url + "/")
            key = response.json().get("encryption_public_key") if response.is_success else None
        except (httpx.HTTPError, ValueError, AttributeError):
            key = None
        if isinstance(key, str) and key:
            return key
    raise LookupFailed("the registry's encryption public key is not published")


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(error.get("loc", ())), "msg": str(error.get("msg", ""))} for error in exc.errors()]
    return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error; see the participant's log"}, status_code=500)
