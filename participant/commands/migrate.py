"""`degflex migrate {upgrade,downgrade,current}`: the database schema, by Alembic, from an installed copy."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TypeAlias

from participant.migrate import MigrationError, current, downgrade, head, normalize_database_url, upgrade

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

DATABASE_URL_ENV = "DEGFLEX_DATABASE_URL"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="create or update the database schema",
        description="Run degflex's database migrations (Alembic) against a SQLite or PostgreSQL database.",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"e.g. sqlite:///./degflex.db or postgresql://user:pass@host/db (default: ${DATABASE_URL_ENV})",
    )
    parser.add_argument(
        "action",
        choices=("upgrade", "downgrade", "current"),
        help="upgrade to REVISION (default head), downgrade to REVISION (default base), or show it",
    )
    parser.add_argument("revision", nargs="?", default=None, help="target revision (upgrade, downgrade)")
    parser.set_defaults(func=migrate_command)


def migrate_command(args: argparse.Namespace) -> int:
    raw_url = args.database_url or os.environ.get(DATABASE_URL_ENV)
    if not raw_url:
        print(f"degflex migrate: no database; pass --database-url or set {DATABASE_URL_ENV}", file=sys.stderr)
        return 2
    try:
        url = normalize_database_url(raw_url)
        if args.action == "upgrade":
            upgrade(url, args.revision or "head")
            print(f"database is at revision {current(url)}")
        elif args.action == "downgrade":
            downgrade(url, args.revision or "base")
            print(f"database is at revision {current(url) or 'base (no tables)'}")
        else:
            if args.revision is not None:
                print("degflex migrate current: takes no revision", file=sys.stderr)
                return 2
            revision = current(url)
            latest = head()
            state = "up to date" if revision == latest else f"head is {latest}"
            print(f"{revision or 'base (never migrated)'} ({state})")
    except MigrationError as exc:
        print(f"degflex migrate: {exc}", file=sys.stderr)
        return 1
    return 0
