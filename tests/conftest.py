"""Fixtures shared by every test: real databases built by the migrations, real servers on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import postgres_admin_url, postgres_database, sqlite_url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if postgres_admin_url():
        return
    skip = pytest.mark.skip(reason="PostgreSQL tests need DEGFLEX_TEST_POSTGRES_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    admin = postgres_admin_url()
    assert admin is not None
    with postgres_database(admin) as url:
        yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database migrated to head by Alembic, on each backend."""
    from participant.migrate import upgrade

    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A migrated SQLite database, for tests that need only one backend."""
    from participant.migrate import upgrade

    url = sqlite_url(tmp_path)
    upgrade(url)
    return url
