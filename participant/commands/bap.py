"""`degflex bap`: run a utility's BAP (operator API, console socket, Beckn callbacks) with uvicorn."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import ValidationError

from participant.errors import ConfigurationError
from participant.logging import configure_logging
from participant.migrate import MigrationError, upgrade

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

ENV_PREFIX = "DEGFLEX_BAP_"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "bap",
        help="run a utility's BAP: grid alerts → offers → operator approval → contracted flexibility",
        description="Run degflex as a utility's Beckn Application Platform. Settings come from a YAML or "
        f"JSON file (--config), overridden by {ENV_PREFIX}<SETTING> environment variables (e.g. "
        f"{ENV_PREFIX}SUBSCRIBER_ID, {ENV_PREFIX}OPERATORS_FILE), overridden by the options below. "
        "Required: subscriber_id, subscriber_url, unique_key_id, signing_private_key, registry_url or "
        "registry_file, and operators or operators_file.",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="YAML or JSON file of BAP settings")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")
    parser.add_argument("--database-url", help="SQLite or PostgreSQL URL (default sqlite:///./degflex.db)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, … (default INFO)")
    parser.set_defaults(func=bap_command)


def bap_command(args: argparse.Namespace) -> int:
    import uvicorn

    from bap.app import create_bap_app
    from bap.settings import BapSettings

    try:
        values = {**read_config(args.config), **_overrides(args)} if args.config else _overrides(args)
        settings = BapSettings(**values)
        app = create_bap_app(settings)
        upgrade(settings.database_url)
    except ValidationError as exc:
        print(f"degflex bap: invalid settings:\n{_explain(exc)}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"degflex bap: {exc}", file=sys.stderr)
        return 2
    except MigrationError as exc:
        print(f"degflex bap: cannot prepare the database: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


def read_config(path: Path) -> dict[str, Any]:
    """The file's settings, minus those the environment sets (the environment wins)."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a mapping of settings (subscriber_id: …)")
    return {
        str(key): value for key, value in data.items() if f"{ENV_PREFIX}{str(key).upper()}" not in os.environ
    }


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        name: value
        for name in ("host", "port", "database_url", "log_level")
        if (value := getattr(args, name)) is not None
    }


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        env = f" ({ENV_PREFIX}{where.upper()})" if error["loc"] else ""
        lines.append(f"  {where}{env}: {error['msg']}")
    return "\n".join(lines)
