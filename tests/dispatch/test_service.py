"""Dispatch rules on SQLite and PostgreSQL with the clock in the test's hands (no NATS): allocation and its
timing, rotation across orders, no double booking, reschedule and cancel, silence, the DISPATCHED step,
when an event is measured and settled, and replicas sharing the work through leases."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.dispatch import service
from bpp.dispatch.models import CommandStatus, DeviceCommand, DeviceParticipation, PlanPhase
from bpp.dispatch.repository import CommandRepository, PlanRepository
from bpp.orders import service as orders
from bpp.orders.requests import CancelRequest, OrderChange, Window
from bpp.orders.service import OrderRules
from bpp.orders.states import FulfillmentState
from participant.app import unit_of_work
from participant.messagelog import MessageRecord
from schemas.devices import AckStatus, CommandKind
from tests.dispatch.factories import (
    T0,
    WINDOW,
    confirm,
    load_spec,
    planned_order,
    settings,
    tick_context,
)

pytestmark = pytest.mark.timeout(60)

LOADS = [load_spec(name) for name in ("a", "b", "c", "d")]


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


async def commands(
    factory: async_sessionmaker[AsyncSession], order_id: str, *, releases: bool = False
) -> list[DeviceCommand]:
    async with unit_of_work(factory) as session:
        return list(await CommandRepository(session).of_order(order_id, include_releases=releases))


def setpoints(rows: list[DeviceCommand]) -> dict[str, Decimal | None]:
    return {row.device_id: row.setpoint_kw for row in rows if row.kind is not CommandKind.RELEASE}


async def publish(factory: async_sessionmaker[AsyncSession], rows: list[DeviceCommand], at: datetime) -> None:
    """As if the publisher had got JetStream's ack for these commands at `at`."""
    async with unit_of_work(factory) as session:
        await CommandRepository(session).mark_published(
            [(row.id, index + 1) for index, row in enumerate(rows)], worker_id="test", now=at
        )


async def tick(
    factory: async_sessionmaker[AsyncSession],
    database_url: str,
    order_id: str,
    at: datetime,
    **context: object,
) -> datetime:
    bpp = settings(database_url)
    async with unit_of_work(factory) as session:
        await service.intake(session, bpp.dispatch_policy, now=at)
    async with unit_of_work(factory) as session:
        return await service.tick(session, order_id, tick_context(bpp, **context), now=at)  # type: ignore[arg-type]


async def test_an_order_is_allocated_with_headroom_for_publishing_lead_time_ahead(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url, dispatch_lead_time=timedelta(minutes=5))
    order_id = await planned_order(session_factory, bpp, devices=LOADS, kw="12")
    rows = await commands(session_factory, order_id)
    assert setpoints(rows) == {"a": Decimal("5"), "b": Decimal("5"), "c": Decimal("4.4")}
    assert {(row.kind, row.setpoint_type, row.status) for row in rows} == {
        (CommandKind.SHED, "DISPATCH_SETPOINT", CommandStatus.PENDING)
    }
    assert {(row.start, row.end, row.publish_at) for row in rows} == {
        (WINDOW.start, WINDOW.end, WINDOW.start - timedelta(minutes=5))
    }
    async with unit_of_work(session_factory) as session:
        calls = {
            row.device_id: (row.calls, row.last_called_at)
            for row in await session.scalars(select(DeviceParticipation))
        }
        plan = await PlanRepository(session).get(order_id)
    assert calls == {name: (1, T0) for name in ("a", "b", "c")}
    assert plan is not None and (plan.needs_allocation, plan.shortfall_kw) == (False, Decimal("0"))


async def test_the_next_order_calls_the_devices_that_rested_and_never_double_books(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)
    first = await planned_order(session_factory, bpp, devices=LOADS, kw="8")  # a 5 + b 4.6 (of 9.6)
    later = Window(WINDOW.end, WINDOW.end + timedelta(hours=1))
    async with unit_of_work(session_factory) as session:
        second = await confirm(session, "4", later, now=T0)  # after the first: rotation picks c
        overlapping = await confirm(session, "8", WINDOW, now=T0)  # during the first: a and b are busy
    await tick(session_factory, database_url, second.id, T0)
    await tick(session_factory, database_url, overlapping.id, T0)
    assert setpoints(await commands(session_factory, first)) == {"a": Decimal("5"), "b": Decimal("4.6")}
    assert setpoints(await commands(session_factory, second.id)) == {"c": Decimal("4.8")}
    # c is free in this window (its command is for the next hour) but was called more recently than d.
    assert setpoints(await commands(session_factory, overlapping.id)) == {
        "d": Decimal("5"),
        "c": Decimal("4.6"),
    }


