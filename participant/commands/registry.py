"""`degflex registry`: run the small SQL-backed Beckn registry with uvicorn."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import ValidationError

from participant.logging import configure_logging
from participant.migrate import MigrationError, upgrade
from participant.registry.service import InvalidSubscription, read_subscription
from participant.settings import RegistrySettings
from registry_client.subscribers import Subscriber, SubscriberStatus

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class SeedError(Exception):
    """The seed file cannot be used; the message names the file and the entry."""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "registry",
        help="run a small Beckn registry (lookup, subscribe, admin API)",
        description="Run degflex's registry: POST /lookup, POST /subscribe (with the on_subscribe "
        "challenge) and an admin API, backed by SQL. Every option can also be set in the environment "
        "as DEGFLEX_REGISTRY_<OPTION> (e.g. DEGFLEX_REGISTRY_ADMIN_TOKEN).",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8100)")
    parser.add_argument(
        "--database-url", help="SQLite or PostgreSQL URL (default sqlite:///./degflex-registry.db)"
    )
    parser.add_argument("--admin-token", help="bearer token for /admin/* (the admin API is off without one)")
    parser.add_argument("--public-url", help="the URL subscribers reach this registry at (shown on GET /)")
    parser.add_argument(
        "--no-challenge",
        dest="challenge_subscribers",
        action="store_false",
        default=None,
        help="mark /subscribe requests SUBSCRIBED without the on_subscribe challenge",
    )
    parser.add_argument(
        "--seed",
        type=Path,
        metavar="FILE",
        help="JSON or YAML list of subscriptions to upsert at start (SUBSCRIBED unless they say otherwise)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, … (default INFO)")
    parser.set_defaults(func=registry_command)


def registry_command(args: argparse.Namespace) -> int:
    import uvicorn

    from participant.registry.app import create_registry_app

    overrides = {
        name: value
        for name in (
            "host",
            "port",
            "database_url",
            "admin_token",
            "public_url",
            "challenge_subscribers",
            "log_level",
        )
        if (value := getattr(args, name)) is not None
    }
    try:
        settings = RegistrySettings(**overrides)
        seed = load_seed(args.seed) if args.seed is not None else []
        upgrade(settings.database_url)
    except ValidationError as exc:
        print(f"degflex registry: invalid settings:\n{_explain(exc)}", file=sys.stderr)
        return 2
    except (SeedError, MigrationError) as exc:
        print(f"degflex registry: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level, settings.log_format)
    app = create_registry_app(settings, seed=seed)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


def load_seed(path: Path) -> list[Subscriber]:
    """Every entry must be a usable subscription: a typo in a seed file is an error, not a skipped key."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("subscribers"), list):
        data = data["subscribers"]
    if not isinstance(data, list):
        raise SeedError(f"seed file {path} must hold a list of subscriptions")
    subscribers = []
    for index, entry in enumerate(data):
        try:
            subscribers.append(read_subscription(entry, default_status=SubscriberStatus.SUBSCRIBED))
        except InvalidSubscription as exc:
            raise SeedError(f"seed file {path}, entry {index}: {exc}") from None
    return subscribers


def _explain(exc: ValidationError) -> str:
    return "\n".join(
        f"  {'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors()
    )
