"""From a network description to what runs: addresses, keys, configuration files and commands.

Everything generated (identities, tokens, NATS credentials) is kept in the network's directory and
reused on the next run, so databases, the registry and devices keep agreeing on who is who.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import CredentialStore, Role, authorization_block, write_seed
from bpp.settings import BppSettings
from participant.db import is_sqlite
from participant.natsserver import EmbeddedNatsServer, nats_server_binary
from participant.network.spec import (
    BapSpec,
    BppSpec,
    FleetEntry,
    Listener,
    NetworkSpec,
    ParticipantSpec,
    service_credentials,
    url_host,
)
from participant.network.supervisor import ProcessSpec, degflex_command
from registry_client.keys import Identity, generate_identity

INFRASTRUCTURE, PARTICIPANTS, DEVICES = 0, 1, 2
ADMIN_OPERATOR = "network-admin"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _write_private(path: Path, text: str) -> Path:
    """Configuration holding secrets: readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _sqlite(directory: Path, name: str) -> str:
    return f"sqlite:///{directory / 'db' / name}.db"


def _file_name(subscriber_id: str) -> str:
    return "".join(char if char.isalnum() or char in "-_." else "-" for char in subscriber_id)


class Secrets:
    """Identities and tokens of a network directory, created once and read back afterwards."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "keys"

    def identity(self, subscriber_id: str) -> Identity:
        path = self.directory / f"{_file_name(subscriber_id)}.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("subscriber_id") == subscriber_id:
                return Identity(**data)
        identity = generate_identity(subscriber_id)
        _write_private(path, json.dumps(dataclasses.asdict(identity), indent=2) + "\n")
        return identity

    def token(self, name: str) -> str:
        path = self.directory / f"{name}.token"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        token = secrets.token_urlsafe(24)
        _write_private(path, token + "\n")
        return token


@dataclass(frozen=True)
class ParticipantPlan:
    """A BAP or BPP as it will run."""

    role: str
    spec: ParticipantSpec
    identity: Identity
    url: str
    host: str
    port: int
    database_url: str
    operator_token: str | None
    """A token of an operator this network created itself (none when the description lists operators)."""
    config_path: Path
    process: ProcessSpec
    aggregator: str | None = None
    """A BPP's NATS subject token."""
    hears_devices: bool = False
    """A BPP connected to NATS registers its devices from their announcements."""

    @property
    def subscriber_id(self) -> str:
        return self.identity.subscriber_id

    @property
    def health_url(self) -> str:
        return f"http://{url_host(_dial(self.host))}:{self.port}/health"


@dataclass(frozen=True)
class FleetPlan:
    bpp: str
    aggregator: str
    entry: FleetEntry
    process: ProcessSpec


@dataclass(frozen=True)
class NatsPlan:
    url: str
    """What clients connect to."""
    monitor_url: str | None
    process: ProcessSpec | None
    service: dict[str, BusCredentials] = field(default_factory=dict)
    """Per aggregator: the BPP's credentials (also used to create its streams)."""
    fleet: dict[str, BusCredentials] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkPlan:
    directory: Path
    domain: str
    registry_url: str
    registry_admin_token: str | None
    registry_process: ProcessSpec | None
    nats: NatsPlan | None
    baps: list[ParticipantPlan]
    bpps: list[ParticipantPlan]
    fleets: list[FleetPlan]

    @property
    def participants(self) -> list[ParticipantPlan]:
        return [*self.baps, *self.bpps]

    @property
    def processes(self) -> list[ProcessSpec]:
        infrastructure = [
            spec
            for spec in (self.nats.process if self.nats else None, self.registry_process)
            if spec is not None
        ]
        return [
            *infrastructure,
            *(part.process for part in self.participants),
            *(fleet.process for fleet in self.fleets),
        ]


