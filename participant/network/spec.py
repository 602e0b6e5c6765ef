"""The description of a network (`network.yaml`): which parts run, where they listen, who they are.

Validated as a whole before anything starts, so a typo stops `degflex up` with the file and the field
(`network.yaml: bpps[1].fleets[0].count: …`) instead of a half-started network.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from bap.settings import BapSettings
from bpp.devices.connection import BusCredentials
from bpp.devices.errors import CredentialError
from bpp.offers.schemas import OfferTermsEntry
from bpp.settings import BppSettings
from participant.migrate import MigrationError, normalize_database_url
from participant.operators import OperatorCredential

DEFAULT_DOMAIN = "deg:demand-flex"
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
# Settings the network description sets itself; giving them under `settings:` would be ambiguous.
MANAGED_SETTINGS = frozenset(
    {
        "subscriber_id",
        "subscriber_url",
        "unique_key_id",
        "signing_private_key",
        "encryption_private_key",
        "registry_url",
        "registry_file",
        "host",
        "port",
        "database_url",
        "operators",
        "operators_file",
        "offers_file",
        "config_file",
        "domain",
    }
)


class NetworkFileError(Exception):
    """The description cannot be used; every problem names the file and the field."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {problem}" for problem in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/") if value is not None else None


def _database_url(value: str | None) -> str | None:
    """SQLite or PostgreSQL, in any spelling the parts accept; refused here rather than when a part starts."""
    if value is not None:
        try:
            normalize_database_url(value)
        except MigrationError as exc:
            raise ValueError(str(exc)) from None
    return value


def url_host(host: str) -> str:
    """`host` as it goes in a URL (IPv6 in brackets)."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


class Listener(_Strict):
    """Where a part listens (`host`, `port`; port 0 or none: a free one) and how others reach it."""

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="how other hosts reach it")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.host in WILDCARD_HOSTS and self.public_url is None:
            raise ValueError(
                f"host {self.host!r} listens on every address: set public_url to the one other hosts use"
            )
        return self


class NatsSpec(_Strict):
    """An external NATS server (`url`) or an embedded nats-server with JetStream started by degflex."""

    url: str | None = Field(default=None, description="an external server; nothing is started")
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)
    monitor_port: int | None = Field(default=None, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="how devices and BPPs reach the embedded server")

    @field_validator("url", "public_url")
    @classmethod
    def _nats_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("nats://", "tls://")):
            raise ValueError(f"{value!r} is not a NATS URL (nats://host:4222)")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.url is None and self.host in WILDCARD_HOSTS and self.public_url is None:
            raise ValueError("the embedded server listens on every address: set public_url")
        return self

    @property
    def embedded(self) -> bool:
        return self.url is None


class RegistrySpec(Listener):
    """`degflex registry` started here, or an external one (`url`) where subscribers are set up already."""

    url: str | None = Field(default=None, description="an external registry; nothing is started")
    admin_token: str | None = Field(default=None, min_length=16)
    database_url: str | None = None

    @field_validator("url")
    @classmethod
    def _external_url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        return _database_url(value)

    @property
    def external(self) -> bool:
        return self.url is not None


class ParticipantSpec(Listener):
    """What a BAP and a BPP share: identity, storage, and any role setting under `settings:`."""

    subscriber_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    database_url: str | None = None
    operators: list[dict[str, Any]] = Field(
        default_factory=list, description="{name, role, token|token_sha256}; default: one generated admin"
    )
    settings: dict[str, Any] = Field(default_factory=dict)

    settings_class: ClassVar[type[BaseSettings]]

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        return _database_url(value)

    @field_validator("operators")
    @classmethod
    def _operators(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for entry in value:
            OperatorCredential.model_validate(entry)
        return value

    @model_validator(mode="after")
    def _known_settings(self) -> Self:
        known = set(self.settings_class.model_fields)
        for name in self.settings:
            if name in MANAGED_SETTINGS:
                raise ValueError(f"settings.{name} is set by the network description; use its own field")
            if name not in known:
                raise ValueError(f"settings.{name} is not a setting of {self.settings_class.__name__}")
        return self


class BapSpec(ParticipantSpec):
    settings_class: ClassVar[type[BaseSettings]] = BapSettings


class FleetEntry(_Strict):
    """Simulated devices behind one grid node: one `degflex devices simulate` process."""

    grid_node: str = Field(pattern=r"^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9._-]*$")
    count: int = Field(gt=0, le=10_000)
    mix: str | None = Field(default=None, description="battery=0.3,load=0.4,ev=0.2,solar=0.1")
    opt_out_rate: float = Field(default=0.05, ge=0, le=1)
    seed: int = 0
    id_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    telemetry_interval: float = Field(default=5.0, gt=0, description="seconds")
    time_scale: float = Field(default=1.0, ge=0)
    utc_offset: float = Field(default=0.0, ge=-14, le=14)
    nkey: Path | None = Field(
        default=None,
        description="on an external NATS: the fleet user's nkey seed file (relative to the network file)",
    )
    creds: Path | None = Field(default=None, description="on an external NATS: a .creds file instead")

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.nkey is not None and self.creds is not None:
            raise ValueError("give nkey or creds, not both")
        return self

    @property
    def has_credentials(self) -> bool:
        return self.nkey is not None or self.creds is not None

    @field_validator("mix")
    @classmethod
    def _mix(cls, value: str | None) -> str | None:
        if value is not None:
            from bpp.devices.simulator import parse_mix

            parse_mix(value)
        return value


class BppSpec(ParticipantSpec):
    settings_class: ClassVar[type[BaseSettings]] = BppSettings
    aggregator: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the NATS subject token of this aggregator (default: the subscriber id's first label)",
    )
    provider_name: str | None = None
    offers: list[OfferTermsEntry] = Field(default_factory=list)
    fleets: list[FleetEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _nats_credentials(self) -> Self:
        try:
            service_credentials(self.settings)
        except CredentialError as exc:
            raise ValueError(f"settings: {exc}") from None
        return self

    @property
    def nats_aggregator(self) -> str:
        if self.aggregator:
            return self.aggregator
        return re.sub(r"[^A-Za-z0-9_-]", "-", self.subscriber_id.split(".")[0])


class NetworkSpec(_Strict):
    """A whole network; `directory` keeps its keys, configurations, databases and logs between runs."""

    directory: Path | None = None
    domain: str = Field(default=DEFAULT_DOMAIN, min_length=1)
    nats: NatsSpec | None = None
    registry: RegistrySpec = Field(default_factory=RegistrySpec)
    baps: list[BapSpec] = Field(default_factory=list)
    bpps: list[BppSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.baps and not self.bpps:
            raise ValueError("describe at least one BAP (baps:) or BPP (bpps:)")
        ids = Counter(part.subscriber_id for part in [*self.baps, *self.bpps])
        repeated = sorted(name for name, count in ids.items() if count > 1)
        if repeated:
            raise ValueError(f"subscriber ids must be unique: {', '.join(repeated)}")
        aggregators = Counter(bpp.nats_aggregator for bpp in self.bpps)
        shared = sorted(name for name, count in aggregators.items() if count > 1)
        if shared:
            raise ValueError(f"NATS aggregator ids must be unique (set aggregator:): {', '.join(shared)}")
        shared_databases = _shared_databases([*self.baps, *self.bpps])
        if shared_databases:
            raise ValueError(f"each BAP and BPP needs its own database: {shared_databases}")
        if any(bpp.fleets for bpp in self.bpps) and self.nats is None:
            raise ValueError("fleets need NATS: add `nats: {}` (embedded) or `nats: {url: …}`")
        given = [fleet for bpp in self.bpps for fleet in bpp.fleets if fleet.has_credentials]
        if given and self.nats is not None and self.nats.embedded:
            raise ValueError(
                "fleets' nkey/creds are for an external NATS: the embedded one makes its own users"
            )
        binds = Counter(
            (part.host, part.port) for part in [self.registry, *self.baps, *self.bpps] if part.port
        )
        clashing = sorted(f"{host}:{port}" for (host, port), count in binds.items() if count > 1)
        if clashing:
            raise ValueError(f"two parts listen on the same address: {', '.join(clashing)}")
        return self


def service_credentials(settings: dict[str, Any]) -> BusCredentials:
    """A BPP's NATS user as its `settings` give it (`nats_nkey_seed_file`, `nats_creds_file`, …)."""

    def path(name: str) -> Path | None:
        value = settings.get(name)
        return Path(value) if value else None

    return BusCredentials(
        nkey_seed_file=path("nats_nkey_seed_file"),
        nkey_seed=settings.get("nats_nkey_seed"),
        creds_file=path("nats_creds_file"),
        user=settings.get("nats_user"),
        password=settings.get("nats_password"),
    )


