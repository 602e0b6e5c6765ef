"""Alembic environment: runs every migration on degflex's own async engine (SQLite or PostgreSQL).

Called two ways: by `participant.migrate` (which hands over a live connection in
`config.attributes["connection"]`), or by the `alembic` command from the repository root (alembic.ini),
in which case the database URL comes from `sqlalchemy.url` or the DEGFLEX_DATABASE_URL environment variable.
"""

from __future__ import annotations

import asyncio
import logging.config
import os
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from migrations import target_metadata
from participant.db import UTCDateTime, make_engine

config = context.config
metadata = target_metadata()


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Revisions spell column types in plain SQLAlchemy, so they never import application code."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, sa.Enum) and not obj.native_enum:
        return f"sa.String(length={obj.length})"
    return False


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )


def run_on(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("DEGFLEX_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or DEGFLEX_DATABASE_URL")
    return str(url)


async def run_with_own_engine() -> None:
    engine = make_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if config.config_file_name is not None:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
elif isinstance(shared := config.attributes.get("connection"), Connection):
    run_on(shared)
else:
    asyncio.run(run_with_own_engine())