def _dial(host: str) -> str:
    """An address to connect to for a listener bound to `host` (a wildcard is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host


def _listen(listener: Listener) -> tuple[str, int, str]:
    port = listener.port or free_port(_dial(listener.host))
    url = listener.public_url or f"http://{url_host(listener.host)}:{port}"
    return listener.host, port, url


def plan_network(spec: NetworkSpec, directory: Path) -> NetworkPlan:
    """Resolve ports and URLs, write keys and configuration files; nothing is started."""
    directory = directory.resolve()
    (directory / "db").mkdir(parents=True, exist_ok=True)
    keys = Secrets(directory)
    registry_url, admin_token, registry_process = _registry(spec, directory, keys)
    nats = _nats(spec, directory) if spec.nats is not None else None
    baps = [_participant("bap", bap, spec, directory, keys, registry_url, nats) for bap in spec.baps]
    bpps = [_participant("bpp", bpp, spec, directory, keys, registry_url, nats) for bpp in spec.bpps]
    fleets = [
        _fleet(bpp, index, entry, directory, nats)
        for bpp in spec.bpps
        for index, entry in enumerate(bpp.fleets)
        if nats is not None
    ]
    return NetworkPlan(
        directory=directory,
        domain=spec.domain,
        registry_url=registry_url,
        registry_admin_token=admin_token,
        registry_process=registry_process,
        nats=nats,
        baps=baps,
        bpps=bpps,
        fleets=fleets,
    )


def _registry(
    spec: NetworkSpec, directory: Path, keys: Secrets
) -> tuple[str, str | None, ProcessSpec | None]:
    registry = spec.registry
    if registry.url is not None:
        return registry.url, registry.admin_token, None
    host, port, url = _listen(registry)
    token = registry.admin_token or keys.token("registry-admin")
    env = {"DEGFLEX_REGISTRY_ADMIN_TOKEN": token, "DEGFLEX_REGISTRY_LOG_FORMAT": "console"}
    database = registry.database_url or _sqlite(directory, "registry")
    argv = degflex_command(
        "registry", "--host", host, "--port", str(port), "--public-url", url, "--no-challenge"
    )
    if is_sqlite(database):
        argv += ["--database-url", database]
    else:
        env["DEGFLEX_REGISTRY_DATABASE_URL"] = database  # a server URL may hold a password: not in `ps`
    process = ProcessSpec(
        name="registry",
        argv=argv,
        env=env,
        log_path=directory / "logs" / "registry.log",
        health_url=f"http://{url_host(_dial(host))}:{port}/health",
        tier=INFRASTRUCTURE,
    )
    return url, token, process


def _nats(spec: NetworkSpec, directory: Path) -> NatsPlan:
    nats = spec.nats
    assert nats is not None
    if nats.url is not None:
        # Someone else's server: the BPPs' own settings say who they are (also to set up their streams).
        own = {bpp.nats_aggregator: service_credentials(bpp.settings) for bpp in spec.bpps}
        return NatsPlan(url=nats.url, monitor_url=None, process=None, service=own)
    service: dict[str, BusCredentials] = {}
    fleet: dict[str, BusCredentials] = {}
    stores = []
    for bpp in spec.bpps:
        store, service[bpp.nats_aggregator], fleet[bpp.nats_aggregator] = _aggregator_users(
            directory / "nats", bpp.nats_aggregator
        )
        stores.append(store)
    dial = _dial(nats.host)
    port = nats.port or free_port(dial)
    monitor_port = nats.monitor_port or free_port(dial)
    server = EmbeddedNatsServer(
        directory / "nats",
        host=nats.host,
        port=port,
        monitor_port=monitor_port,
        authorization=authorization_block(stores) if stores else None,
    )
    config = server.write_config()
    monitor = f"http://{url_host(dial)}:{monitor_port}"
    process = ProcessSpec(
        name="nats",
        argv=[str(nats_server_binary()), "-c", str(config)],
        log_path=directory / "logs" / "nats.log",
        health_url=f"{monitor}/healthz?js-enabled-only=true",
        tier=INFRASTRUCTURE,
    )
    url = nats.public_url or f"nats://{url_host(nats.host)}:{port}"
    return NatsPlan(url=url, monitor_url=monitor, process=process, service=service, fleet=fleet)


def _aggregator_users(
    folder: Path, aggregator: str
) -> tuple[CredentialStore, BusCredentials, BusCredentials]:
    """The aggregator's service (BPP) and fleet (simulator) nkeys; created on first use, then reused."""
    path = folder / f"{aggregator}.credentials.yaml"
    store = CredentialStore.load(path) if path.exists() else CredentialStore(aggregator)
    seeds = {}
    for role, name in ((Role.SERVICE, "bpp"), (Role.FLEET, "simulator")):
        seed_path = folder / f"{aggregator}-{name}.nk"
        if store.get(role, name) is None or not seed_path.exists():
            write_seed(seed_path, store.issue(role, name))
        seeds[role] = BusCredentials(nkey_seed_file=seed_path)
    store.save(path)
    return store, seeds[Role.SERVICE], seeds[Role.FLEET]


