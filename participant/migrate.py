"""Run the Alembic migrations from code: `degflex migrate`, application start-up and the tests.

These functions are synchronous. Each runs its own event loop in a private thread, so it can be called
from anywhere, but an async caller should not block its loop: `await asyncio.to_thread(upgrade, url)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from migrations import SCRIPT_DIRECTORY
from participant.db import make_engine
from participant.errors import ParticipantError

T = TypeVar("T")


class MigrationError(ParticipantError):
    """The database could not be migrated or inspected; the message says why, for a person."""


def normalize_database_url(url: str) -> str:
    """Accept `sqlite:`/`postgresql://` spellings and give the async driver URL degflex uses."""
    url = url.strip()
    if url.startswith("sqlite:"):
        url = "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    elif url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
        raise MigrationError(f"{_redact(url)!r} is not a sqlite or postgresql database URL")
    try:
        make_url(url)
    except ArgumentError as exc:
        raise MigrationError(f"cannot read the database URL: {exc}") from None
    return url


def alembic_config(database_url: str) -> Config:
    """The Alembic configuration, built from the installed `migrations` package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_DIRECTORY).replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision` (all of it by default), in one transaction where supported."""
    config = alembic_config(normalize_database_url(database_url))
    _on_connection(config, lambda connection: _command(command.upgrade, config, connection, revision))


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the schema back to `revision` (`base` drops every table)."""
    config = alembic_config(normalize_database_url(database_url))
    _on_connection(config, lambda connection: _command(command.downgrade, config, connection, revision))


def current(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    config = alembic_config(normalize_database_url(database_url))
    return _on_connection(config, lambda c: MigrationContext.configure(c).get_current_revision())


def head() -> str:
    """The newest revision in the migration history."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_DIRECTORY).replace("%", "%%"))
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise MigrationError(
            f"the migration history must have one head, it has {sorted(heads) or 'none'}: "
            "make the newer revision's down_revision the other one (or add a merge revision)"
        )
    return heads[0]


def _command(
    run: Callable[[Config, str], None], config: Config, connection: Connection, revision: str
) -> None:
    config.attributes["connection"] = connection
    try:
        run(config, revision)
    finally:
        config.attributes.pop("connection", None)


def _check_sqlite_directory(url: str) -> None:
    """A missing directory is the common SQLite mistake; say so before aiosqlite fails obscurely."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    directory = Path(database).expanduser().resolve().parent
    if not directory.is_dir():
        raise MigrationError(f"cannot create the SQLite database {database}: {directory} is not a directory")


def _on_connection(config: Config, work: Callable[[Connection], T]) -> T:
    url = str(config.attributes["database_url"])
    if url.startswith("sqlite"):
        _check_sqlite_directory(url)

    async def run() -> T:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="degflex-migrate") as pool:
            return pool.submit(lambda: asyncio.run(run())).result()
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise MigrationError(f"database {_redact(url)}: {_first_line(exc)}") from exc


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
