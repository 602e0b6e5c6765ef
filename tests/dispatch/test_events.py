"""What the BPP does with device events (`bpp.dispatch.events`), on SQLite and PostgreSQL: acks are stored
once per (command, status) and only ever move a command forward; telemetry lands in interval buckets,
counted once however often it is delivered; announcements register devices, a bad one is skipped."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.events import DeviceEvent
from bpp.dispatch.events import EventOutcome, handle_events
from bpp.dispatch.models import CommandAck, CommandStatus, DeviceCommand, DeviceReading
from bpp.dispatch.repository import CommandRepository, PlanRepository
from bpp.fleet.models import Der, DerStatus
from participant.app import unit_of_work
from schemas.devices import Ack, AckStatus, Announce, Channel, DeviceKind, Telemetry
from tests.dispatch.factories import NODE, T0, load_spec, planned_order, settings

BUCKET = timedelta(seconds=5)
_sequence = itertools.count(1)


def ack(command: DeviceCommand, status: AckStatus, *, at: datetime = T0, **fields: object) -> DeviceEvent:
    message = Ack(command_id=command.command_id, device_id=command.device_id, status=status, at=at, **fields)
    return DeviceEvent(Channel.ACK, command.device_id, message, next(_sequence), 1)


def reading(device_id: str, at: datetime, kw: float, *, soc: float | None = None) -> DeviceEvent:
    message = Telemetry(device_id=device_id, ts=at, power_kw=kw, soc=soc, state="CONSUMING")
    return DeviceEvent(Channel.TELEMETRY, device_id, message, next(_sequence), 1)


def hello(device_id: str, kind: DeviceKind = DeviceKind.FLEXIBLE_LOAD, **fields: object) -> DeviceEvent:
    values: dict[str, object] = {"rated_kw": 10.0, "flex_kw": 5.0, "grid_node": NODE, "at": T0, **fields}
    message = Announce(device_id=device_id, kind=kind, **values)
    return DeviceEvent(Channel.ANNOUNCE, device_id, message, next(_sequence), 1)


async def handle(factory: async_sessionmaker[AsyncSession], *events: DeviceEvent) -> EventOutcome:
    async with unit_of_work(factory) as session:
        return await handle_events(session, list(events), bucket=BUCKET, now=T0)


async def commands_of(factory: async_sessionmaker[AsyncSession], order_id: str) -> list[DeviceCommand]:
    async with unit_of_work(factory) as session:
        return list(await CommandRepository(session).of_order(order_id))


async def test_an_ack_counts_once_and_a_command_only_moves_forward(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)
    order_id = await planned_order(session_factory, bpp, devices=[load_spec("a"), load_spec("b")], kw="8")
    first, second = await commands_of(session_factory, order_id)
    async with unit_of_work(session_factory) as session:
        pokes = (await PlanRepository(session).get(order_id)).pokes  # type: ignore[union-attr]

    received, started = ack(first, AckStatus.RECEIVED), ack(first, AckStatus.STARTED)
    outcome = await handle(session_factory, received, received, started)
    assert (outcome.acks, outcome.duplicate_acks, outcome.poked) == (2, 1, {order_id})
    again = await handle(session_factory, received, started)  # redelivered after a crash
    assert (again.acks, again.duplicate_acks, again.poked) == (0, 2, set())

    late = await handle(session_factory, ack(first, AckStatus.RECEIVED, at=T0 + timedelta(seconds=9)))
    assert late.acks == 0  # a repeat of (command, RECEIVED), whatever its time
    done = ack(first, AckStatus.COMPLETED, delivered_kw=4.9996)
    refused = ack(second, AckStatus.REJECTED, reason="no vehicle is plugged in")
    await handle(session_factory, done, refused, ack(second, AckStatus.RECEIVED))

    first, second = await commands_of(session_factory, order_id)
    assert (first.status, first.delivered_kw, first.started_at) == (CommandStatus.COMPLETED, Decimal("5"), T0)
    # RECEIVED came after REJECTED in the batch (stream order): a final word stays final.
    assert (second.status, second.reason) == (CommandStatus.REJECTED, "no vehicle is plugged in")
    async with unit_of_work(session_factory) as session:
        stored = await session.scalar(select(func.count()).select_from(CommandAck))
        plan = await PlanRepository(session).get(order_id)
    assert stored == 5
    assert plan is not None and plan.pokes == pokes + 2 and plan.next_check_at == T0


async def test_acks_for_unknown_commands_are_ignored(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)
    order_id = await planned_order(session_factory, bpp, devices=[load_spec("a")], kw="4")
    (command,) = await commands_of(session_factory, order_id)
    stranger = DeviceCommand(command_id="not-ours", device_id="a")
    impostor = DeviceCommand(command_id=command.command_id, device_id="b")  # another device's command
    outcome = await handle(
        session_factory, ack(stranger, AckStatus.RECEIVED), ack(impostor, AckStatus.OPTED_OUT)
    )
    assert (outcome.acks, outcome.poked) == (0, set())
    (command,) = await commands_of(session_factory, order_id)
    assert command.status is CommandStatus.PENDING


async def test_telemetry_fills_interval_buckets_once(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with unit_of_work(session_factory) as session:
        await handle_events(
            session, [hello("bat", DeviceKind.BATTERY, battery_capacity_kwh=10.0)], bucket=BUCKET, now=T0
        )
    samples = [
        reading("bat", T0 + timedelta(seconds=1), 2.0),
        reading("bat", T0 + timedelta(seconds=3), 4.0, soc=0.5),
        reading("bat", T0 + timedelta(seconds=6), -1.0, soc=0.4),  # the next 5 s bucket
    ]
    assert (await handle(session_factory, *samples[:2])).telemetry == 2
    assert (await handle(session_factory, *samples)).telemetry == 1  # the first two again: not counted
    assert (await handle(session_factory, *samples)).telemetry == 0

    async with unit_of_work(session_factory) as session:
        buckets = list(await session.scalars(select(DeviceReading).order_by(DeviceReading.bucket_start)))
        der = await session.get(Der, "bat")
    assert [(b.bucket_start, b.samples, b.sum_kw, b.min_kw, b.max_kw, b.soc) for b in buckets] == [
        (T0, 2, Decimal("6"), Decimal("2"), Decimal("4"), 0.5),
        (T0 + BUCKET, 1, Decimal("-1"), Decimal("-1"), Decimal("-1"), 0.4),
    ]
    assert der is not None and (der.last_seen_at, der.state_of_charge) == (T0 + timedelta(seconds=6), 0.4)


async def test_announcements_register_devices_and_a_bad_one_spoils_nothing(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await handle(session_factory, hello("load-1"))
    outcome = await handle(
        session_factory,
        hello("load-1", DeviceKind.EV_CHARGER),  # registered as a load: a misconfigured agent
        hello("load-2", flex_kw=2.5),
    )
    assert outcome.announcements == 1
    async with unit_of_work(session_factory) as session:
        ders = {der.device_id: der for der in await session.scalars(select(Der))}
    assert set(ders) == {"load-1", "load-2"}
    assert ders["load-1"].kind.value == "FLEXIBLE_LOAD" and ders["load-2"].flex_kw == Decimal("2.5")
    assert {der.status for der in ders.values()} == {DerStatus.ONLINE}
