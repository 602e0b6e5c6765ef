"""Revision 0003_bpp_orders creates exactly the order tables the models describe, and can be taken back."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import bpp.orders.models
from participant.db import Base, make_engine
from participant.migrate import alembic_config, downgrade, upgrade

REVISION = "0003_bpp_orders"
TABLES = {"bpp_orders", "bpp_order_events", "bpp_dispatch_queue"}


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and str(table.name) in TABLES


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _ours, "target_metadata": Base.metadata}
    )
    return list(compare_metadata(context, Base.metadata))


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            return differences, tables
    finally:
        await engine.dispose()


async def test_the_order_tables_match_the_models(database_url: str) -> None:
    assert {bpp.orders.models.Order.__tablename__} <= TABLES
    differences, tables = await _inspect(database_url)
    assert TABLES <= tables
    assert differences == []


async def test_the_revision_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_revision(REVISION)
    assert script is not None and script.down_revision == "0002_bpp"
    await asyncio.to_thread(upgrade, empty_database_url, REVISION)

    await asyncio.to_thread(downgrade, empty_database_url, "0002_bpp")
    _, tables = await _inspect(empty_database_url)
    assert not TABLES & tables and "bpp_reservations" in tables

    await asyncio.to_thread(upgrade, empty_database_url, REVISION)
    differences, tables = await _inspect(empty_database_url)
    assert TABLES <= tables and differences == []
