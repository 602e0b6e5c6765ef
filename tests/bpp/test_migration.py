"""The BPP revision creates exactly the tables the models describe, and can be taken back."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import bpp.capacity.models
import bpp.fleet.models
import bpp.offers.models
from participant.db import Base, make_engine
from participant.migrate import alembic_config, current, downgrade, upgrade

REVISION = "0002_bpp"
TABLES = {"bpp_ders", "bpp_offer_terms", "bpp_reservations", "bpp_grid_node_locks"}
MODEL_MODULES = (bpp.fleet.models, bpp.offers.models, bpp.capacity.models)


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and str(table.name) in TABLES


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _ours, "target_metadata": Base.metadata}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences), await connection.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_migrated_tables_match_the_models(database_url: str) -> None:
    assert TABLES <= {table for table in Base.metadata.tables if table.startswith("bpp_")}
    differences, tables = await _inspect(database_url)
    assert TABLES <= tables
    assert differences == []


async def test_the_revision_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_revision(REVISION)
    assert script is not None and script.down_revision == "0001"
    await asyncio.to_thread(upgrade, empty_database_url)
    await asyncio.to_thread(downgrade, empty_database_url, "0001")
    assert await asyncio.to_thread(current, empty_database_url) == "0001"
    _, tables = await _inspect(empty_database_url)
    assert not tables & TABLES
    await asyncio.to_thread(upgrade, empty_database_url)
    _, tables = await _inspect(empty_database_url)
    assert TABLES <= tables
