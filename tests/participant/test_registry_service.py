"""`degflex registry` on a real port: admin API, lookup in every spelling, subscribe with a real challenge."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from participant.registry import create_registry_app
from participant.settings import RegistrySettings
from registry_client.errors import KeyNotSubscribed
from registry_client.keys import Identity, generate_identity
from registry_client.lookup import HttpRegistry, KeyStore, LookupQuery, SubscriberStatus, parse_subscribers
from registry_client.signing import BecknAuth
from registry_client.subscribe import on_subscribe_router, subscribe, subscription_payload
from registry_client.subscribers import SubscriberType
from tests.support.servers import REPO_ROOT, ProcessServer, ThreadedServer, free_port

ADMIN_TOKEN = "registry-admin-token-for-tests"
DOMAIN = "deg:demand-flex"


def subscription(
    identity: Identity, *, url: str = "https://bpp.example/beckn", **extra: Any
) -> dict[str, Any]:
    """A subscription in the deployed registries' spelling (subscriber_url, unique_key_id)."""
    return {
        "subscriber_id": identity.subscriber_id,
        "unique_key_id": identity.unique_key_id,
        "subscriber_url": url,
        "type": "BPP",
        "domain": DOMAIN,
        "signing_public_key": identity.signing_public_key,
        "encr_public_key": identity.encryption_public_key,
        "city": "std:080",
        "country": "IND",
        **extra,
    }


def start_registry(database_url: str, **settings: Any) -> ThreadedServer:
    options: dict[str, Any] = {
        "database_url": database_url,
        "admin_token": SecretStr(ADMIN_TOKEN),
        **settings,
    }
    return ThreadedServer(create_registry_app(RegistrySettings(**options))).start()


