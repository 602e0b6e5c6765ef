"""The outbox towards NATS (`bpp.dispatch.publisher`) against a real nats-server, on SQLite and PostgreSQL:
due commands reach JetStream once however often they are sent, an outage keeps them PENDING, a device's
commands within an order leave in the order they were made, and a command whose window is over is not
sent at all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.bus import DeviceBus
from bpp.dispatch.commands import release_commands, wire_command
from bpp.dispatch.models import CommandStatus, DeviceCommand
from bpp.dispatch.publisher import CommandPublisher
from bpp.dispatch.repository import CommandRepository, PlanRepository
from bpp.orders import service as orders
from participant.app import unit_of_work
from tests.devices.conftest import Aggregator
from tests.dispatch.factories import T0, WINDOW, bus_for, load_spec, planned_order, settings

pytestmark = pytest.mark.timeout(60)

DUE = WINDOW.start  # lead time 2 h below: everything is due from T0 on


@pytest.fixture
async def bus(aggregator: Callable[..., Aggregator]) -> AsyncIterator[DeviceBus]:
    agg = aggregator()
    device_bus = bus_for(agg.url, agg.id, agg.service)
    await device_bus.connect()
    await device_bus.ensure_streams()
    try:
        yield device_bus
    finally:
        await device_bus.close()


async def stored(bus: DeviceBus) -> int:
    info = await bus.connection.js.stream_info(bus.layout.command_stream)
    return int(info.state.messages)


async def rows(factory: async_sessionmaker[AsyncSession], order_id: str) -> list[DeviceCommand]:
    async with unit_of_work(factory) as session:
        return list(await CommandRepository(session).of_order(order_id, include_releases=True))


async def order_with_commands(
    factory: async_sessionmaker[AsyncSession], database_url: str, kw: str = "8"
) -> str:
    bpp = settings(database_url, dispatch_lead_time=timedelta(hours=2))
    return await planned_order(factory, bpp, devices=[load_spec(name) for name in "abc"], kw=kw)


async def test_due_commands_reach_jetstream_once_even_when_sent_again(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, bus: DeviceBus
) -> None:
    order_id = await order_with_commands(session_factory, database_url)
    first, second = await rows(session_factory, order_id)
    # A replica published `first` and died before recording it: JetStream has it, the row says PENDING.
    await bus.publish_command(wire_command(first))
    crashed = CommandPublisher(session_factory, bus, worker_id="crashed", lease=timedelta(seconds=30))
    async with unit_of_work(session_factory) as session:
        await CommandRepository(session).claim_due(
            worker_id="crashed", now=T0, lease_until=T0 + timedelta(seconds=30), limit=10
        )

    publisher = CommandPublisher(session_factory, bus, worker_id="next")
    assert (await publisher.publish_due(T0)).claimed == 0  # the dead replica's lease still holds
    outcome = await publisher.publish_due(T0 + timedelta(seconds=31))
    assert (outcome.claimed, outcome.published, outcome.duplicates, outcome.orders) == (2, 2, 1, {order_id})
    assert await stored(bus) == 2
    assert {(row.status, row.stream_seq is not None) for row in await rows(session_factory, order_id)} == {
        (CommandStatus.PUBLISHED, True)
    }
    assert (await publisher.publish_due(T0 + timedelta(seconds=32))).claimed == 0
    assert crashed.totals.published == 0
    async with unit_of_work(session_factory) as session:
        plan = await PlanRepository(session).get(order_id)
    assert plan is not None and plan.pokes >= 1  # the plan is told to look (SCHEDULED → DISPATCHED)


async def test_an_ack_before_the_publish_is_recorded_is_kept(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, bus: DeviceBus
) -> None:
    order_id = await order_with_commands(session_factory, database_url)
    first, _ = await rows(session_factory, order_id)
    async with unit_of_work(session_factory) as session:
        await CommandRepository(session).set_status(
            [first.id], CommandStatus.RECEIVED, now=T0, only_from=[CommandStatus.PENDING]
        )
        await CommandRepository(session).mark_published([(first.id, 7)], worker_id="w", now=T0)
    first, _ = await rows(session_factory, order_id)
    assert (first.status, first.stream_seq) == (CommandStatus.RECEIVED, 7)


async def test_without_nats_commands_stay_pending_and_go_out_once_it_is_back(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    aggregator: Callable[..., Aggregator],
    bus: DeviceBus,
) -> None:
    agg = aggregator()
    offline = bus_for(agg.url, agg.id, agg.service)  # never connected
    order_id = await order_with_commands(session_factory, database_url)
    publisher = CommandPublisher(session_factory, offline, worker_id="w")
    outcome = await publisher.publish_due(T0)
    assert (outcome.claimed, outcome.published, outcome.failed) == (2, 0, 2)
    commands = await rows(session_factory, order_id)
    assert {row.status for row in commands} == {CommandStatus.PENDING}
    assert all(row.last_error and "disconnected" in row.last_error for row in commands)
    assert all(row.lease_until is not None and row.lease_until > T0 for row in commands)  # backing off
    assert (await publisher.publish_due(T0)).claimed == 0

    # NATS is back (the dispatcher sees the reconnect): the backoff is cut short.
    assert await publisher.retry_now() == 2
    outcome = await CommandPublisher(session_factory, bus, worker_id="w").publish_due(T0)
    assert (outcome.claimed, outcome.published) == (2, 2)
    assert {row.status for row in await rows(session_factory, order_id)} == {CommandStatus.PUBLISHED}


async def test_within_an_order_a_device_hears_its_release_before_its_new_command(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, bus: DeviceBus
) -> None:
    order_id = await order_with_commands(session_factory, database_url, kw="4")  # one device, a
    async with unit_of_work(session_factory) as session:
        order = await orders.get(session, order_id)
        plan = await PlanRepository(session).get(order_id)
        assert plan is not None
        (command,) = await CommandRepository(session).of_order(order_id)
        await CommandRepository(session).set_status(
            [command.id], CommandStatus.SUPERSEDED, now=T0, only_from=[CommandStatus.PENDING]
        )
        release = release_commands(order, plan, [command.device_id], T0)
        renewed = DeviceCommand(
            **{**_columns(command), "command_id": "renewed", "status": CommandStatus.PENDING}
        )
        await CommandRepository(session).add_all([*release, renewed])

    async with unit_of_work(session_factory) as session:
        first = await CommandRepository(session).claim_due(worker_id="w", now=DUE, lease_until=DUE, limit=10)
    assert [row.kind.value for row in first] == ["RELEASE"]  # the new command waits for it
    async with unit_of_work(session_factory) as session:
        await CommandRepository(session).mark_published([(first[0].id, 1)], worker_id="w", now=DUE)
        second = await CommandRepository(session).claim_due(worker_id="w", now=DUE, lease_until=DUE, limit=10)
    assert [row.command_id for row in second] == ["renewed"]


async def test_a_command_whose_window_is_over_is_never_sent(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, bus: DeviceBus
) -> None:
    order_id = await order_with_commands(session_factory, database_url)
    outcome = await CommandPublisher(session_factory, bus, worker_id="w").publish_due(WINDOW.end)
    assert (outcome.claimed, outcome.orders) == (0, {order_id})
    assert {(row.status, row.published_at) for row in await rows(session_factory, order_id)} == {
        (CommandStatus.EXPIRED, None)
    }
    assert await stored(bus) == 0


def _columns(command: DeviceCommand) -> dict[str, object]:
    names = [column.key for column in DeviceCommand.__table__.columns if column.key != "id"]
    return {name: getattr(command, name) for name in names}