async def test_a_reschedule_supersedes_the_old_commands_and_releases_devices_it_drops(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)
    order_id = await planned_order(session_factory, bpp, devices=LOADS[:3], kw="8")
    old = await commands(session_factory, order_id)
    await publish(session_factory, old, T0 + s(1))
    async with unit_of_work(session_factory) as session:
        await orders.update(
            session,
            "utility.bap",
            order_id,
            OrderChange(kw=Decimal("4")),
            order_rules=OrderRules(),
            now=T0 + s(2),
        )
    await tick(session_factory, database_url, order_id, T0 + s(3))

    rows = await commands(session_factory, order_id, releases=True)
    assert [(row.device_id, row.kind, row.status, row.plan_version, row.setpoint_kw) for row in rows] == [
        ("a", CommandKind.SHED, CommandStatus.SUPERSEDED, 1, Decimal("5")),
        ("b", CommandKind.SHED, CommandStatus.SUPERSEDED, 1, Decimal("4.6")),
        # 4 kW × 1.2 now go to c, which rested; a and b may have their commands: they are told to stop,
        # before anything new is published (RELEASEs are made first).
        ("a", CommandKind.RELEASE, CommandStatus.PENDING, 2, None),
        ("b", CommandKind.RELEASE, CommandStatus.PENDING, 2, None),
        ("c", CommandKind.SHED, CommandStatus.PENDING, 2, Decimal("4.8")),
    ]


async def test_an_update_before_publishing_replaces_commands_without_releases(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)
    order_id = await planned_order(session_factory, bpp, devices=LOADS[:3], kw="8")
    moved = Window(WINDOW.start + timedelta(hours=1), WINDOW.end + timedelta(hours=1))
    async with unit_of_work(session_factory) as session:
        await orders.update(
            session,
            "utility.bap",
            order_id,
            OrderChange(window=moved),
            order_rules=OrderRules(),
            now=T0 + s(2),
        )
    await tick(session_factory, database_url, order_id, T0 + s(3))
    rows = await commands(session_factory, order_id, releases=True)
    old, new = rows[:2], rows[2:]
    assert {(row.status, row.published_at) for row in old} == {(CommandStatus.SUPERSEDED, None)}
    assert all(row.kind is not CommandKind.RELEASE for row in rows)
    assert {(row.start, row.end, row.status) for row in new} == {
        (moved.start, moved.end, CommandStatus.PENDING)
    }
    assert sum((row.setpoint_kw or Decimal(0) for row in new), Decimal(0)) == Decimal("9.6")


async def test_a_cancel_cancels_what_was_never_sent_and_releases_the_rest(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)
    order_id = await planned_order(session_factory, bpp, devices=LOADS[:3], kw="8")
    sent, unsent = await commands(session_factory, order_id)
    await publish(session_factory, [sent], T0 + s(1))
    async with unit_of_work(session_factory) as session:
        await orders.cancel(session, "utility.bap", order_id, CancelRequest(reason_id="1"), now=T0 + s(2))
    await tick(session_factory, database_url, order_id, T0 + s(3))

    rows = await commands(session_factory, order_id, releases=True)
    assert [(row.device_id, row.kind, row.status) for row in rows] == [
        (sent.device_id, CommandKind.SHED, CommandStatus.PUBLISHED),  # the device will answer CANCELLED
        (unsent.device_id, CommandKind.SHED, CommandStatus.CANCELLED),
        (sent.device_id, CommandKind.RELEASE, CommandStatus.PENDING),
    ]
    async with unit_of_work(session_factory) as session:
        plan = await PlanRepository(session).get(order_id)
    assert plan is not None and plan.phase is PlanPhase.DONE


