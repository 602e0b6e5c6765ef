"""`degflex registry` endpoints: public lookup and subscribe, an admin API, and a health check."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from participant.registry.dependencies import AdminDep, SessionDep, StateDep
from participant.registry.repository import RegistryRepository
from participant.registry.schemas import (
    RegistryInfo,
    SubscribeAccepted,
    SubscriptionPatch,
    admin_view,
    subscription_view,
)
from participant.registry.service import (
    InvalidSubscription,
    change_subscription,
    request_subscription,
    upsert_subscription,
)
from participant.registry.tasks import challenge_subscriber
from registry_client.subscribers import LookupQuery

router = APIRouter()
admin = APIRouter(prefix="/admin", dependencies=[AdminDep])


async def _json_body(request: Request, *, empty: object = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidSubscription(f"the body is not JSON: {exc}") from None


@router.get("/")
async def info(state: StateDep) -> RegistryInfo:
    return RegistryInfo(
        url=state.settings.public_url,
        encryption_public_key=state.encryption_public_key,
        challenge_subscribers=state.settings.challenge_subscribers,
        endpoints=["/lookup", "/subscribe", "/health", "/admin/subscribers"],
    )


@router.get("/health")
async def health(state: StateDep) -> JSONResponse:
    try:
        async with state.session_factory() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return JSONResponse({"status": "unavailable", "detail": f"database: {type(exc).__name__}"}, 503)
    return JSONResponse({"status": "ok"})


@router.post("/lookup")
async def lookup(request: Request, session: SessionDep) -> list[dict[str, Any]]:
    """Every subscription matching the filter, whatever its status: clients decide what they trust."""
    payload = await _json_body(request, empty={})
    if not isinstance(payload, dict):
        raise InvalidSubscription("the lookup body must be a JSON object")
    try:
        query = LookupQuery.from_payload(payload)
    except ValueError as exc:
        raise InvalidSubscription(f"cannot read the lookup: {exc}") from None
    return [subscription_view(row) for row in await RegistryRepository(session).lookup(query)]


@router.post("/subscribe")
async def subscribe(
    request: Request,
    session: SessionDep,
    state: StateDep,
    background: BackgroundTasks,
    authorization: Annotated[str | None, Header()] = None,
) -> SubscribeAccepted:
    body = await request.body()
    payload = await _json_body(request)
    if not isinstance(payload, dict):
        raise InvalidSubscription("the body must be a JSON object (a Subscription with a nonce)")
    challenge = state.settings.challenge_subscribers
    row = await request_subscription(
        session, payload, body=body, authorization=authorization, challenge=challenge
    )
    if challenge:
        background.add_task(challenge_subscriber, state, row.subscriber_id, row.unique_key_id, row.nonce)
    return SubscribeAccepted()


@admin.get("/subscribers")
async def list_subscribers(session: SessionDep) -> list[dict[str, Any]]:
    return [admin_view(row) for row in await RegistryRepository(session).all()]


@admin.post("/subscribers", status_code=201)
async def put_subscriber(request: Request, session: SessionDep) -> dict[str, Any]:
    """Upsert one subscription as given (SUBSCRIBED unless it says otherwise)."""
    return admin_view(await upsert_subscription(session, await _json_body(request)))


@admin.patch("/subscribers/{subscriber_id}/{unique_key_id}")
async def patch_subscriber(
    subscriber_id: str, unique_key_id: str, patch: SubscriptionPatch, session: SessionDep
) -> Response:
    row = await change_subscription(session, subscriber_id, unique_key_id, patch.changes())
    if row is None:
        return _not_found(subscriber_id, unique_key_id)
    return JSONResponse(admin_view(row))


@admin.delete("/subscribers/{subscriber_id}/{unique_key_id}", status_code=204)
async def delete_subscriber(subscriber_id: str, unique_key_id: str, session: SessionDep) -> Response:
    if not await RegistryRepository(session).delete(subscriber_id, unique_key_id):
        return _not_found(subscriber_id, unique_key_id)
    return Response(status_code=204)


def _not_found(subscriber_id: str, unique_key_id: str) -> JSONResponse:
    return JSONResponse({"detail": f"no subscription {subscriber_id}|{unique_key_id}"}, status_code=404)
