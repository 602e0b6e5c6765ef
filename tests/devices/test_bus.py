"""The aggregator's bus on a real nats-server: streams, deduped commands, a durable event consumer."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bpp.devices.bus import DeviceBus, nak_delay
from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import new_user_seed
from bpp.devices.errors import BusPermissionDenied, BusUnavailable
from bpp.devices.events import DeviceEvent
from bpp.devices.streams import StreamChange
from schemas.devices import Ack, AckStatus, Telemetry
from tests.devices.conftest import SMALL, Aggregator, EventLog, listen, start_server
from tests.devices.factories import command
from tests.support.servers import free_port


async def test_streams_are_created_once_then_left_alone_then_updated(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator()
    async with agg.bus() as bus:
        first = await bus.ensure_streams()
        assert set(first.values()) == {StreamChange.CREATED}
        assert set((await bus.ensure_streams()).values()) == {StreamChange.UNCHANGED}
        info = await bus.connection.js.stream_info(bus.layout.command_stream)
        assert info.config.subjects == [f"degflex.{agg.id}.cmd.>"]
        assert info.config.duplicate_window == pytest.approx(SMALL.command_duplicate_window)
        assert info.config.max_consumers == SMALL.command_max_consumers  # one per device, beyond 1000

    shorter = dataclasses.replace(SMALL, event_max_age=3600.0)
    async with agg.bus(limits=shorter) as bus:
        changes = await bus.ensure_streams()
        assert changes[bus.layout.event_stream] is StreamChange.UPDATED
        assert changes[bus.layout.command_stream] is StreamChange.UNCHANGED
        info = await bus.connection.js.stream_info(bus.layout.event_stream)
        assert info.config.max_age == pytest.approx(3600.0)
        assert sorted(info.config.subjects or []) == sorted(bus.subjects.all_events)


async def test_a_republished_command_is_stored_once(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator()
    async with agg.bus() as bus:
        await bus.ensure_streams()
        order = command("bat-1")
        seq, duplicate = await bus.publish_command(order)
        assert (seq, duplicate) == (1, False)
        assert await bus.publish_command(order) == (1, True)
        other = await bus.publish_command(command("bat-1"))
        assert other == (2, False)
        info = await bus.connection.js.stream_info(bus.layout.command_stream)
        assert info.state.messages == 2


async def test_events_sent_while_the_bpp_was_down_arrive_when_it_is_back(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator()
    async with agg.bus() as bus:
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        await publish_ack(bus, "c-1", AckStatus.RECEIVED)
        await log.wait_for(lambda log: log.statuses("c-1") == [AckStatus.RECEIVED], what="the first ack")

    # The BPP is down: a device keeps talking.
    async with agg.bus() as device_side:
        await publish_ack(device_side, "c-1", AckStatus.STARTED)
        await publish_ack(device_side, "c-1", AckStatus.COMPLETED)

    async with agg.bus() as bus:
        log = EventLog()
        await listen(bus, log)
        await log.wait_for(
            lambda log: log.statuses("c-1") == [AckStatus.STARTED, AckStatus.COMPLETED],
            what="the acks sent while the BPP was down, and only those",
        )
        assert all(event.deliveries == 1 for event in log.events)


async def test_a_failing_handler_gets_the_event_again_and_the_loop_goes_on(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator()
    async with agg.bus() as bus:
        await bus.ensure_streams()
        seen: list[DeviceEvent] = []
        done = asyncio.Event()

        async def flaky(event: DeviceEvent) -> None:
            seen.append(event)
            assert isinstance(event.message, Ack)
            if event.message.command_id == "c-1" and event.deliveries == 1:
                raise RuntimeError("database hiccup")
            if event.message.command_id == "c-1":
                done.set()

        subscription = await bus.subscribe_events(flaky, fetch_timeout=2.0)
        await subscription.ready()
        await publish_ack(bus, "c-1", AckStatus.RECEIVED)
        await publish_ack(bus, "c-2", AckStatus.RECEIVED)
        await asyncio.wait_for(done.wait(), 20)
        deliveries = [(e.message.command_id, e.deliveries) for e in seen if isinstance(e.message, Ack)]
        assert deliveries == [("c-1", 1), ("c-2", 1), ("c-1", 2)]


async def test_a_malformed_event_is_dropped_not_retried(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator()
    async with agg.bus() as bus:
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        js = bus.connection.js
        await js.publish(bus.subjects.telemetry("dev-1"), b'{"device_id": "dev-1"}')
        forged = Telemetry(device_id="dev-2", ts=command("x").issued_at, power_kw=1.0, state="IDLE")
        await js.publish(bus.subjects.telemetry("dev-1"), forged.to_json())
        await publish_ack(bus, "c-9", AckStatus.RECEIVED)
        await log.wait_for(lambda log: bool(log.acks("c-9")), what="the good event after two bad ones")
        assert [event.message for event in log.events if isinstance(event.message, Telemetry)] == []

        async def settled() -> bool:
            info = await js.consumer_info(bus.layout.event_stream, bus.events_consumer)
            return bool(info.num_ack_pending == 0 and info.delivered.stream_seq == 3)

        await poll(settled, what="the consumer to settle: the bad two terminated, the good one acked")
        info = await js.consumer_info(bus.layout.event_stream, bus.events_consumer)
        assert info.num_redelivered == 0 and info.num_pending == 0


def test_nak_delay_grows_and_is_capped() -> None:
    assert [nak_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert nak_delay(30) == 60.0


async def test_wrong_credentials_are_refused_and_said_once_however_often_it_retries(
    aggregator: Callable[..., Aggregator], caplog: pytest.LogCaptureFixture
) -> None:
    agg = aggregator(["dev-1"])
    stranger = DeviceBus(agg.url, agg.id, credentials=BusCredentials(nkey_seed=new_user_seed()[0]))
    stranger.connection.reconnect_wait = 0.2
    caplog.set_level(logging.DEBUG, logger="bpp.devices.connection")
    with pytest.raises(BusPermissionDenied):
        await stranger.connect(timeout=3.0)
    await stranger.close()
    refusals = [record for record in caplog.records if record.getMessage() == "NATS refused the credentials"]
    assert len(refusals) >= 2, "the client tried more than once"
    assert [record.levelno for record in refusals].count(logging.ERROR) == 1


async def test_publishing_while_disconnected_fails_fast_and_succeeds_after(tmp_path: Path) -> None:
    server = start_server(tmp_path / "nats", None)
    try:
        bus = DeviceBus(server.url, "agg-1")
        await bus.connect()
        await bus.ensure_streams()
        order = command("bat-1")
        server.kill()
        with pytest.raises(BusUnavailable):
            for _ in range(200):  # the client notices the dead socket within a few event-loop turns
                await bus.publish_command(order)
                await asyncio.sleep(0)
        server.start()
        await asyncio.wait_for(bus.connection.reconnect_signal().wait(), 20)
        assert await bus.publish_command(order) == (1, False)
        await bus.close()
    finally:
        server.stop()


async def test_connecting_to_nothing_is_unavailable() -> None:
    bus = DeviceBus(f"nats://127.0.0.1:{free_port()}", "agg-1")
    with pytest.raises(BusUnavailable):
        await bus.connect(timeout=1.0)


async def publish_ack(bus: DeviceBus, command_id: str, status: AckStatus) -> None:
    ack = Ack(command_id=command_id, device_id="dev-1", status=status, at=command("x").issued_at)
    await bus.connection.js.publish(bus.subjects.ack("dev-1"), ack.to_json(), stream=bus.layout.event_stream)


async def poll(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
