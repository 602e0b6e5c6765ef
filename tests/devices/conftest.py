"""A real nats-server for the device tests, with authorization from real credential stores.

One server per session; each test takes its own aggregator (its own streams and users), so tests do not
see each other's messages. Tests that kill the server get a private one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.devices.agent import AgentTimings
from bpp.devices.bus import DeviceBus, EventSubscription
from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import CredentialStore, Role, authorization_block
from bpp.devices.events import DeviceEvent
from bpp.devices.streams import StreamLimits
from participant.db import make_engine, make_session_factory
from participant.natsserver import EmbeddedNatsServer
from schemas.devices import Ack, AckStatus, Announce, Telemetry
from tests.support.servers import free_port, wait_until

FAST = AgentTimings(
    telemetry_interval=0.2,
    announce_interval=60.0,
    ack_wait=6.0,
    fetch_timeout=2.0,
    retry_wait=0.2,
    publish_timeout=2.0,
)
"""Agent timings for tests: quick telemetry and retries, so waits are short (never sleeps)."""

SMALL = StreamLimits(command_max_bytes=8 << 20, event_max_bytes=32 << 20)
"""JetStream reserves max_bytes on disk for every stream: many test aggregators must stay small."""


@dataclass
class Aggregator:
    """One aggregator on the test server: its id, its users' credentials, and a bus factory."""

    id: str
    url: str
    store: CredentialStore
    service: BusCredentials
    fleet: BusCredentials
    seeds: dict[str, str] = field(default_factory=dict)

    def device(self, device_id: str) -> BusCredentials:
        return BusCredentials(nkey_seed=self.seeds[device_id])

    def bus(self, *, limits: StreamLimits = SMALL) -> DeviceBus:
        return DeviceBus(self.url, self.id, credentials=self.service, limits=limits)


class NatsHarness:
    """The session's nats-server; adds an aggregator's users with a configuration reload."""

    def __init__(self, server: EmbeddedNatsServer) -> None:
        self.server = server
        self.stores: list[CredentialStore] = []

    def varz(self) -> dict[str, object]:
        reply = httpx.get(f"http://{self.server.host}:{self.server.monitor_port}/varz", timeout=2.0)
        data: dict[str, object] = reply.json()
        return data

    def apply(self, store: CredentialStore) -> None:
        self.stores = [other for other in self.stores if other.aggregator != store.aggregator] + [store]
        before = self.varz()["config_load_time"]
        self.server.authorization = authorization_block(self.stores)
        self.server.reload()
        wait_until(lambda: self.varz()["config_load_time"] != before, what="nats-server to reload its users")

    def aggregator(self, devices: Sequence[str] = ()) -> Aggregator:
        store = CredentialStore(f"agg-{uuid.uuid4().hex[:8]}")
        service = store.issue(Role.SERVICE, "bpp")
        fleet = store.issue(Role.FLEET, "fleet")
        seeds = {device_id: store.issue(Role.DEVICE, device_id) for device_id in devices}
        self.apply(store)
        return Aggregator(
            store.aggregator,
            self.server.url,
            store,
            BusCredentials(nkey_seed=service),
            BusCredentials(nkey_seed=fleet),
            seeds,
        )


def start_server(directory: Path, authorization: str | None) -> EmbeddedNatsServer:
    return EmbeddedNatsServer(
        directory, port=free_port(), monitor_port=free_port(), authorization=authorization
    ).start()


@pytest.fixture(scope="session")
def nats_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsHarness]:
    boot = CredentialStore("boot")
    boot.issue(Role.SERVICE, "bpp")
    server = start_server(tmp_path_factory.mktemp("nats"), authorization_block([boot]))
    try:
        harness = NatsHarness(server)
        harness.stores.append(boot)
        yield harness
    finally:
        server.stop()


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session on the migrated database (for the fleet link), rolled back at the end."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


@pytest.fixture
def aggregator(nats_harness: NatsHarness) -> Callable[..., Aggregator]:
    """`aggregator(["dev-a", "dev-b"])`: a fresh aggregator whose devices have their own nkeys."""
    return nats_harness.aggregator


class EventLog:
    """Every device event the BPP's durable consumer handed over, with waits that end on a condition."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self._changed = asyncio.Condition()

    async def handle(self, event: DeviceEvent) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait_for(
        self, condition: Callable[[EventLog], bool], *, timeout: float = 20.0, what: str = ""
    ) -> None:
        async def satisfied() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: condition(self))

        try:
            await asyncio.wait_for(satisfied(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what or condition}; saw {self.describe()}"
            ) from None

    def acks(self, command_id: str | None = None) -> list[Ack]:
        found = [event.message for event in self.events if isinstance(event.message, Ack)]
        return [ack for ack in found if command_id is None or ack.command_id == command_id]

    def statuses(self, command_id: str) -> list[AckStatus]:
        return [ack.status for ack in self.acks(command_id)]

    def stored_statuses(self, command_id: str) -> list[AckStatus]:
        """Statuses as stored in the stream: a redelivery to the BPP (same sequence) counts once."""
        seen: dict[int, AckStatus] = {}
        for event in self.events:
            if isinstance(event.message, Ack) and event.message.command_id == command_id:
                seen.setdefault(event.stream_sequence, event.message.status)
        return [seen[sequence] for sequence in sorted(seen)]

    def telemetry(self, device_id: str) -> list[Telemetry]:
        return [
            event.message
            for event in self.events
            if isinstance(event.message, Telemetry) and event.device_id == device_id
        ]

    def announced(self) -> set[str]:
        return {event.device_id for event in self.events if isinstance(event.message, Announce)}

    def describe(self) -> str:
        return ", ".join(
            f"{event.device_id}:{getattr(event.message, 'status', event.channel)}"
            for event in self.events
            if not isinstance(event.message, Telemetry)
        )


async def listen(bus: DeviceBus, log: EventLog, **options: object) -> EventSubscription:
    subscription = await bus.subscribe_events(log.handle, fetch_timeout=2.0, **options)  # type: ignore[arg-type]
    await asyncio.wait_for(subscription.ready(), 20)
    return subscription
