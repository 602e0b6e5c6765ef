"""The Alembic history builds the schema the models describe, both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.engine import Connection

from migrations import target_metadata
from participant.db import make_engine
from participant.migrate import MigrationError, current, downgrade, head, normalize_database_url, upgrade
from tests.support.servers import REPO_ROOT

OUR_TABLES = {"beckn_messages", "outbox", "outbox_attempts", "registry_subscribers", "registry_keys"}


def _on_connection(url: str, work: Any) -> Any:
    async def run() -> Any:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    return set(_on_connection(url, lambda connection: inspect(connection).get_table_names()))


def _schema_differences(url: str, metadata: MetaData) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    return list(_on_connection(url, compare))


def test_the_history_is_one_line() -> None:
    """Two revisions with the same down_revision (parallel work) would make `upgrade head` ambiguous."""
    assert head()


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    assert current(empty_database_url) is None

    upgrade(empty_database_url)
    assert current(empty_database_url) == head()
    assert OUR_TABLES <= _tables(empty_database_url)

    downgrade(empty_database_url)
    assert current(empty_database_url) is None
    assert _tables(empty_database_url) <= {"alembic_version"}

    upgrade(empty_database_url)
    assert current(empty_database_url) == head()
    assert OUR_TABLES <= _tables(empty_database_url)


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert _schema_differences(database_url, target_metadata()) == []


def test_the_comparison_notices_drift(database_url: str) -> None:
    """Guards the test above: a model column missing from the migrations must show up as a difference."""
    drifted = MetaData(naming_convention=target_metadata().naming_convention)
    for table in target_metadata().sorted_tables:
        copy = table.to_metadata(drifted)
        if table.name == "outbox":
            copy.append_column(Column("priority", Integer, nullable=True))
    differences = _schema_differences(database_url, drifted)
    assert [(kind, column.name) for kind, *_, column in differences] == [("add_column", "priority")]


def test_every_table_is_known_to_the_migrations() -> None:
    """A table whose models module MODEL_MODULES does not reach would be invisible to autogenerate and
    to the drift test; MODEL_MODULES alone (in a fresh interpreter) must register every table."""
    from participant.db import Base

    for package in ("participant", "bap", "bpp"):
        for path in (REPO_ROOT / package).rglob("models.py"):
            importlib.import_module(".".join(path.relative_to(REPO_ROOT).with_suffix("").parts))
    script = "import json, migrations; print(json.dumps(sorted(migrations.target_metadata().tables)))"
    fresh = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert fresh.returncode == 0, fresh.stderr
    assert set(json.loads(fresh.stdout)) == set(Base.metadata.tables)


def test_migrations_run_from_an_installed_copy_without_alembic_ini(tmp_path: Path) -> None:
    """What `pip install .` ships (the packages, env.py, the template, versions/) is enough to migrate."""
    site = tmp_path / "site"
    for package in ("migrations", "participant", "registry_client", "schemas", "bpp"):
        shutil.copytree(
            REPO_ROOT / package,
            site / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = tmp_path / "installed.db"
    script = (
        "import migrations, participant.migrate as m, sys; "
        f"assert migrations.__file__.startswith({str(site)!r}), migrations.__file__; "
        "m.upgrade(sys.argv[1]); print(m.current(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{database}"],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == head()


def test_alembic_ini_serves_developers_at_the_repository_root(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}"
    alembic = Path(sys.executable).with_name("alembic")
    result = subprocess.run(
        [str(alembic), "-c", str(REPO_ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=REPO_ROOT,
        env={**os.environ, "DEGFLEX_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert current(url) == head()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_are_normalized_to_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "", "not a url"])
def test_unusable_database_urls_are_refused_with_a_message(url: str) -> None:
    with pytest.raises(MigrationError, match="not a sqlite or postgresql"):
        normalize_database_url(url)


def test_a_missing_sqlite_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="is not a directory"):
        upgrade(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")


def test_an_unknown_revision_is_explained(sqlite_database_url: str) -> None:
    with pytest.raises(MigrationError, match="nonexistent"):
        upgrade(sqlite_database_url, "nonexistent")


def _degflex(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "participant.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_degflex_migrate_help() -> None:
    result = _degflex("migrate", "--help")
    assert result.returncode == 0
    assert "{upgrade,downgrade,current}" in result.stdout
    assert "DEGFLEX_DATABASE_URL" in result.stdout


def test_degflex_migrate_upgrade_current_downgrade(tmp_path: Path) -> None:
    env = {"DEGFLEX_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert "never migrated" in _degflex("migrate", "current", env=env).stdout

    upgraded = _degflex("migrate", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert head() in upgraded.stdout
    assert "up to date" in _degflex("migrate", "current", env=env).stdout

    downgraded = _degflex("migrate", "downgrade", "base", env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "base" in downgraded.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("migrate", "upgrade"),
            {"DEGFLEX_DATABASE_URL": ""},
            "pass --database-url or set DEGFLEX_DATABASE_URL",
        ),
        (("migrate", "--database-url", "mysql://x/y", "upgrade"), {}, "not a sqlite or postgresql"),
        (
            ("migrate", "--database-url", "postgresql://u:secret@127.0.0.1:1/db", "current"),
            {},
            "u:***@127.0.0.1:1",
        ),
    ],
)
def test_degflex_migrate_explains_bad_databases_without_a_traceback(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = _degflex(*args, env=env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr
