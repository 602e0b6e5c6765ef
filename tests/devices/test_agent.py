"""A device agent against a real nats-server: the IEEE 2030.5 lifecycle, as the BPP hears it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bpp.devices.adapters import BatteryAdapter, SimulatedDevice
from bpp.devices.agent import DeviceAgent
from bpp.devices.bus import DeviceBus
from bpp.devices.ledger import CommandLedger
from schemas.devices import AckStatus, Command, CommandKind, DeviceKind, SetpointType
from tests.devices.conftest import FAST, Aggregator, EventLog, listen
from tests.devices.factories import RESPONSE, command, device

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def running(agg: Aggregator, adapter: SimulatedDevice, **options: object) -> AsyncIterator[DeviceAgent]:
    agent = DeviceAgent(
        agg.url,
        agg.id,
        adapter,
        agg.device(adapter.profile.device_id),
        timings=FAST,
        **options,  # type: ignore[arg-type]
    )
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


@asynccontextmanager
async def bpp(agg: Aggregator) -> AsyncIterator[tuple[DeviceBus, EventLog]]:
    async with agg.bus() as bus:
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        yield bus, log


LIFECYCLE = [AckStatus.RECEIVED, AckStatus.STARTED, AckStatus.COMPLETED]

CASES = [
    # kind, setpoint, telemetry before, telemetry while responding
    (DeviceKind.BATTERY, (SetpointType.DISPATCH_SETPOINT, 3.0), 0.0, -3.0),
    (DeviceKind.FLEXIBLE_LOAD, (SetpointType.DISPATCH_SETPOINT, 1.5), 4.0, 2.5),
    (DeviceKind.EV_CHARGER, (SetpointType.IMPORT_CAPACITY_LIMIT, 0.0), 4.0, 0.0),
    (DeviceKind.SOLAR_INVERTER, (SetpointType.EXPORT_CAPACITY_LIMIT, 1.0), -4.0, -1.0),
]


@pytest.mark.parametrize(
    ("kind", "setpoint", "before", "during"), CASES, ids=[str(case[0]) for case in CASES]
)
async def test_a_command_is_received_started_completed_and_the_meter_shows_it(
    aggregator: Callable[..., Aggregator],
    kind: DeviceKind,
    setpoint: tuple[SetpointType, float],
    before: float,
    during: float,
) -> None:
    agg = aggregator(["dev-1"])
    adapter = device("dev-1", kind)
    async with bpp(agg) as (bus, log), running(agg, adapter) as agent:
        await log.wait_for(lambda log: "dev-1" in log.announced(), what="the announcement")
        await log.wait_for(lambda log: bool(log.telemetry("dev-1")), what="baseline telemetry")
        assert log.telemetry("dev-1")[-1].power_kw == before

        order = command("dev-1", RESPONSE[kind], setpoint=setpoint, seconds=1.5)
        await bus.publish_command(order)
        await log.wait_for(
            lambda log: log.statuses(order.command_id) == LIFECYCLE, what="the whole lifecycle"
        )

        powers = [reading.power_kw for reading in log.telemetry("dev-1")]
        assert during in powers, f"no reading at {during} kW in {powers}"
        completed = log.acks(order.command_id)[-1]
        assert completed.delivered_kw == pytest.approx(abs(before - during), rel=0.05)
        assert adapter.applied == [order.command_id]
        assert agent.ready.is_set()


async def test_a_redelivered_command_is_neither_reapplied_nor_answered_twice(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator(["dev-1"])
    adapter = device("dev-1", DeviceKind.BATTERY)
    async with bpp(agg) as (bus, log), running(agg, adapter) as agent:
        order = command("dev-1", seconds=2.0)
        await bus.publish_command(order)
        await log.wait_for(lambda log: AckStatus.STARTED in log.statuses(order.command_id), what="STARTED")
        # The same command again under another message id: JetStream stores and delivers it again.
        await bus.connection.js.publish(
            bus.subjects.cmd("dev-1"), order.to_json(), headers={"Nats-Msg-Id": "retry-after-crash"}
        )
        await log.wait_for(
            lambda log: AckStatus.COMPLETED in log.statuses(order.command_id), what="COMPLETED"
        )
        await bus.connection.js.publish(
            bus.subjects.cmd("dev-1"), order.to_json(), headers={"Nats-Msg-Id": "late-retry"}
        )
        marker = command("dev-1", seconds=0.5)
        await bus.publish_command(marker)
        await log.wait_for(
            lambda log: AckStatus.COMPLETED in log.statuses(marker.command_id), what="the marker"
        )

        assert log.statuses(order.command_id) == LIFECYCLE
        assert adapter.applied == [order.command_id, marker.command_id]
        assert agent.counters.redeliveries == 2


async def test_a_restarted_agent_with_a_ledger_resumes_without_repeating_itself(
    aggregator: Callable[..., Aggregator], tmp_path: Path
) -> None:
    agg = aggregator(["dev-1"])
    ledger_file = tmp_path / "dev-1.ledger"
    async with bpp(agg) as (bus, log):
        order = command("dev-1", seconds=3.0)
        async with running(agg, device("dev-1", DeviceKind.BATTERY), ledger=CommandLedger(ledger_file)):
            await bus.publish_command(order)
            await log.wait_for(
                lambda log: AckStatus.STARTED in log.statuses(order.command_id), what="STARTED"
            )
        # Stopped mid-command: its message was never acked, so JetStream delivers it again.
        adapter = device("dev-1", DeviceKind.BATTERY)
        async with running(agg, adapter, ledger=CommandLedger(ledger_file)):
            await log.wait_for(
                lambda log: AckStatus.COMPLETED in log.statuses(order.command_id), what="COMPLETED"
            )
        assert log.statuses(order.command_id) == LIFECYCLE
        assert adapter.applied == [order.command_id]


async def test_a_command_sent_while_the_agent_was_offline_is_applied_when_it_connects(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator(["dev-1"])
    async with bpp(agg) as (bus, log):
        order = command("dev-1", seconds=2.0)
        stale = command("dev-1", seconds=0.001, start_in=-10.0)
        await bus.publish_command(stale)
        await bus.publish_command(order)
        adapter = device("dev-1", DeviceKind.BATTERY)
        async with running(agg, adapter):
            await log.wait_for(lambda log: log.statuses(order.command_id) == LIFECYCLE, what="the lifecycle")
        assert log.statuses(stale.command_id) == [AckStatus.RECEIVED, AckStatus.EXPIRED]
        assert adapter.applied == [order.command_id]


async def test_a_customer_who_always_overrides_opts_out(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-1"])
    adapter = device("dev-1", DeviceKind.FLEXIBLE_LOAD, opt_out_rate=1.0)
    async with bpp(agg) as (bus, log), running(agg, adapter):
        order = command("dev-1", CommandKind.SHED, seconds=1.0)
        await bus.publish_command(order)
        await log.wait_for(
            lambda log: AckStatus.OPTED_OUT in log.statuses(order.command_id), what="OPTED_OUT"
        )
        assert log.statuses(order.command_id) == [AckStatus.RECEIVED, AckStatus.OPTED_OUT]
        assert adapter.applied == []


async def test_a_battery_low_on_charge_delivers_partially(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-1"])
    # 0.0004 kWh above the floor: 3 kW drains it in about half a second of a two-second window.
    adapter = device("dev-1", DeviceKind.BATTERY, soc=0.1004, capacity_kwh=1.0)
    async with bpp(agg) as (bus, log), running(agg, adapter):
        order = command("dev-1", setpoint=(SetpointType.DISPATCH_SETPOINT, 3.0), seconds=2.0)
        await bus.publish_command(order)
        await log.wait_for(lambda log: len(log.statuses(order.command_id)) == 3, what="a final status")
        final = log.acks(order.command_id)[-1]
        assert final.status is AckStatus.PARTIAL
        assert final.reason == "state of charge reached its floor"
        assert final.delivered_kw is not None and 0.3 < final.delivered_kw < 2.0
        assert any(reading.state == "DEPLETED" for reading in log.telemetry("dev-1"))


async def test_release_cancels_and_an_overlapping_command_supersedes(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator(["dev-1"])
    adapter = device("dev-1", DeviceKind.BATTERY)
    async with bpp(agg) as (bus, log), running(agg, adapter):
        first = command("dev-1", order_id="order-a", seconds=60.0)
        await bus.publish_command(first)
        await log.wait_for(lambda log: AckStatus.STARTED in log.statuses(first.command_id), what="STARTED")
        second = command(
            "dev-1", order_id="order-a", setpoint=(SetpointType.DISPATCH_SETPOINT, 2.0), seconds=60.0
        )
        await bus.publish_command(second)
        await log.wait_for(
            lambda log: AckStatus.STARTED in log.statuses(second.command_id), what="the new one"
        )
        release = command("dev-1", CommandKind.RELEASE, setpoint=None, order_id="order-a", seconds=60.0)
        await bus.publish_command(release)
        await log.wait_for(
            lambda log: AckStatus.COMPLETED in log.statuses(release.command_id), what="RELEASE"
        )

        assert log.statuses(first.command_id) == [AckStatus.RECEIVED, AckStatus.STARTED, AckStatus.SUPERSEDED]
        assert log.statuses(second.command_id) == [AckStatus.RECEIVED, AckStatus.STARTED, AckStatus.CANCELLED]
        assert log.statuses(release.command_id) == [AckStatus.RECEIVED, AckStatus.COMPLETED]
        assert (await adapter.read()).power_kw == 0.0


async def test_a_command_the_device_cannot_follow_is_rejected(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-1"])
    async with bpp(agg) as (bus, log), running(agg, device("dev-1", DeviceKind.SOLAR_INVERTER)):
        order = command("dev-1", CommandKind.DISCHARGE)
        await bus.publish_command(order)
        await log.wait_for(lambda log: AckStatus.REJECTED in log.statuses(order.command_id), what="REJECTED")
        assert log.acks(order.command_id)[-1].reason == "a solar inverter cannot discharge"


async def test_every_ack_in_the_stream_is_unique(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-1"])
    async with bpp(agg) as (bus, log), running(agg, device("dev-1", DeviceKind.FLEXIBLE_LOAD)):
        orders = [
            command(
                "dev-1",
                CommandKind.SHED,
                setpoint=(SetpointType.DISPATCH_SETPOINT, 1.0),
                start_in=0.6 * n,
                seconds=0.5,
            )
            for n in range(3)
        ]
        for order in orders:
            await bus.publish_command(order)
        last = orders[-1].command_id
        await log.wait_for(lambda log: AckStatus.COMPLETED in log.statuses(last), what="the last command")
        assert [log.statuses(order.command_id) for order in orders] == [LIFECYCLE] * 3
        keys = Counter(ack.key for ack in log.acks())
        assert keys and max(keys.values()) == 1


class BrokenBattery(BatteryAdapter):
    """A device integration whose apply fails (a Modbus timeout, say)."""

    async def apply(self, command: Command) -> None:
        raise OSError("modbus timeout")


async def test_a_device_that_fails_to_apply_rejects_and_the_agent_goes_on(
    aggregator: Callable[..., Aggregator],
) -> None:
    agg = aggregator(["dev-1"])
    working = device("dev-1", DeviceKind.BATTERY)
    assert isinstance(working, BatteryAdapter)
    broken = BrokenBattery(working.profile, soc=0.5, shape=working.shape)
    async with bpp(agg) as (bus, log), running(agg, broken):
        first, second = command("dev-1", seconds=0.3), command("dev-1", start_in=0.5, seconds=0.3)
        await bus.publish_command(first)
        await bus.publish_command(second)
        await log.wait_for(
            lambda log: AckStatus.REJECTED in log.statuses(second.command_id), what="two answers"
        )
        assert log.acks(first.command_id)[-1].reason == "device error: modbus timeout"
        assert log.statuses(first.command_id) == [AckStatus.RECEIVED, AckStatus.REJECTED]
