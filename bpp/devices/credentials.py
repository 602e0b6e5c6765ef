"""Who may use which device subjects: per-device NATS users, and the server `authorization` block for them.

A credentials store is a JSON or YAML file that names, per aggregator, its service users (the BPP), its
fleet users (a simulator or a site gateway hosting many devices) and its devices, each with a public nkey
(preferred: the server never sees a secret) or a bcrypt hash. Seeds stay with the device; plaintext
passwords are never accepted, so none can reach the server's configuration.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]
import yaml

from bpp.devices.errors import CredentialError
from bpp.devices.streams import StreamLayout
from schemas.devices import Channel, InvalidSubject, check_aggregator, check_device_id

_NKEY = re.compile(r"^U[A-Z2-7]{55}$")
_BCRYPT = re.compile(r"^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,127}$")


class Role(StrEnum):
    SERVICE = "service"
    FLEET = "fleet"
    DEVICE = "device"


_SECTIONS = {Role.SERVICE: "service", Role.FLEET: "fleet", Role.DEVICE: "devices"}


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def device_permissions(layout: StreamLayout, device_id: str) -> Permissions:
    """Its own ack/telemetry/announce subjects, its own command consumer, replies to its own inbox."""
    subjects = layout.subjects
    stream, consumer = layout.command_stream, layout.device_consumer(device_id)
    return Permissions(
        publish=(
            subjects.ack(device_id),
            subjects.telemetry(device_id),
            subjects.announce(device_id),
            # The filter is part of the subject: the server refuses a create whose filter differs.
            f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}.{subjects.cmd(device_id)}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ),
        subscribe=(f"{subjects.inbox(device_id)}.>",),
    )


def fleet_permissions(layout: StreamLayout) -> Permissions:
    """What a device has, for every device of the aggregator: one connection hosting many agents."""
    subjects = layout.subjects
    stream = layout.command_stream
    return Permissions(
        publish=(
            subjects.all_acks,
            subjects.all_telemetry,
            subjects.all_announcements,
            f"$JS.API.CONSUMER.CREATE.{stream}.*.{subjects.all_commands}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
        ),
        subscribe=(subjects.every(Channel.INBOX),),
    )


def service_permissions(layout: StreamLayout) -> Permissions:
    """The aggregator's BPP: everything under `degflex.<agg>.` and the JetStream API."""
    root = layout.subjects.root
    return Permissions(publish=(root, "$JS.API.>", "$JS.ACK.>"), subscribe=(root, "_INBOX.>"))


@dataclass(frozen=True)
class Principal:
    """One NATS user: authenticated by a public nkey, or by a bcrypt hash with `name` as the user name."""

    name: str
    role: Role
    nkey: str | None = None
    password_hash: str | None = None

    def __post_init__(self) -> None:
        if _NAME.fullmatch(self.name) is None:
            raise CredentialError(f"{self.name!r} is not a usable name (letters, digits, _ : -)")
        if self.role is Role.DEVICE:
            try:
                check_device_id(self.name)
            except InvalidSubject as exc:
                raise CredentialError(str(exc)) from None
        if (self.nkey is None) == (self.password_hash is None):
            raise CredentialError(f"{self.name}: give exactly one of nkey and password_hash")
        if self.nkey is not None and _NKEY.fullmatch(self.nkey) is None:
            raise CredentialError(f"{self.name}: {self.nkey!r} is not a public user nkey (U…)")
        if self.password_hash is not None and _BCRYPT.fullmatch(self.password_hash) is None:
            raise CredentialError(
                f"{self.name}: password_hash must be a bcrypt hash ($2a$…, e.g. from `nats server passwd`); "
                "plaintext passwords are not accepted"
            )


def new_user_seed() -> tuple[str, str]:
    """A fresh nkey user pair: (seed `SU…`, kept by the device; public key `U…`, for the server)."""
    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public: bytes = nkeys.from_seed(bytearray(seed)).public_key
    return seed.decode(), public.decode()


def public_key_of(seed: str) -> str:
    try:
        public: bytes = nkeys.from_seed(bytearray(seed.strip().encode())).public_key
    except Exception as exc:  # nkeys raises its own errors and binascii/ValueError
        raise CredentialError("not an nkey seed") from exc
    return public.decode()


def _quote(text: str) -> str:
    return json.dumps(text)


