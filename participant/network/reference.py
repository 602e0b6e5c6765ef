"""docs/settings.md, rendered from the settings classes themselves (`scripts/settings-reference`), so
the reference lists exactly the settings the code reads; a test fails when the committed file is stale.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bap.settings import BapSettings
from bpp.settings import BppSettings
from participant.network.spec import (
    BapSpec,
    BppSpec,
    FleetEntry,
    NatsSpec,
    NetworkSpec,
    RegistrySpec,
)
from participant.settings import RegistrySettings

# Meanings of settings whose field carries no description of its own.
MEANINGS = {
    "environment": "`production` refuses placeholder keys",
    "database_url": "SQLite (`sqlite:///path.db`) or PostgreSQL (`postgresql://user:pass@host/db`)",
    "host": "address to listen on; `0.0.0.0` for every interface (the public URL is a separate setting)",
    "port": "port to listen on",
    "log_level": "DEBUG, INFO, WARNING, ERROR",
    "log_format": "`json` (one object per line) or `console`",
    "subscriber_id": "the participant's id in the registry (usually its domain name)",
    "unique_key_id": "the id of its signing key in the registry",
    "domain": "the Beckn domain served",
    "extra_domains": "more domains accepted (the generic Beckn client)",
    "core_version": "`context.version` sent",
    "country": "`context.location.country.code` sent",
    "city": "`context.location.city.code` sent",
    "registry_url": "the registry's base URL (`POST <url>/lookup`)",
    "gateway_url": "a Beckn gateway for searches; without one, searches go to every BPP the registry lists",
    "signature_validity_seconds": "`expires − created` of the signatures made",
    "clock_skew_seconds": "how far in the future a peer's `created` may be",
    "max_body_bytes": "larger requests are refused",
    "message_ttl_seconds": "`context.ttl` of requests sent; older inbound messages are stale",
    "key_cache_seconds": "how long a peer's key is cached (at most until its `valid_until`)",
    "negative_cache_seconds": "how long an unknown key is remembered as unknown",
    "outbox_poll_seconds": "how often the outbox looks for work when not woken",
    "outbox_batch_size": "messages claimed per round",
    "outbox_backoff_base_seconds": "first retry delay; doubles per attempt",
    "outbox_backoff_max_seconds": "longest retry delay",
    "outbox_lease_seconds": "a claimed message returns to the pool if its worker is silent this long",
    "http_timeout_seconds": "timeout of each outbound request",
    "operators_file": "YAML or JSON list of `{name, role, token | token_sha256}`",
    "scheduler_poll_seconds": "upper bound on how late a deadline is noticed",
    "grid_alert_subject": "NATS subject of grid alerts",
    "billing_name": "who pays, in init / confirm",
    "billing_email": "the billing e-mail sent",
    "currency": "ISO 4217 code of money figures",
    "provider_name": "the aggregator's name in the catalog",
    "provider_short_desc": "catalog short description",
    "provider_long_desc": "catalog long description",
    "nats_password": "password of `nats_user`",
    "admin_token": "bearer token of `/admin/*` (the admin API is off without one)",
    "public_url": "the URL subscribers reach it at",
    "challenge_subscribers": "challenge `/subscribe` requests with `/on_subscribe` before SUBSCRIBED",
    "url": "an external server; nothing is started",
    "monitor_port": "nats-server's monitoring port (free one when left out)",
    "directory": "keys, tokens, configurations, databases and logs, kept between runs",
    "nats": "NATS for the devices (needed with fleets)",
    "registry": "the registry",
    "baps": "utilities",
    "bpps": "aggregators",
    "offers": "offer terms as in an offers file (docs/bpp.md)",
    "fleets": "simulated devices, one `degflex devices simulate` each",
    "grid_node": "grid node of every device",
    "count": "number of devices",
    "opt_out_rate": "share of events a customer overrides",
    "seed": "same seed, same fleet",
    "id_prefix": "device ids are `<prefix>-0001…`",
    "time_scale": "multiplies the devices' response latency",
    "utc_offset": "local time of the devices, hours",
    "settings": "any setting of the role (the tables above), except those the description sets itself",
}

DEVICE_ENVIRONMENT = (
    ("DEGFLEX_NATS_URL", "nats://127.0.0.1:4222", "NATS URL of `degflex device` / `degflex devices …`"),
    ("DEGFLEX_AGGREGATOR", "—", "the aggregator's subject token (`--aggregator`)"),
    ("DEGFLEX_NATS_NKEY", "—", "nkey seed file, when no credentials are given on the command line"),
    ("DEGFLEX_NATS_CREDS", "—", "NATS .creds file, when no credentials are given on the command line"),
    ("DEGFLEX_NATS_USER", "—", "NATS user (with `DEGFLEX_NATS_PASSWORD`), likewise"),
    ("DEGFLEX_NATS_PASSWORD", "—", "password with `--user` or `DEGFLEX_NATS_USER`"),
    ("DEGFLEX_DATABASE_URL", "—", "database of `degflex migrate`"),
)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value: Any = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if value is None:
        return "none"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, Decimal | int | float | str | Path):
        return f"`{value}`" if str(value) else '`""`'
    if isinstance(value, list | dict) and not value:
        return f"`{value}`"
    return f"`{value!r}`"


def _meaning(name: str, field: FieldInfo) -> str:
    return (field.description or MEANINGS.get(name, "")).replace("|", "\\|")


def settings_table(cls: type[BaseModel], prefix: str) -> list[str]:
    lines = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for name, field in cls.model_fields.items():
        lines.append(f"| `{name}` | `{prefix}{name.upper()}` | {_default(field)} | {_meaning(name, field)} |")
    return lines


def model_table(cls: type[BaseModel], where: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    lines = [f"`{where}`", "", "| field | default | meaning |", "|---|---|---|"]
    for name, field in cls.model_fields.items():
        if name not in skip:
            lines.append(f"| `{name}` | {_default(field)} | {_meaning(name, field)} |")
    return [*lines, ""]


HEADER = """# Settings reference

