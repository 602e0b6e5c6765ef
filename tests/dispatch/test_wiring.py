"""How dispatch is set up in `degflex bpp`: its settings, the checks made before starting, the revision that
creates its tables, and a BPP without NATS that says it will not dispatch."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bpp.app import check_configuration, create_bpp_app
from bpp.dispatch import models  # noqa: F401 - registers the tables compared below
from participant.db import Base, make_engine
from participant.errors import ConfigurationError
from participant.migrate import alembic_config, current, downgrade, upgrade
from tests.dispatch.factories import settings
from tests.support.servers import ThreadedServer

TABLES = {
    "bpp_dispatch_plans",
    "bpp_device_commands",
    "bpp_command_acks",
    "bpp_device_readings",
    "bpp_order_devices",
    "bpp_device_participation",
}


def test_dispatch_settings_and_their_defaults(tmp_path: Path) -> None:
    bpp = settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", report_interval=timedelta(minutes=1))
    policy = bpp.dispatch_policy
    assert bpp.aggregator == "aggregator-bpp"  # subscriber_id made into one NATS subject token
    assert bpp.nats_servers == []
    assert (policy.metering_interval, policy.report_interval) == (timedelta(minutes=1), timedelta(minutes=1))
    assert policy.opt_out_headroom == Decimal("0.2") and policy.settle_grace == timedelta(minutes=2)
    several = settings(
        "sqlite+aiosqlite:///x.db", nats_url="nats://a:4222, nats://b:4222", nats_aggregator="agg-7"
    )
    assert (several.nats_servers, several.aggregator) == (["nats://a:4222", "nats://b:4222"], "agg-7")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"metering_interval": timedelta(minutes=7)}, "metering_interval must divide a day"),
        ({"ack_timeout": timedelta(0)}, "ack_timeout and report_interval must be positive"),
        ({"opt_out_headroom": "1.5"}, "less than or equal to 1"),
        ({"nats_aggregator": "agg.with.dots"}, "is not an aggregator id"),
    ],
)
def test_settings_that_cannot_work_are_refused(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        settings("sqlite+aiosqlite:///x.db", **overrides)


def test_nats_credentials_are_checked_before_starting(tmp_path: Path) -> None:
    both = settings(
        "sqlite+aiosqlite:///x.db",
        nats_url="nats://n:4222",
        nats_user="bpp",
        nats_password="pw",
        nats_nkey_seed="SUAB",
    )
    with pytest.raises(ConfigurationError, match="NATS credentials: give one of"):
        check_configuration(both)
    missing = settings(
        "sqlite+aiosqlite:///x.db", nats_url="nats://n:4222", nats_nkey_seed_file=tmp_path / "none.nk"
    )
    with pytest.raises(ConfigurationError, match="nkey seed file .* does not exist"):
        check_configuration(missing)
    check_configuration(settings("sqlite+aiosqlite:///x.db"))  # no NATS at all is a valid BPP


def test_a_bpp_without_nats_takes_orders_and_says_it_will_not_dispatch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_bpp_app(settings(f"sqlite+aiosqlite:///{tmp_path / 'bpp.db'}"))
    with caplog.at_level(logging.WARNING, logger="bpp.dispatch.tasks"), ThreadedServer(app) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert app.state.dispatcher is None
    assert any("does not dispatch" in record.getMessage() for record in caplog.records)


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and str(table.name) in TABLES


def _differences(connection: Connection) -> tuple[list[Any], set[str]]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _ours, "target_metadata": Base.metadata}
    )
    return list(compare_metadata(context, Base.metadata)), set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


async def test_the_revision_creates_the_tables_the_models_describe_and_goes_back(
    empty_database_url: str,
) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_revision("0005_dispatch")
    assert script is not None and script.down_revision == "0004_bap"
    await asyncio.to_thread(upgrade, empty_database_url)
    differences, tables = await _inspect(empty_database_url)
    assert TABLES <= tables and differences == []
    await asyncio.to_thread(downgrade, empty_database_url, "0004_bap")
    assert await asyncio.to_thread(current, empty_database_url) == "0004_bap"
    assert not (await _inspect(empty_database_url))[1] & TABLES
    await asyncio.to_thread(upgrade, empty_database_url)
    assert TABLES <= (await _inspect(empty_database_url))[1]
