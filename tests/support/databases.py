"""Real databases for tests, created by running the Alembic migrations."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_ENV = "DEGFLEX_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """`postgresql+asyncpg://user:pass@host:port/postgres` when PostgreSQL tests are enabled."""
    return os.environ.get(POSTGRES_ENV) or None


def sqlite_url(directory: Path, name: str = "degflex") -> str:
    return f"sqlite+aiosqlite:///{directory / (name + '.db')}"


async def _create_pg_database(admin_url: str, name: str) -> None:
    import asyncpg

    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_database(admin_url: str, name: str) -> None:
    import asyncpg

    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"degflex_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_pg_database(admin_url, name))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_drop_pg_database(admin_url, name))
