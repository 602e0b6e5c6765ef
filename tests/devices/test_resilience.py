"""nats-server killed and restarted mid-stream: agents and the BPP reconnect, and every command is
applied exactly once (JetStream keeps the commands and the consumers' state on disk)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bpp.devices.agent import DeviceAgent
from bpp.devices.bus import DeviceBus
from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import CredentialStore, Role
from bpp.devices.errors import BusUnavailable
from schemas.devices import Ack, AckStatus, Command, DeviceKind
from tests.devices.conftest import FAST, SMALL, EventLog, listen, start_server
from tests.devices.factories import command, device

pytestmark = pytest.mark.timeout(120)

LIFECYCLE = [AckStatus.RECEIVED, AckStatus.STARTED, AckStatus.COMPLETED]


async def publish_with_retry(bus: DeviceBus, order: Command) -> None:
    """What the BPP's outbox does: try again until JetStream confirms (Nats-Msg-Id makes it safe)."""
    for _ in range(100):
        try:
            await bus.publish_command(order)
            return
        except BusUnavailable:
            await asyncio.wait_for(bus.connection.reconnect_signal().wait(), 10)
    raise AssertionError("the command was never stored")


async def test_a_server_crash_loses_no_command_and_applies_none_twice(tmp_path: Path) -> None:
    store = CredentialStore("agg-crash")
    service = BusCredentials(nkey_seed=store.issue(Role.SERVICE, "bpp"))
    device_key = BusCredentials(nkey_seed=store.issue(Role.DEVICE, "dev-1"))
    server = start_server(tmp_path / "nats", store.authorization_block())
    bus = DeviceBus(server.url, store.aggregator, credentials=service, limits=SMALL, publish_timeout=2.0)
    adapter = device("dev-1", DeviceKind.BATTERY, soc=0.9)
    agent = DeviceAgent(server.url, store.aggregator, adapter, device_key, timings=FAST)
    try:
        await bus.connect()
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        await agent.start()
        await asyncio.wait_for(agent.ready.wait(), 20)

        first = command("dev-1", seconds=3.0)
        await bus.publish_command(first)
        await log.wait_for(lambda log: AckStatus.STARTED in log.statuses(first.command_id), what="STARTED")

        server.kill()
        second = command("dev-1", start_in=3.5, seconds=1.0)
        with pytest.raises(BusUnavailable):
            await bus.publish_command(second)
        server.start()

        await publish_with_retry(bus, second)
        await publish_with_retry(bus, first)  # an outbox unsure about the first one sends it again
        third = command("dev-1", start_in=5.0, seconds=1.0)
        await publish_with_retry(bus, third)

        orders = [first, second, third]
        await log.wait_for(
            lambda log: all(AckStatus.COMPLETED in log.statuses(order.command_id) for order in orders),
            timeout=40,
            what="all three commands completed",
        )
        # The stream holds each (command, status) once. The BPP may hear some again after the crash (its
        # consumer's acks were not yet on disk), always the same stored message: its handler dedupes.
        assert [log.stored_statuses(order.command_id) for order in orders] == [LIFECYCLE] * 3
        heard = [
            (event.stream_sequence, event.message) for event in log.events if isinstance(event.message, Ack)
        ]
        assert len({sequence for sequence, _ in heard}) == 9
        assert len({(ack.command_id, ack.status) for _, ack in heard}) == 9
        assert adapter.applied == [order.command_id for order in orders]
        info = await bus.connection.js.stream_info(bus.layout.command_stream)
        assert info.state.messages == 3
    finally:
        await agent.stop()
        await bus.close()
        server.stop()
