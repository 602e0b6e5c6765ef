"""Dispatch tests run on the migrated databases (SQLite, and PostgreSQL when configured) and, where
devices take part, on a real nats-server of their own with per-aggregator credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import make_engine, make_session_factory

# The devices tests' NATS fixtures, shared rather than copied.
from tests.devices.conftest import aggregator, nats_harness  # noqa: F401


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()