async def test_silent_devices_are_timed_out_released_and_replaced_while_the_bpp_can_hear(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)  # ack timeout 3 s
    order_id = await planned_order(session_factory, bpp, devices=LOADS[:3], kw="8")
    rows = await commands(session_factory, order_id)
    await publish(session_factory, rows, T0 + s(10))

    # Deaf (not connected to NATS): silence proves nothing.
    await tick(session_factory, database_url, order_id, T0 + s(20), heard_since=None)
    assert {row.status for row in await commands(session_factory, order_id)} == {CommandStatus.PUBLISHED}
    # Listening since T0 + 18 s: the devices have been silent for 3 s of it only at T0 + 21 s.
    next_check = await tick(session_factory, database_url, order_id, T0 + s(20), heard_since=T0 + s(18))
    assert next_check == T0 + s(21)
    await tick(session_factory, database_url, order_id, T0 + s(21), heard_since=T0 + s(18))

    after = await commands(session_factory, order_id, releases=True)
    assert [(row.device_id, row.kind, row.status, row.spare, row.setpoint_kw) for row in after] == [
        ("a", CommandKind.SHED, CommandStatus.TIMED_OUT, False, Decimal("5")),
        ("b", CommandKind.SHED, CommandStatus.TIMED_OUT, False, Decimal("4.6")),
        ("a", CommandKind.RELEASE, CommandStatus.PENDING, False, None),
        ("b", CommandKind.RELEASE, CommandStatus.PENDING, False, None),
        # 8 kW committed, nothing live: the one spare gives its 5 kW and 3 kW stay short.
        ("c", CommandKind.SHED, CommandStatus.PENDING, True, Decimal("5")),
    ]
    async with unit_of_work(session_factory) as session:
        plan = await PlanRepository(session).get(order_id)
    assert plan is not None and plan.shortfall_kw == Decimal("3")


async def test_an_order_is_dispatched_once_its_commands_are_published_and_the_utility_told(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url)  # lead time 2 s
    order_id = await planned_order(session_factory, bpp, devices=LOADS[:3], kw="8")
    go = WINDOW.start - s(2)
    assert await tick(session_factory, database_url, order_id, go - s(60)) == go
    await tick(session_factory, database_url, order_id, go)  # due, but JetStream has nothing yet
    async with unit_of_work(session_factory) as session:
        assert (await orders.get(session, order_id)).fulfillment_state is FulfillmentState.SCHEDULED
    await publish(session_factory, await commands(session_factory, order_id), go + s(0.1))
    await tick(session_factory, database_url, order_id, go + s(0.2))
    async with unit_of_work(session_factory) as session:
        order = await orders.get(session, order_id)
        reports = list(
            await session.scalars(select(MessageRecord).where(MessageRecord.action == "on_status"))
        )
    assert order.fulfillment_state is FulfillmentState.DISPATCHED
    assert [(report.transaction_id, report.url) for report in reports] == [
        (order.transaction_id, "http://127.0.0.1:9/utility/on_status")
    ]


# -- measuring and settling after the end ---------------------------------------------------------------

GRACE = timedelta(minutes=2)
"""`dispatch_settle_grace` by default."""


async def devices_say(
    factory: async_sessionmaker[AsyncSession],
    order_id: str,
    status: CommandStatus,
    at: datetime,
    *,
    devices: set[str] | None = None,
) -> None:
    """As if the devices' acks had been stored at `at` (bpp.dispatch.events does this from NATS)."""
    async with unit_of_work(factory) as session:
        for command in await CommandRepository(session).of_order(order_id):
            if devices is None or command.device_id in devices:
                command.status, command.last_ack_status, command.last_ack_at = status, AckStatus(status), at
                if status is CommandStatus.STARTED:
                    command.started_at = at


async def running_order(factory: async_sessionmaker[AsyncSession], database_url: str) -> str:
    """8 kW (9.6 with headroom) on a and b, published, both started: IN_PROGRESS."""
    order_id = await planned_order(factory, settings(database_url), devices=LOADS[:3], kw="8")
    await publish(factory, await commands(factory, order_id), WINDOW.start - s(2))
    await tick(factory, database_url, order_id, WINDOW.start - s(1))
    await devices_say(factory, order_id, CommandStatus.STARTED, WINDOW.start)
    await tick(factory, database_url, order_id, WINDOW.start + s(1))
    assert await state(factory, order_id) is FulfillmentState.IN_PROGRESS
    return order_id


async def state(factory: async_sessionmaker[AsyncSession], order_id: str) -> FulfillmentState | None:
    async with unit_of_work(factory) as session:
        return (await orders.get(session, order_id)).fulfillment_state


