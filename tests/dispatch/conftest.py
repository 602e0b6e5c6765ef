"""Dispatch tests run on the migrated databases (SQLite, and PostgreSQL when configured) and, where
devices take part, on a real nats-server of their own with per-aggregator credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.credentials import CredentialStore, Role, authorization_block
from participant.db import make_engine, make_session_factory
from tests.devices.conftest import Aggregator, NatsHarness, start_server


@pytest.fixture(scope="session")
def nats_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsHarness]:
    boot = CredentialStore("boot")
    boot.issue(Role.SERVICE, "bpp")
    server = start_server(tmp_path_factory.mktemp("nats"), authorization_block([boot]))
    try:
        harness = NatsHarness(server)
        harness.stores.append(boot)
        yield harness
    finally:
        server.stop()


@pytest.fixture
def aggregator(nats_harness: NatsHarness) -> Callable[..., Aggregator]:
    return nats_harness.aggregator


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()