def _shared_databases(parts: Sequence[ParticipantSpec]) -> str:
    """`<database> is given to a and b` for each database (password hidden) named by more than one part."""
    users: dict[str, list[str]] = {}
    for part in parts:
        if part.database_url is not None:
            url = make_url(normalize_database_url(part.database_url)).render_as_string(hide_password=True)
            users.setdefault(url, []).append(part.subscriber_id)
    return "; ".join(
        f"{url} is given to {' and '.join(names)}" for url, names in users.items() if len(names) > 1
    )


def parse_network(data: object, *, source: Path | str, base: Path | None = None) -> NetworkSpec:
    """Validate a description; relative `directory` is taken from `base` (the file's folder)."""
    if not isinstance(data, dict):
        raise NetworkFileError(source, ["expected a mapping (registry:, baps:, bpps:, …)"])
    try:
        spec = NetworkSpec.model_validate(data)
    except ValidationError as exc:
        raise NetworkFileError(source, [_problem(error) for error in exc.errors()]) from None
    if base is not None:
        spec = _relative_to(spec, base)
    return spec


def _relative_to(spec: NetworkSpec, base: Path) -> NetworkSpec:
    """Paths in the file (`directory`, fleets' `nkey`/`creds`) are taken from the file's folder."""

    def resolved(path: Path | None) -> Path | None:
        return base / path if path is not None and not path.is_absolute() else path

    bpps = [
        bpp.model_copy(
            update={
                "fleets": [
                    fleet.model_copy(update={"nkey": resolved(fleet.nkey), "creds": resolved(fleet.creds)})
                    for fleet in bpp.fleets
                ]
            }
        )
        for bpp in spec.bpps
    ]
    return spec.model_copy(update={"directory": resolved(spec.directory), "bpps": bpps})


def load_network(path: Path) -> NetworkSpec:
    """Read and validate `network.yaml`; NetworkFileError names the file and each field at fault."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NetworkFileError(path, [f"cannot read it: {exc.strerror or exc}"]) from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NetworkFileError(path, [f"not valid YAML: {exc}"]) from None
    spec = parse_network(data, source=path, base=path.parent)
    if spec.directory is None:
        spec = spec.model_copy(update={"directory": path.parent / f"{path.stem}.d"})
    return spec


def _problem(error: ErrorDetails) -> str:
    where = ""
    for part in error["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        else:
            where += f".{part}" if where else str(part)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}" if where else message