@pytest.fixture
def registry(database_url: str) -> Iterator[str]:
    server = start_registry(database_url)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def admin_headers(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def lookup(http: httpx.AsyncClient, registry: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    response = await http.post(f"{registry}/lookup", json=query)
    assert response.status_code == 200, response.text
    answer: list[dict[str, Any]] = response.json()
    return answer


async def eventually_status(
    http: httpx.AsyncClient, registry: str, identity: Identity, wanted: str, *, timeout: float = 15.0
) -> dict[str, Any]:
    """Poll the admin list until the subscription reaches `wanted`; fail with its last state."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await http.get(f"{registry}/admin/subscribers", headers=admin_headers())
        rows = [row for row in response.json() if row["subscriber_id"] == identity.subscriber_id]
        if rows and rows[0]["status"] == wanted:
            return dict(rows[0])
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"subscription never became {wanted}: {rows}")
        await asyncio.sleep(0.02)


# -- admin API and lookup ----------------------------------------------------------------------------


async def test_admin_upsert_lookup_in_every_spelling_then_revoke(
    registry: str, http: httpx.AsyncClient
) -> None:
    bpp = generate_identity("bpp.example")
    other = generate_identity("bap.example")
    created = await http.post(
        f"{registry}/admin/subscribers", json=subscription(bpp), headers=admin_headers()
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "SUBSCRIBED"
    bap = {**subscription(other, url="https://bap.example/beckn"), "type": "BAP"}
    assert (
        await http.post(f"{registry}/admin/subscribers", json=bap, headers=admin_headers())
    ).status_code == 201

    for key_field in ("key_id", "unique_key_id", "ukId"):
        found = await lookup(http, registry, {"subscriber_id": "bpp.example", key_field: bpp.unique_key_id})
        assert len(found) == 1, key_field
        entry = found[0]
        assert entry["url"] == entry["subscriber_url"] == "https://bpp.example/beckn"
        assert entry["key_id"] == entry["unique_key_id"] == bpp.unique_key_id
        assert entry["encr_public_key"] == entry["encryption_public_key"] == bpp.encryption_public_key
        assert entry["signing_public_key"] == bpp.signing_public_key
        assert (entry["type"], entry["domain"], entry["status"]) == ("BPP", DOMAIN, "SUBSCRIBED")
        assert entry["valid_from"] < entry["valid_until"]
        assert entry["created"] and entry["updated"]
    (parsed,) = parse_subscribers(found)
    assert parsed.is_usable()

    assert [e["subscriber_id"] for e in await lookup(http, registry, {"type": "BAP"})] == ["bap.example"]
    assert len(await lookup(http, registry, {"domain": DOMAIN})) == 2
    assert await lookup(http, registry, {"domain": "other:domain"}) == []
    assert len(await lookup(http, registry, {"city": "std:080", "country": "IND"})) == 2
    assert await lookup(http, registry, {"location": {"city": {"code": "std:011"}}}) == []
    assert len(await lookup(http, registry, {})) == 2
    assert await lookup(http, registry, {"subscriber_id": "bpp.example", "key_id": "no-such-key"}) == []

    revoked = await http.patch(
        f"{registry}/admin/subscribers/bpp.example/{bpp.unique_key_id}",
        json={"status": "UNSUBSCRIBED"},
        headers=admin_headers(),
    )
    assert revoked.status_code == 200, revoked.text
    (after,) = await lookup(http, registry, {"subscriber_id": "bpp.example", "ukId": bpp.unique_key_id})
    assert after["status"] == "UNSUBSCRIBED"


async def test_a_participant_key_store_sees_the_revocation(registry: str, http: httpx.AsyncClient) -> None:
    """registry_client's own lookup client, end to end: trusted while SUBSCRIBED, refused once revoked."""
    bpp = generate_identity("bpp.example")
    await http.post(f"{registry}/admin/subscribers", json=subscription(bpp), headers=admin_headers())
    keys = KeyStore(HttpRegistry(registry, http), ttl=0.0)

    subscriber = await keys.get("bpp.example", bpp.unique_key_id)
    assert subscriber.url == "https://bpp.example/beckn" and subscriber.type is SubscriberType.BPP
    assert [
        s.subscriber_id for s in await HttpRegistry(registry, http).lookup(LookupQuery(domain=DOMAIN))
    ] == ["bpp.example"]

    await http.patch(
        f"{registry}/admin/subscribers/bpp.example/{bpp.unique_key_id}",
        json={"status": "unsubscribed"},
        headers=admin_headers(),
    )
    with pytest.raises(KeyNotSubscribed):
        await keys.get("bpp.example", bpp.unique_key_id, refresh=True)


async def test_admin_patch_list_and_delete(registry: str, http: httpx.AsyncClient) -> None:
    bpp = generate_identity("bpp.example")
    await http.post(f"{registry}/admin/subscribers", json=subscription(bpp), headers=admin_headers())
    path = f"{registry}/admin/subscribers/bpp.example/{bpp.unique_key_id}"

    moved = await http.patch(
        path,
        json={"url": "https://new.example/beckn/", "valid_until": "2030-01-01T00:00:00Z"},
        headers=admin_headers(),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["url"] == "https://new.example/beckn"
    assert moved.json()["valid_until"].startswith("2030-01-01T00:00:00")
    listed = await http.get(f"{registry}/admin/subscribers", headers=admin_headers())
    assert [row["url"] for row in listed.json()] == ["https://new.example/beckn"]

    assert (await http.delete(path, headers=admin_headers())).status_code == 204
    assert (await http.delete(path, headers=admin_headers())).status_code == 404
    missing = await http.patch(path, json={"status": "SUBSCRIBED"}, headers=admin_headers())
    assert missing.status_code == 404 and "no subscription" in missing.json()["detail"]
    assert await lookup(http, registry, {}) == []


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_the_admin_api_refuses_a_missing_or_wrong_token(
    token: str | None, registry: str, http: httpx.AsyncClient
) -> None:
    headers = admin_headers(token) if token else {}
    bpp = generate_identity("bpp.example")
    for method, path, body in [
        ("GET", "/admin/subscribers", None),
        ("POST", "/admin/subscribers", subscription(bpp)),
        ("PATCH", f"/admin/subscribers/bpp.example/{bpp.unique_key_id}", {"status": "SUBSCRIBED"}),
        ("DELETE", f"/admin/subscribers/bpp.example/{bpp.unique_key_id}", None),
    ]:
        response = await http.request(method, registry + path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    assert await lookup(http, registry, {}) == []


async def test_the_admin_api_is_off_without_a_configured_token(sqlite_database_url: str) -> None:
    server = start_registry(sqlite_database_url, admin_token=None)
    try:
        response = httpx.get(f"{server.url}/admin/subscribers", headers=admin_headers())
    finally:
        server.stop()
    assert response.status_code == 403
    assert "admin API is disabled" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/admin/subscribers", b"{not json", 400, "not JSON"),
        ("POST", "/admin/subscribers", b"[1, 2]", 400, "JSON object"),
        ("POST", "/admin/subscribers", b'{"subscriber_id": "x"}', 400, "not a usable subscription"),
        ("PATCH", "/admin/subscribers/a/b", b'{"status": "ALIVE"}', 422, "status"),
        ("PATCH", "/admin/subscribers/a/b", b'{"url": "ftp://x"}', 422, "http(s)"),
        ("PATCH", "/admin/subscribers/a/b", b'{"colour": "red"}', 422, "colour"),
        ("POST", "/lookup", b"nonsense", 400, "not JSON"),
        ("POST", "/lookup", b'{"type": "ROBOT"}', 400, "cannot read the lookup"),
        ("POST", "/subscribe", b'{"subscriber_id": "x"}', 400, "not a usable subscription"),
    ],
)
async def test_bad_requests_get_json_messages_never_500(
    registry: str, http: httpx.AsyncClient, method: str, path: str, body: bytes, status: int, message: str
) -> None:
    response = await http.request(
        method, registry + path, content=body, headers={**admin_headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert message in json.dumps(response.json())


async def test_a_bad_admin_subscription_is_explained(registry: str, http: httpx.AsyncClient) -> None:
    bpp = generate_identity("bpp.example")
    cases = {
        "signing public key": {**subscription(bpp), "signing_public_key": "c2hvcnQ="},
        "http(s) URL": subscription(bpp, url="bpp.example/beckn"),
        "encr_public_key": {**subscription(bpp), "encr_public_key": "not base64!"},
        "valid_until must be after": {
            **subscription(bpp),
            "valid_from": "2030-01-01T00:00:00Z",
            "valid_until": "2029-01-01T00:00:00Z",
        },
    }
    for message, body in cases.items():
        response = await http.post(f"{registry}/admin/subscribers", json=body, headers=admin_headers())
        assert response.status_code == 400, (message, response.text)
        assert message in response.json()["detail"]


# -- registry info, health, persistence of the registry's key ----------------------------------------


async def test_info_health_and_a_key_that_survives_restarts(sqlite_database_url: str) -> None:
    first = start_registry(sqlite_database_url, public_url="http://registry.example")
    try:
        info = httpx.get(first.url + "/").json()
        health = httpx.get(first.url + "/health")
    finally:
        first.stop()
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert info["url"] == "http://registry.example" and info["challenge_subscribers"] is True
    assert "/lookup" in info["endpoints"]

    second = start_registry(sqlite_database_url)
    try:
        assert httpx.get(second.url + "/").json()["encryption_public_key"] == info["encryption_public_key"]
    finally:
        second.stop()


# -- subscribe and the on_subscribe challenge --------------------------------------------------------


def subscriber_app(identity: Identity, registry_public_key: str) -> FastAPI:
    app = FastAPI()
    app.include_router(
        on_subscribe_router(
            encryption_private_key_b64=identity.encryption_private_key,
            registry_public_key=registry_public_key,
        ),
        prefix="/beckn",
    )
    return app


async def test_subscribe_challenges_the_subscriber_and_subscribes_it(
    registry: str, http: httpx.AsyncClient
) -> None:
    registry_key = (await http.get(registry + "/")).json()["encryption_public_key"]
    bpp = generate_identity("bpp.example")
    with ThreadedServer(subscriber_app(bpp, registry_key)) as subscriber:
        payload = subscription_payload(
            bpp,
            type=SubscriberType.BPP,
            url=f"{subscriber.url}/beckn",
            domain=DOMAIN,
            city="std:080",
            country="IND",
        )
        assert await subscribe(http, registry, payload) == "UNDER_SUBSCRIPTION"
        row = await eventually_status(http, registry, bpp, "SUBSCRIBED")
    assert row["challenge_error"] is None
    (found,) = parse_subscribers(await lookup(http, registry, {"subscriber_id": "bpp.example"}))
    assert found.status is SubscriberStatus.SUBSCRIBED and found.url == f"{subscriber.url}/beckn"


async def test_a_subscriber_that_cannot_answer_stays_initiated_with_the_reason(
    registry: str, http: httpx.AsyncClient
) -> None:
    registry_key = (await http.get(registry + "/")).json()["encryption_public_key"]
    bpp = generate_identity("bpp.example")
    impostor = generate_identity("bpp.example")  # claims bpp's encryption key but holds another
    with ThreadedServer(subscriber_app(impostor, registry_key)) as subscriber:
        payload = subscription_payload(
            bpp, type=SubscriberType.BPP, url=f"{subscriber.url}/beckn", domain=DOMAIN
        )
        assert await subscribe(http, registry, payload) == "UNDER_SUBSCRIPTION"
        row = await _eventually_challenged(http, registry, bpp)
    assert row["status"] == "INITIATED"
    assert "/on_subscribe answered HTTP 400" in row["challenge_error"]
    (found,) = await lookup(http, registry, {"subscriber_id": "bpp.example"})
    assert found["status"] == "INITIATED"


async def test_an_unreachable_subscriber_stays_initiated(registry: str, http: httpx.AsyncClient) -> None:
    bpp = generate_identity("bpp.example")
    payload = subscription_payload(
        bpp, type=SubscriberType.BPP, url=f"http://127.0.0.1:{free_port()}/beckn", domain=DOMAIN
    )
    assert await subscribe(http, registry, payload) == "UNDER_SUBSCRIPTION"
    row = await _eventually_challenged(http, registry, bpp)
    assert row["status"] == "INITIATED" and "could not be reached" in row["challenge_error"]


async def _eventually_challenged(
    http: httpx.AsyncClient, registry: str, identity: Identity
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        rows = (await http.get(f"{registry}/admin/subscribers", headers=admin_headers())).json()
        if rows and rows[0]["challenge_error"]:
            return dict(rows[0])
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the challenge never failed: {rows}")
        await asyncio.sleep(0.02)


async def test_a_subscribed_key_changes_only_with_its_own_signature(
    registry: str, http: httpx.AsyncClient
) -> None:
    bpp = generate_identity("bpp.example")
    await http.post(f"{registry}/admin/subscribers", json=subscription(bpp), headers=admin_headers())
    hijack = subscription_payload(
        bpp, type=SubscriberType.BPP, url="https://evil.example/beckn", domain=DOMAIN
    )

    refused = await http.post(f"{registry}/subscribe", json={**hijack, "nonce": "n-1"})
    assert refused.status_code == 401 and "sign the subscribe request" in refused.json()["detail"]
    stranger = generate_identity("bpp.example", unique_key_id=bpp.unique_key_id)
    forged = await http.post(
        f"{registry}/subscribe",
        json={**hijack, "nonce": "n-2"},
        auth=BecknAuth(stranger.signing_private_key, stranger.subscriber_id, stranger.unique_key_id),
    )
    assert forged.status_code == 401 and "does not hold" in forged.json()["detail"]
    (unchanged,) = await lookup(http, registry, {"subscriber_id": "bpp.example"})
    assert (unchanged["url"], unchanged["status"]) == ("https://bpp.example/beckn", "SUBSCRIBED")

    owner = BecknAuth(bpp.signing_private_key, bpp.subscriber_id, bpp.unique_key_id)
    moved = subscription_payload(
        bpp, type=SubscriberType.BPP, url="https://moved.example/beckn", domain=DOMAIN
    )
    assert await subscribe(http, registry, moved, auth=owner) == "UNDER_SUBSCRIPTION"
    (changed,) = await lookup(http, registry, {"subscriber_id": "bpp.example"})
    assert changed["url"] == "https://moved.example/beckn"


async def test_without_challenges_subscribe_is_immediate(
    sqlite_database_url: str, http: httpx.AsyncClient
) -> None:
    server = start_registry(sqlite_database_url, challenge_subscribers=False)
    try:
        bpp = generate_identity("bpp.example")
        payload = subscription_payload(
            bpp, type=SubscriberType.BPP, url="https://bpp.example/beckn", domain=DOMAIN
        )
        assert await subscribe(http, server.url, payload) == "UNDER_SUBSCRIPTION"
        (found,) = await lookup(http, server.url, {"subscriber_id": "bpp.example"})
    finally:
        server.stop()
    assert found["status"] == "SUBSCRIBED"


# -- the command -------------------------------------------------------------------------------------


def _degflex(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "participant.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_degflex_registry_help() -> None:
    result = _degflex("registry", "--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--database-url", "--admin-token", "--seed"):
        assert option in result.stdout
    assert "DEGFLEX_REGISTRY_" in result.stdout


def test_degflex_registry_serves_health_and_a_seeded_lookup(tmp_path: Path) -> None:
    bpp = generate_identity("bpp.example")
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([subscription(bpp)]))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "participant.cli",
        "registry",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{tmp_path / 'registry.db'}",
        "--seed",
        str(seed),
    ]
    with ProcessServer(
        command,
        url=f"http://127.0.0.1:{port}",
        env={"DEGFLEX_REGISTRY_ADMIN_TOKEN": ADMIN_TOKEN},
        log_path=tmp_path / "registry.log",
    ) as server:
        assert httpx.get(server.url + "/health").json() == {"status": "ok"}
        found = httpx.post(server.url + "/lookup", json={"subscriber_id": "bpp.example"}).json()
        listed = httpx.get(server.url + "/admin/subscribers", headers=admin_headers())
    assert [(entry["unique_key_id"], entry["status"]) for entry in found] == [
        (bpp.unique_key_id, "SUBSCRIBED")
    ]
    assert listed.status_code == 200


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--port", "99999"), {}, "port"),
        (("--database-url", "mysql://x/y"), {}, "database_url"),
        (("--seed", "/nonexistent/seed.yaml"), {}, "cannot read seed file"),
        ((), {"DEGFLEX_REGISTRY_PORT": "not-a-port"}, "port"),
    ],
)
def test_degflex_registry_explains_bad_settings_without_a_traceback(
    args: tuple[str, ...], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = _degflex("registry", "--database-url", f"sqlite:///{tmp_path / 'r.db'}", *args, env=env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_degflex_registry_refuses_a_seed_with_a_bad_entry(tmp_path: Path) -> None:
    good = subscription(generate_identity("bpp.example"))
    seed = tmp_path / "seed.yaml"
    seed.write_text(json.dumps({"subscribers": [good, {**good, "signing_public_key": "c2hvcnQ="}]}))
    result = _degflex("registry", "--database-url", f"sqlite:///{tmp_path / 'r.db'}", "--seed", str(seed))
    assert result.returncode == 1
    assert "entry 1" in result.stderr and "Traceback" not in result.stderr
