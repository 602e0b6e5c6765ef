"""Devices for end-to-end tests: a private nats-server with an aggregator's users, and a fleet of real
device agents running in their own thread (so the test can stay synchronous, as the Beckn side is)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bpp.devices.adapters import SimulatedDevice
from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import CredentialStore, Role
from participant.natsserver import EmbeddedNatsServer
from tests.dispatch.factories import AgentFleet
from tests.support.servers import free_port

AGGREGATOR = "agg-e2e"

TIMINGS: dict[str, Any] = {
    "dispatch_lead_time": timedelta(seconds=2),
    "ack_timeout": timedelta(seconds=3),
    "report_interval": timedelta(seconds=5),
    "opt_out_headroom": "0.2",
    "dispatch_poll_seconds": 0.1,
    "dispatch_lease_seconds": 3.0,
}
"""Dispatch settings for tests: 5 s intervals and reports, a 3 s ack timeout and lease, 2 s lead time."""


@dataclass
class DeviceNetwork:
    server: EmbeddedNatsServer
    aggregator: str
    service_seed_file: Path
    fleet_credentials: BusCredentials

    def bpp_settings(self) -> dict[str, Any]:
        """What a BPP needs to dispatch on this network (as settings overrides)."""
        return {
            "nats_url": self.server.url,
            "nats_aggregator": self.aggregator,
            "nats_nkey_seed_file": self.service_seed_file,
            **TIMINGS,
        }


@contextmanager
def device_network(directory: Path) -> Iterator[DeviceNetwork]:
    """A nats-server of its own (the crash tests kill it) that knows the BPP and a fleet user."""
    store = CredentialStore(AGGREGATOR)
    seed_file = directory / "bpp.nk"
    seed_file.write_text(store.issue(Role.SERVICE, "bpp"))
    seed_file.chmod(0o600)
    fleet = BusCredentials(nkey_seed=store.issue(Role.FLEET, "fleet"))
    server = EmbeddedNatsServer(
        directory / "nats",
        port=free_port(),
        monitor_port=free_port(),
        authorization=store.authorization_block(),
    ).start()
    try:
        yield DeviceNetwork(server, AGGREGATOR, seed_file, fleet)
    finally:
        server.stop()


class FleetThread:
    """An `AgentFleet` on an event loop of its own thread; readable from the test's thread."""

    def __init__(self, network: DeviceNetwork, devices: Sequence[SimulatedDevice]) -> None:
        self.fleet = AgentFleet(network.server.url, network.aggregator, network.fleet_credentials, devices)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="device-fleet", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.fleet.start()
            except BaseException as exc:
                self._failure = exc
                self._ready.set()
                raise
            self._ready.set()
            await self._stop.wait()
            await self.fleet.stop()

        asyncio.run(main())

    def __enter__(self) -> FleetThread:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._failure is not None or not self._ready.is_set():
            raise RuntimeError(f"the device fleet did not start: {self._failure!r}")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def applied(self) -> dict[str, list[str]]:
        return self.fleet.applied()

    @property
    def connected(self) -> bool:
        return self.fleet.connection.is_connected