def _participant(
    role: str,
    part: ParticipantSpec,
    network: NetworkSpec,
    directory: Path,
    keys: Secrets,
    registry_url: str,
    nats: NatsPlan | None,
) -> ParticipantPlan:
    identity = keys.identity(part.subscriber_id)
    host, port, url = _listen(part)
    name = _file_name(part.subscriber_id)
    database_url = part.database_url or _sqlite(directory, name)
    operators = part.operators
    token = None
    if not operators:
        token = keys.token(f"{name}-operator")
        operators = [{"name": ADMIN_OPERATOR, "role": "admin", "token": token}]
    settings: dict[str, Any] = {
        "subscriber_id": identity.subscriber_id,
        "subscriber_url": url,
        "unique_key_id": identity.unique_key_id,
        "signing_private_key": identity.signing_private_key,
        "encryption_private_key": identity.encryption_private_key,
        "registry_url": registry_url,
        "domain": network.domain,
        "host": host,
        "port": port,
        "database_url": database_url,
        "operators": operators,
        "log_format": "console",
    }
    if isinstance(part, BppSpec):
        settings.update(_bpp_settings(part, directory, nats))
    settings.update(part.settings)
    config_path = _write_private(
        directory / "config" / f"{name}.yaml", yaml.safe_dump(settings, sort_keys=False)
    )
    assert isinstance(part, BapSpec | BppSpec)
    process = ProcessSpec(
        name=part.subscriber_id,
        argv=degflex_command(role, "--config", str(config_path)),
        log_path=directory / "logs" / f"{name}.log",
        health_url=f"http://{url_host(_dial(host))}:{port}/health",
        tier=PARTICIPANTS,
    )
    return ParticipantPlan(
        role=role,
        spec=part,
        identity=identity,
        url=url,
        host=host,
        port=port,
        database_url=database_url,
        operator_token=token,
        config_path=config_path,
        process=process,
        aggregator=part.nats_aggregator if isinstance(part, BppSpec) else None,
        hears_devices=isinstance(part, BppSpec) and "nats_url" in settings,
    )


def _bpp_settings(bpp: BppSpec, directory: Path, nats: NatsPlan | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if bpp.provider_name:
        settings["provider_name"] = bpp.provider_name
    if bpp.offers:
        offers = {"offers": [entry.model_dump(mode="json", exclude_none=True) for entry in bpp.offers]}
        path = directory / "config" / f"{_file_name(bpp.subscriber_id)}.offers.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(offers, sort_keys=False), encoding="utf-8")
        settings["offers_file"] = str(path)
    if nats is not None:
        settings.update(device_bus_settings(bpp.nats_aggregator, nats))
    return settings


def device_bus_settings(aggregator: str, nats: NatsPlan) -> dict[str, Any]:
    """The BPP's NATS settings, as far as this build's BPP has them (the dispatcher brings them)."""
    credentials = nats.service.get(aggregator, BusCredentials())
    candidates: dict[str, Any] = {
        "nats_url": nats.url,
        "nats_aggregator": aggregator,
        "nats_nkey_seed_file": str(credentials.nkey_seed_file) if credentials.nkey_seed_file else None,
    }
    known = BppSettings.model_fields
    return {name: value for name, value in candidates.items() if name in known and value is not None}


def _fleet(bpp: BppSpec, index: int, entry: FleetEntry, directory: Path, nats: NatsPlan | None) -> FleetPlan:
    assert nats is not None
    aggregator = bpp.nats_aggregator
    credentials = nats.fleet.get(aggregator) or BusCredentials(
        nkey_seed_file=entry.nkey, creds_file=entry.creds
    )
    name = f"devices-{aggregator}-{index + 1}"
    argv = degflex_command(
        "devices",
        "simulate",
        "--count",
        str(entry.count),
        "--grid-node",
        entry.grid_node,
        "--aggregator",
        aggregator,
        "--nats-url",
        nats.url,
        "--opt-out-rate",
        str(entry.opt_out_rate),
        "--seed",
        str(entry.seed),
        "--telemetry-interval",
        f"{entry.telemetry_interval}s",
        "--time-scale",
        str(entry.time_scale),
        "--utc-offset",
        str(entry.utc_offset),
        "--devices-per-connection",
        "50",
        "--progress-interval",
        "30s",
        "--log-format",
        "console",
    )
    if entry.mix:
        argv += ["--mix", entry.mix]
    if entry.id_prefix:
        argv += ["--id-prefix", entry.id_prefix]
    if credentials.nkey_seed_file is not None:
        argv += ["--nkey", str(credentials.nkey_seed_file)]
    if credentials.creds_file is not None:
        argv += ["--creds", str(credentials.creds_file)]
    process = ProcessSpec(name=name, argv=argv, log_path=directory / "logs" / f"{name}.log", tier=DEVICES)
    return FleetPlan(bpp=bpp.subscriber_id, aggregator=aggregator, entry=entry, process=process)