Generated from the settings classes by `scripts/settings-reference`; do not edit by hand (a test fails
when this file and the code disagree). How each part is run is in docs/operations.md.

Each role reads only its own prefix, so a BAP and a BPP on one host never read each other's keys.
`degflex bap --config FILE` and `degflex bpp --config FILE` read the same names (lower case) from a
YAML or JSON file; the environment wins over the file and command-line options win over both. Lists
and mappings in the environment are JSON (`DEGFLEX_BAP_OPERATORS='[{"name": …}]'`). Nothing has a
host-specific default except where to listen: public URLs, the registry URL and the NATS URL are
always settings.
"""


def render() -> str:
    parts = [HEADER]
    for title, cls, prefix in (
        ("The utility BAP: `degflex bap`", BapSettings, "DEGFLEX_BAP_"),
        ("The aggregator BPP: `degflex bpp`", BppSettings, "DEGFLEX_BPP_"),
        ("The registry: `degflex registry`", RegistrySettings, "DEGFLEX_REGISTRY_"),
    ):
        parts += [f"## {title}", "", *settings_table(cls, prefix), ""]
    parts += [
        "## Devices: `degflex device`, `degflex devices …`",
        "",
        "Command-line options (`--help`); these variables stand in for some of them.",
        "",
        "| environment | default | meaning |",
        "|---|---|---|",
        *(f"| `{name}` | {default} | {meaning} |" for name, default, meaning in DEVICE_ENVIRONMENT),
        "",
        "## The network description: `degflex up network.yaml`",
        "",
        "See docs/network.example.yaml. Every part takes `host`, `port` (a free one when left out) and",
        "`public_url` (required when `host` is a wildcard such as `0.0.0.0`).",
        "",
        *model_table(NetworkSpec, "(top level)"),
        *model_table(NatsSpec, "nats"),
        *model_table(RegistrySpec, "registry"),
        *model_table(BapSpec, "baps[]"),
        *model_table(BppSpec, "bpps[]"),
        *model_table(FleetEntry, "bpps[].fleets[]"),
    ]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """`--check` exits 1 when the file differs; otherwise the file is (re)written."""
    import argparse

    parser = argparse.ArgumentParser(description="Render docs/settings.md from the settings classes.")
    parser.add_argument("--output", type=Path, default=Path("docs/settings.md"))
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run scripts/settings-reference")
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