async def test_an_event_is_settled_as_soon_as_every_device_has_had_its_final_word(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    order_id = await running_order(session_factory, database_url)
    await devices_say(session_factory, order_id, CommandStatus.COMPLETED, WINDOW.end, devices={"a"})
    await tick(session_factory, database_url, order_id, WINDOW.end + s(1))
    assert await state(session_factory, order_id) is FulfillmentState.IN_PROGRESS  # b has not finished
    await devices_say(session_factory, order_id, CommandStatus.PARTIAL, WINDOW.end + s(2), devices={"b"})
    await tick(session_factory, database_url, order_id, WINDOW.end + s(2))
    assert await state(session_factory, order_id) is FulfillmentState.SETTLED


async def test_a_device_that_never_finishes_is_waited_for_the_settle_grace_and_no_longer(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    order_id = await running_order(session_factory, database_url)
    await devices_say(session_factory, order_id, CommandStatus.COMPLETED, WINDOW.end, devices={"a"})
    # The BPP hears NATS throughout: b, still STARTED, has until the end + the grace.
    for moment in (WINDOW.end + s(5), WINDOW.end + GRACE - s(1)):
        next_check = await tick(session_factory, database_url, order_id, moment)
        assert await state(session_factory, order_id) is FulfillmentState.IN_PROGRESS
        assert next_check <= WINDOW.end + GRACE
    await tick(session_factory, database_url, order_id, WINDOW.end + GRACE)
    assert await state(session_factory, order_id) is FulfillmentState.SETTLED
    rows = await commands(session_factory, order_id, releases=True)
    assert [(row.device_id, row.status) for row in rows if row.kind is CommandKind.RELEASE] == [
        ("b", CommandStatus.PENDING)  # told to stop, whatever it is doing
    ]


async def test_the_settle_grace_counts_only_while_the_bpp_hears_its_devices(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Cut off from NATS from before the end until 10 minutes after it, then hearing again: the acks and
    readings JetStream kept meanwhile get the whole grace to come in."""
    order_id = await running_order(session_factory, database_url)
    back = WINDOW.end + timedelta(minutes=10)
    await tick(session_factory, database_url, order_id, back - s(1), heard_since=None)
    assert await state(session_factory, order_id) is FulfillmentState.IN_PROGRESS
    await tick(session_factory, database_url, order_id, back + GRACE - s(1), heard_since=back)
    assert await state(session_factory, order_id) is FulfillmentState.IN_PROGRESS
    await tick(session_factory, database_url, order_id, back + GRACE, heard_since=back)
    assert await state(session_factory, order_id) is FulfillmentState.SETTLED


def test_the_settle_grace_is_a_setting(database_url: str) -> None:
    bpp = settings(database_url, dispatch_settle_grace="PT30S")
    assert bpp.dispatch_policy.settle_grace == s(30)
    with pytest.raises(ValueError, match="dispatch_settle_grace must be positive"):
        settings(database_url, dispatch_settle_grace=timedelta(0))


async def test_replicas_share_plans_and_commands_through_leases(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    bpp = settings(database_url, dispatch_lead_time=timedelta(hours=2))  # everything due at once
    order_ids = [
        await planned_order(session_factory, bpp, devices=[load_spec(f"{name}{n}") for n in range(3)], kw="8")
        for name in ("x", "y", "z")
    ]
    now = T0 + s(1)
    async with unit_of_work(session_factory) as session:
        for order_id in order_ids:
            await PlanRepository(session).poke([order_id], now)

    async def claim_plans(worker: str) -> list[str]:
        async with unit_of_work(session_factory) as session:
            claimed = await PlanRepository(session).claim(
                worker_id=worker, now=now, lease_until=now + s(30), limit=2
            )
        return [plan.order_id for plan in claimed]

    async def claim_commands(worker: str) -> list[int]:
        async with unit_of_work(session_factory) as session:
            rows = await CommandRepository(session).claim_due(
                worker_id=worker, now=now, lease_until=now + s(30), limit=4
            )
        return [row.id for row in rows]

    first, second = await asyncio.gather(claim_plans("one"), claim_plans("two"))
    assert not set(first) & set(second) and sorted(first + second) == sorted(order_ids)
    assert await claim_plans("three") == []
    one, two = await asyncio.gather(claim_commands("one"), claim_commands("two"))
    three = await claim_commands("three")
    assert not set(one) & set(two) and len(one + two + three) == 6 and not set(three) & set(one + two)
    assert await claim_commands("four") == []

    later = now + s(31)  # leases of a crashed replica run out
    async with unit_of_work(session_factory) as session:
        retaken = await CommandRepository(session).claim_due(
            worker_id="five", now=later, lease_until=later + s(30), limit=10
        )
    assert len(retaken) == 6 and {row.publish_attempts for row in retaken} == {2}
