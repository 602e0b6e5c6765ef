"""Fixtures for registry_client: the published signing vectors and a registry stand-in over real HTTP."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from tests.support.servers import ThreadedServer


def shared_dir() -> Path | None:
    """The repository's shared reference data (`../shared`), or None when this checkout has none."""
    try:
        conformance: Any = importlib.import_module("tests.support.conformance")
    except ModuleNotFoundError:
        conformance = None
    if conformance is not None and hasattr(conformance, "shared_dir"):
        found = conformance.shared_dir()
        return Path(found) if found is not None else None
    configured = os.environ.get("DEGFLEX_SHARED")
    path = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    shared = shared_dir()
    path = shared / "beckn" / "spec" / "signing-vectors.json" if shared else None
    if path is None or not path.is_file():
        pytest.skip("signing vectors need the shared reference data (../shared or DEGFLEX_SHARED)")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class FakeClock:
    """Monotonic seconds and wall-clock UTC that move only when a test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.wall = datetime.now(UTC).replace(microsecond=0)

    def monotonic(self) -> float:
        return self.seconds

    def utcnow(self) -> datetime:
        return self.wall

    def unix(self) -> float:
        return self.wall.timestamp()

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class RegistryState:
    """What the stand-in registry holds and what it was asked; tests change it between calls."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    subscribe_requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with_status: int | None = None
    answer_garbage: bool = False

    def reset(self) -> None:
        self.entries.clear()
        self.requests.clear()
        self.subscribe_requests.clear()
        self.fail_with_status = None
        self.answer_garbage = False


def _selected(entry: dict[str, Any], query: dict[str, Any]) -> bool:
    """Filter like a deployed registry: on the names it knows, in its own spelling."""
    key_id = query.get("unique_key_id") or query.get("key_id")
    entry_key = entry.get("unique_key_id") or entry.get("key_id") or entry.get("ukId")
    checks = [
        ("subscriber_id" not in query or entry.get("subscriber_id") == query["subscriber_id"]),
        (key_id is None or entry_key == key_id),
        ("type" not in query or str(entry.get("type", "")).upper() == query["type"]),
        ("domain" not in query or entry.get("domain") == query["domain"]),
    ]
    return all(checks)


def registry_app(state: RegistryState) -> FastAPI:
    app = FastAPI()

    @app.post("/lookup")
    async def lookup(request: Request) -> Response:
        query = json.loads(await request.body())
        state.requests.append(query)
        if state.fail_with_status is not None:
            return Response("registry trouble", status_code=state.fail_with_status)
        if state.answer_garbage:
            return Response("<html>not json</html>", media_type="text/html")
        found = [entry for entry in state.entries if _selected(entry, query)]
        return Response(json.dumps(found), media_type="application/json")

    @app.post("/subscribe")
    async def subscribe(request: Request) -> Response:
        body = json.loads(await request.body())
        state.subscribe_requests.append(body)
        if state.fail_with_status is not None:
            return Response('{"error":"no"}', status_code=state.fail_with_status)
        if state.answer_garbage:
            return Response('{"message":"ok"}', media_type="application/json")
        return Response('{"status":"UNDER_SUBSCRIPTION"}', media_type="application/json")

    return app


@dataclass
class RegistryStandIn:
    url: str
    state: RegistryState


@pytest.fixture(scope="session")
def _registry_server() -> Iterator[RegistryStandIn]:
    state = RegistryState()
    with ThreadedServer(registry_app(state)) as server:
        yield RegistryStandIn(url=server.url, state=state)


@pytest.fixture
def registry(_registry_server: RegistryStandIn) -> Iterator[RegistryStandIn]:
    """A real HTTP registry on a free 127.0.0.1 port, emptied for each test."""
    _registry_server.state.reset()
    yield _registry_server
    _registry_server.state.reset()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
