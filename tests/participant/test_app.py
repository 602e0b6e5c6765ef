"""The participant app around the pipeline: health, metrics, docs, /on_subscribe, operator routes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.app import ParticipantRuntime, Role, SessionDep, create_participant_app
from participant.db import make_engine, make_session_factory
from participant.health import health_router
from participant.inbound import ActionHandler, BaseActionHandler
from participant.messagelog import MessageLogRepository
from registry_client.lookup import SubscriberType
from registry_client.subscribe import subscribe, subscription_payload
from schemas.core_v1 import Action
from tests.support.network import (
    DOMAIN,
    Member,
    new_member,
    outbound,
    register,
    registry_server,
    request_body,
    signed_headers,
)
from tests.support.servers import ThreadedServer, wait_until


def accept_everything(runtime: ParticipantRuntime) -> Mapping[Action, ActionHandler]:
    return {action: BaseActionHandler() for action in Role.BPP.receives}


def operator_routes() -> APIRouter:
    """Routes the way bap/ and bpp/ write them: a SessionDep unit of work per request."""
    router = APIRouter(prefix="/api")

    async def note(session: AsyncSession, action: str) -> None:
        await MessageLogRepository(session).record_outbound(
            action=action,
            body=b"{}",
            headers={},
            url="http://nowhere.test",
            counterparty="test",
            transaction_id=None,
            message_id=None,
            bap_id=None,
            bpp_id=None,
        )

    @router.post("/notes")
    async def add_note(session: SessionDep) -> dict[str, str]:
        await note(session, "note-kept")
        return {"status": "ok"}

    @router.post("/broken")
    async def broken(session: SessionDep) -> dict[str, str]:
        await note(session, "note-rolled-back")
        raise RuntimeError("secret detail of a bug")

    @router.get("/count")
    async def count(limit: int) -> dict[str, int]:
        return {"limit": limit}

    return router


@dataclass
class Running:
    bap: Member
    bpp: Member
    registry_url: str
    app: FastAPI


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    directory: Path = tmp_path_factory.mktemp("app")
    bap, bpp = new_member(directory, "utility.bap"), new_member(directory, "aggregator.bpp")
    with registry_server(directory, challenge=True) as registry:
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        app = create_participant_app(
            bpp.settings(registry.url), role=Role.BPP, handlers=accept_everything, routers=[operator_routes()]
        )
        with ThreadedServer(app, port=bpp.port):
            yield Running(bap, bpp, registry.url, app)


def test_health_names_the_participant_and_checks_its_database(running: Running) -> None:
    response = httpx.get(f"{running.bpp.url}/health")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ok",
        "role": "BPP",
        "subscriber_id": "aggregator.bpp",
        "version": body["version"],
        "database": "ok",
    }


def test_health_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    @dataclass
    class Unreachable:
        session_factory: async_sessionmaker[AsyncSession]

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-such-directory' / 'db.sqlite'}")
    unreachable = Unreachable(make_session_factory(engine))
    app = FastAPI()
    app.include_router(health_router(Role.BAP, "utility.bap", lambda request: unreachable))

    with ThreadedServer(app) as server:
        response = httpx.get(f"{server.url}/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable: OperationalError"


def test_metrics_count_acks_and_nacks_by_action_and_verdict(running: Running) -> None:
    body = request_body(Action.SEARCH, bap=running.bap)
    assert httpx.post(
        f"{running.bpp.url}/search", content=body, headers=signed_headers(body, running.bap.identity)
    )
    httpx.post(f"{running.bpp.url}/search", content=body, headers={"Content-Type": "application/json"})

    text = httpx.get(f"{running.bpp.url}/metrics").text
    assert 'degflex_messages_in_total{action="search",verdict="ack"} 1.0' in text
    assert 'degflex_messages_in_total{action="search",verdict="missing signature"} 1.0' in text
    assert 'degflex_inbound_seconds_count{action="search"} 2.0' in text


def test_each_app_has_its_own_metrics(running: Running, tmp_path: Path) -> None:
    other = create_participant_app(
        new_member(tmp_path, "x.bpp").settings(running.registry_url),
        role=Role.BPP,
        handlers=accept_everything,
    )
    with ThreadedServer(other) as server:
        text = httpx.get(f"{server.url}/metrics").text
    assert "degflex_messages_in_total" in text
    assert 'verdict="ack"' not in text


def test_openapi_documents_the_beckn_endpoints_of_the_role(running: Running) -> None:
    paths = httpx.get(f"{running.bpp.url}/openapi.json").json()["paths"]

    assert {"/search", "/select", "/init", "/confirm", "/status", "/update", "/cancel", "/track"} <= set(
        paths
    )
    assert "/on_search" not in paths
    assert httpx.get(f"{running.bpp.url}/docs").status_code == 200


def test_the_registry_challenge_is_answered_at_on_subscribe(running: Running) -> None:
    """`degflex registry` with challenges on: subscribing makes it call our /on_subscribe."""
    bpp = running.bpp
    payload = subscription_payload(bpp.identity, type=SubscriberType.BPP, url=bpp.url, domain=DOMAIN)

    async def subscribe_now() -> str:
        async with httpx.AsyncClient() as client:
            return await subscribe(client, running.registry_url, payload)

    asyncio.run(subscribe_now())

    def status() -> str:
        found = httpx.post(f"{running.registry_url}/lookup", json={"subscriber_id": bpp.subscriber_id}).json()
        return str(found[0]["status"]) if found else "absent"

    wait_until(lambda: status() == "SUBSCRIBED", what="the registry to mark the BPP SUBSCRIBED")


def test_an_operator_route_commits_its_session_on_success(running: Running) -> None:
    assert httpx.post(f"{running.bpp.url}/api/notes").json() == {"status": "ok"}
    assert len(outbound(running.bpp.database_url, action="note-kept")) == 1


def test_an_operator_route_that_fails_rolls_back_and_answers_without_a_traceback(running: Running) -> None:
    response = httpx.post(f"{running.bpp.url}/api/broken")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; see the participant's log"}
    assert outbound(running.bpp.database_url, action="note-rolled-back") == []


def test_an_invalid_operator_request_is_a_422_with_a_message(running: Running) -> None:
    response = httpx.get(f"{running.bpp.url}/api/count", params={"limit": "many"})

    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "invalid request"
    assert body["errors"][0]["loc"] == ["query", "limit"]
