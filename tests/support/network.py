"""A Beckn network on one machine for tests: a real registry, registered identities, signed requests, and a
look into a participant's database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from participant.messagelog import Direction, MessageRecord, ProcessingState
from participant.outbox import DeliveryAttempt, OutboxEntry, OutboxStatus
from participant.registry import create_registry_app
from participant.settings import RegistrySettings
from registry_client.keys import Identity, generate_identity
from registry_client.signing import sign_body
from schemas.core_v1 import Action, Context
from tests.bap.console import Console
from tests.support.databases import sqlite_url
from tests.support.peer import PeerRecorder, PeerSettings, minimal_message
from tests.support.servers import ProcessServer, ThreadedServer, free_port, python_module

DOMAIN = "deg:demand-flex"
ADMIN_TOKEN = "test-admin-token-0123456789"


def registry_server(directory: Path, *, challenge: bool = False) -> ThreadedServer:
    """`degflex registry` in a thread: SQLite, admin API on, /subscribe challenges only when asked."""
    settings = RegistrySettings(
        database_url=sqlite_url(directory, "registry"),
        admin_token=ADMIN_TOKEN,
        challenge_subscribers=challenge,
    )
    return ThreadedServer(create_registry_app(settings))


def register(
    registry_url: str,
    identity: Identity,
    *,
    type: str,
    url: str,
    domain: str = DOMAIN,
    status: str | None = None,
) -> None:
    """Put a subscription in the registry through its admin API."""
    entry = {
        "subscriber_id": identity.subscriber_id,
        "unique_key_id": identity.unique_key_id,
        "type": type,
        "url": url,
        "domain": domain,
        "signing_public_key": identity.signing_public_key,
        "encr_public_key": identity.encryption_public_key,
    }
    if status is not None:
        entry["status"] = status
    response = httpx.post(f"{registry_url}/admin/subscribers", json=entry, headers=_admin())
    assert response.status_code in (200, 201), response.text


def set_status(registry_url: str, identity: Identity, status: str) -> None:
    response = httpx.patch(
        f"{registry_url}/admin/subscribers/{identity.subscriber_id}/{identity.unique_key_id}",
        json={"status": status},
        headers=_admin(),
    )
    assert response.status_code == 200, response.text


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class Member:
    """A participant of the test network: its keys, its address and its database."""

    identity: Identity
    port: int
    database_url: str

    @property
    def subscriber_id(self) -> str:
        return self.identity.subscriber_id

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, registry_url: str, **overrides: Any) -> PeerSettings:
        values: dict[str, Any] = {
            "subscriber_id": self.identity.subscriber_id,
            "subscriber_url": self.url,
            "unique_key_id": self.identity.unique_key_id,
            "signing_private_key": self.identity.signing_private_key,
            "encryption_private_key": self.identity.encryption_private_key,
            "registry_url": registry_url,
            "database_url": self.database_url,
            "port": self.port,
            "outbox_poll_seconds": 0.2,
            "outbox_backoff_base_seconds": 0.1,
            "outbox_backoff_max_seconds": 1.0,
            "log_format": "console",
        }
        values.update(overrides)
        return PeerSettings(**values)

    def environment(self, registry_url: str, **overrides: Any) -> dict[str, str]:
        """The same settings as `DEGFLEX_PEER_*` variables, for a peer run as a process."""
        settings = self.settings(registry_url, **overrides)
        env = {}
        for name, value in settings.model_dump(mode="json").items():
            if value is None:
                continue
            if name in ("signing_private_key", "encryption_private_key"):
                value = getattr(settings, name).get_secret_value()
            env[f"DEGFLEX_PEER_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return env


def new_member(directory: Path, name: str) -> Member:
    return Member(generate_identity(name), free_port(), sqlite_url(directory, name.replace(".", "-")))


def request_body(
    action: Action,
    *,
    bap: Member,
    bpp: Member | None = None,
    message: dict[str, Any] | None = None,
    ttl: timedelta = timedelta(seconds=30),
    **context: Any,
) -> bytes:
    """A request from `bap` (to `bpp`, or broadcast), compact JSON, as a BAP would send it."""
    base = Context.new(
        action=action,
        domain=DOMAIN,
        bap_id=bap.subscriber_id,
        bap_uri=bap.url,
        bpp_id=bpp.subscriber_id if bpp else None,
        bpp_uri=bpp.url if bpp else None,
        ttl=ttl,
        country="IND",
        city="*",
    ).dump()
    base.update(context)
    body = {"context": base, "message": minimal_message(action) if message is None else message}
    return json.dumps(body, separators=(",", ":")).encode()


def callback_body(action: Action, *, bap: Member, bpp: Member, **context: Any) -> bytes:
    """A callback from `bpp` to `bap` in a new transaction."""
    body = json.loads(request_body(action.request, bap=bap, bpp=bpp))
    body["context"].update(action=action.value, **context)
    body["message"] = minimal_message(action)
    return json.dumps(body, separators=(",", ":")).encode()


def signed_headers(
    body: bytes,
    signer: Identity,
    *,
    created: int | None = None,
    expires: int | None = None,
    gateway: Identity | None = None,
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Authorization": sign_body(
            body,
            signing_key=signer.signing_private_key,
            subscriber_id=signer.subscriber_id,
            unique_key_id=signer.unique_key_id,
            created=created,
            expires=expires,
        ),
    }
    if gateway is not None:
        headers["X-Gateway-Authorization"] = sign_body(
            body,
            signing_key=gateway.signing_private_key,
            subscriber_id=gateway.subscriber_id,
            unique_key_id=gateway.unique_key_id,
        )
    return headers


def now() -> int:
    return int(time.time())


@contextmanager
def database(url: str) -> Iterator[Session]:
    """A synchronous look into a participant's SQLite database from the test's thread."""
    engine = create_engine(url.replace("sqlite+aiosqlite:", "sqlite:"))
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def messages(url: str, direction: Direction, **where: Any) -> list[MessageRecord]:
    """Message records in one direction whose columns equal `where`, oldest first."""
    with database(url) as session:
        query = select(MessageRecord).where(MessageRecord.direction == direction)
        for column, value in where.items():
            query = query.where(getattr(MessageRecord, column) == value)
        return list(session.scalars(query.order_by(MessageRecord.created_at)))


def inbound(url: str, **where: Any) -> list[MessageRecord]:
    return messages(url, Direction.INBOUND, **where)


def outbound(url: str, **where: Any) -> list[MessageRecord]:
    return messages(url, Direction.OUTBOUND, **where)


def outbox(url: str) -> list[tuple[OutboxEntry, list[DeliveryAttempt]]]:
    """Every outbox entry with its attempts in order."""
    with database(url) as session:
        entries = list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.created_at)))
        attempts = list(session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.attempt)))
    by_entry: dict[str, list[DeliveryAttempt]] = {entry.id: [] for entry in entries}
    for attempt in attempts:
        by_entry[attempt.outbox_id].append(attempt)
    return [(entry, by_entry[entry.id]) for entry in entries]


@dataclass
class CrashNetwork:
    directory: Path
    registry_url: str
    bap: Member
    bpp: Member
    bap_recorder: PeerRecorder

    def bpp_process(self, *flags: str) -> ProcessServer:
        """The BPP as `python -m tests.support.peer`, on its fixed port and database (so it can restart)."""
        env = self.bpp.environment(self.registry_url, outbox_lease_seconds=2.0, log_format="json")
        return ProcessServer(
            python_module("tests.support.peer", "--role", "bpp", *flags),
            url=self.bpp.url,
            env=env,
            log_path=self.directory / "bpp.log",
        )


def processing_states(member: Member, message_id: str) -> list[ProcessingState | None]:
    return [record.processing_state for record in inbound(member.database_url, message_id=message_id)]


def all_delivered(database_url: str) -> bool:
    entries = outbox(database_url)
    return bool(entries) and all(entry.status is OutboxStatus.DELIVERED for entry, _ in entries)


def alert_and_approve(bap_url: str, keys: Path, node: str, *, aggregators: list[str]) -> None:
    """Raise a high-severity grid alert at `bap_url` two hours ahead, check that the recommendation picks
    `aggregators`, answer `yes, proceed` on the console WebSocket and wait for the event to be ACTIVE.
    `keys` is the folder holding the BAP operator's token (as `degflex up` writes it)."""
    token = (keys / "utility.bap-operator.token").read_text().strip()
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    alert = {
        "node_id": node,
        "load_kw": "430",
        "capacity_kw": "500",
        "forecast_peak_kw": "460",
        "expected_start": start.isoformat(),
        "duration": "PT1H",
        "severity": "high",
    }
    with Console.open(bap_url, token) as console:
        assert console.next()["type"] == "snapshot"
        answer = httpx.post(
            f"{bap_url}/api/grid-alerts", json=alert, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 202, answer.text
        recommendation = console.expect("recommendation")["data"]
        assert [s["aggregator_id"] for s in recommendation["selections"]] == aggregators
        assert console.command("yes, proceed")["data"]["ok"]
        console.expect("progress", lambda frame: frame["data"]["state"] == "ACTIVE")
