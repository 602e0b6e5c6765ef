"""`degflex bpp`: run an aggregator BPP (catalog, orders, operator API) with uvicorn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import ValidationError

from participant.errors import ConfigurationError
from participant.logging import configure_logging
from participant.migrate import MigrationError, upgrade

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

ENV_PREFIX = "DEGFLEX_BPP_"
OPTIONS = ("config_file", "host", "port", "database_url", "offers_file", "nats_url", "log_level")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "bpp",
        help="run an aggregator BPP: sell the fleet's flexibility over Beckn",
        description="Run an aggregator BPP: it answers search/select/init/confirm/status/update/cancel, "
        "reserves capacity so no kW is promised twice, and serves the operator API under /api/. Every "
        f"setting comes from the environment as {ENV_PREFIX}<SETTING> (e.g. {ENV_PREFIX}SUBSCRIBER_ID), "
        "or from --config FILE (YAML or JSON, same names in lower case); the environment wins over the "
        "file, and the options below win over both. See docs/bpp.md.",
    )
    parser.add_argument(
        "--config", dest="config_file", type=Path, metavar="FILE", help="YAML or JSON settings file"
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8200)")
    parser.add_argument(
        "--database-url", help="SQLite or PostgreSQL URL (default sqlite:///./degflex-bpp.db)"
    )
    parser.add_argument(
        "--offers-file", type=Path, metavar="FILE", help="offer terms to load at start (YAML)"
    )
    parser.add_argument(
        "--nats-url",
        metavar="URL",
        help="the devices' NATS server(s), comma-separated; without it the BPP does not dispatch "
        "(see docs/dispatch.md)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, … (default INFO)")
    parser.set_defaults(func=bpp_command)


def bpp_command(args: argparse.Namespace) -> int:
    import uvicorn

    from bpp.app import check_configuration, create_bpp_app
    from bpp.settings import BppSettings

    overrides: dict[str, Any] = {
        name: value for name in OPTIONS if (value := getattr(args, name, None)) is not None
    }
    try:
        settings = BppSettings(**overrides)
        check_configuration(settings)
    except ValidationError as exc:
        print(f"degflex bpp: invalid settings:\n{explain(exc)}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"degflex bpp: {exc}", file=sys.stderr)
        return 2
    try:
        upgrade(settings.database_url)
    except MigrationError as exc:
        print(f"degflex bpp: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level, settings.log_format)
    app = create_bpp_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


def explain(exc: ValidationError) -> str:
    """One line per problem, naming the setting as the environment and the config file spell it."""
    lines = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not location:
            lines.append(f"  {message}")
            continue
        name = location[0]
        where = ".".join(location)
        hint = (
            f" (set {ENV_PREFIX}{name.upper()} or `{name}` in the config file)"
            if error["type"] == "missing"
            else ""
        )
        lines.append(f"  {where}: {message}{hint}")
    return "\n".join(lines)