class CredentialStore:
    """The principals of one aggregator, kept in a JSON (`.json`) or YAML (anything else) file."""

    def __init__(self, aggregator: str, principals: list[Principal] | None = None) -> None:
        try:
            self.layout = StreamLayout(check_aggregator(aggregator))
        except InvalidSubject as exc:
            raise CredentialError(str(exc)) from None
        self.aggregator = aggregator
        self._principals: dict[tuple[Role, str], Principal] = {}
        for principal in principals or []:
            self.add(principal)

    @property
    def principals(self) -> list[Principal]:
        return sorted(self._principals.values(), key=lambda p: (list(Role).index(p.role), p.name))

    def get(self, role: Role, name: str) -> Principal | None:
        return self._principals.get((role, name))

    def add(self, principal: Principal) -> None:
        """Add or replace (rotating a key is replacing it)."""
        for other in self._principals.values():
            same = (other.role, other.name) == (principal.role, principal.name)
            if not same and principal.nkey is not None and other.nkey == principal.nkey:
                raise CredentialError(f"nkey of {principal.name} is already used by {other.name}")
        self._principals[(principal.role, principal.name)] = principal

    def remove(self, role: Role, name: str) -> bool:
        return self._principals.pop((role, name), None) is not None

    def issue(self, role: Role, name: str) -> str:
        """Create (or rotate) an nkey principal; returns its seed, which only the device should keep."""
        seed, public = new_user_seed()
        self.add(Principal(name, role, nkey=public))
        return seed

    def permissions_for(self, principal: Principal) -> Permissions:
        if principal.role is Role.DEVICE:
            return device_permissions(self.layout, principal.name)
        if principal.role is Role.FLEET:
            return fleet_permissions(self.layout)
        return service_permissions(self.layout)

    # -- the server's configuration ------------------------------------------------------------------

    def user_entries(self) -> list[str]:
        """One nats-server `users` entry per principal (for this aggregator's part of the list)."""
        entries = []
        for principal in self.principals:
            permissions = self.permissions_for(principal)
            publish = ", ".join(_quote(subject) for subject in permissions.publish)
            subscribe = ", ".join(_quote(subject) for subject in permissions.subscribe)
            if principal.nkey is not None:
                who = f"nkey: {_quote(principal.nkey)}"
            else:
                assert principal.password_hash is not None
                who = f"user: {_quote(principal.name)}, password: {_quote(principal.password_hash)}"
            entries.append(
                f"    {{ {who}, permissions: {{ publish: {{ allow: [{publish}] }}, "
                f"subscribe: {{ allow: [{subscribe}] }} }} }}"
            )
        return entries

    def authorization_block(self) -> str:
        """`authorization { users = [...] }` for nats-server (the embedded one, or pasted into another)."""
        return authorization_block([self])

    # -- the file ------------------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"aggregator": self.aggregator}
        for role, section in _SECTIONS.items():
            entries: dict[str, dict[str, str]] = {}
            for principal in self.principals:
                if principal.role is role:
                    key = "nkey" if principal.nkey is not None else "password_hash"
                    entries[principal.name] = {key: principal.nkey or principal.password_hash or ""}
            document[section] = entries
        return document

    @classmethod
    def from_document(cls, document: object, *, source: str = "credentials") -> CredentialStore:
        if not isinstance(document, dict) or not isinstance(document.get("aggregator"), str):
            raise CredentialError(f"{source}: expected a mapping with an `aggregator`")
        store = cls(document["aggregator"])
        for role, section in _SECTIONS.items():
            entries = document.get(section) or {}
            if not isinstance(entries, dict):
                raise CredentialError(f"{source}: `{section}` must map names to credentials")
            for name, entry in entries.items():
                if isinstance(entry, str):
                    entry = {"nkey": entry}
                if not isinstance(entry, dict) or set(entry) - {"nkey", "password_hash"}:
                    raise CredentialError(f"{source}: {section}.{name} takes `nkey` or `password_hash`")
                store.add(Principal(str(name), role, entry.get("nkey"), entry.get("password_hash")))
        return store

    @classmethod
    def load(cls, path: Path) -> CredentialStore:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CredentialError(f"cannot read credentials store {path}: {exc.strerror}") from None
        try:
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise CredentialError(
                f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
            ) from None
        return cls.from_document(document, source=str(path))

    def save(self, path: Path) -> None:
        document = self.to_document()
        if path.suffix == ".json":
            text = json.dumps(document, indent=2) + "\n"
        else:
            text = yaml.safe_dump(document, sort_keys=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)


def authorization_block(stores: list[CredentialStore]) -> str:
    """One `authorization` block for several aggregators sharing a server (names and keys must differ)."""
    entries = [entry for store in stores for entry in store.user_entries()]
    return "authorization {\n  users = [\n" + "\n".join(entries) + "\n  ]\n}"


def write_seed(path: Path, seed: str) -> None:
    """Save a seed readable by its owner only (a device's secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(seed + "\n")
    os.chmod(path, 0o600)
