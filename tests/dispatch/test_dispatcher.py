"""The dispatcher in a BPP process, against a real nats-server, real device agents and a migrated database
(SQLite and PostgreSQL): devices announce themselves, a confirmed order becomes commands, opt-outs above
the headroom bring in spares, and a shortfall that spares cannot cover is reported as PARTIAL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import CredentialStore, Role
from bpp.dispatch.models import CommandStatus, DispatchPlan
from bpp.dispatch.repository import CommandRepository, PlanRepository
from bpp.fleet.models import Der
from bpp.orders import service as orders
from bpp.orders.requests import Window
from bpp.orders.states import FulfillmentState
from participant.app import unit_of_work
from participant.db import utcnow
from participant.messagelog import MessageRecord
from schemas.devices import CommandKind
from schemas.profile import profile_errors, read_tag_group
from tests.devices.conftest import Aggregator, start_server
from tests.dispatch.factories import (
    AgentFleet,
    aligned,
    bus_for,
    confirm,
    dispatcher,
    eventually,
    flat_load,
    offer,
    settings,
)

pytestmark = pytest.mark.timeout(120)

STEP = timedelta(seconds=5)


async def fleet_size(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Der)) or 0)


async def settled(factory: async_sessionmaker[AsyncSession], order_id: str) -> DispatchPlan:
    async def done(session: AsyncSession) -> bool:
        order = await orders.get(session, order_id)
        return order.fulfillment_state is FulfillmentState.SETTLED

    await eventually(factory, done, timeout=60, what=f"order {order_id} settled")
    async with unit_of_work(factory) as session:
        plan = await PlanRepository(session).get(order_id)
    assert plan is not None
    return plan


async def reports(factory: async_sessionmaker[AsyncSession], transaction_id: str) -> list[dict[str, Any]]:
    """The unsolicited on_status bodies written for the order, oldest first."""
    async with unit_of_work(factory) as session:
        rows = await session.scalars(
            select(MessageRecord)
            .where(MessageRecord.transaction_id == transaction_id, MessageRecord.action == "on_status")
            .order_by(MessageRecord.created_at)
        )
        return [json.loads(record.body) for record in rows]


def state_of(report: dict[str, Any]) -> str:
    return str(report["message"]["order"]["fulfillments"][0]["state"]["descriptor"]["code"])


async def run_event(
    factory: async_sessionmaker[AsyncSession],
    database_url: str,
    agg: Aggregator,
    devices: list[Any],
    kw: str,
) -> tuple[str, str, AgentFleet, DispatchPlan]:
    """Announce the devices, confirm `kw` for a 15 s window, run it to settlement."""
    bpp = settings(database_url, nats_url=agg.url, nats_aggregator=agg.id)
    bus = bus_for(agg.url, agg.id, agg.service)
    runner = dispatcher(factory, bpp, bus)
    fleet = AgentFleet(agg.url, agg.id, agg.fleet, devices)
    await runner.start()
    try:
        await asyncio.wait_for(runner.ready.wait(), 20)
        await fleet.start()

        async def announced(session: AsyncSession) -> bool:
            return await fleet_size(session) == len(devices)

        await eventually(factory, announced, what="the devices registered through their announcements")
        start = aligned(utcnow() + timedelta(seconds=4), STEP)
        async with unit_of_work(factory) as session:
            await offer(session)
            order = await confirm(session, kw, Window(start, start + 3 * STEP), now=utcnow())
        runner.wake_planner()
        plan = await settled(factory, order.id)
        return order.id, order.transaction_id, fleet, plan
    finally:
        await fleet.stop()
        await runner.stop()


async def test_opt_outs_beyond_the_headroom_bring_in_spares(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    aggregator: Callable[..., Aggregator],
) -> None:
    # Six flat 10 kW loads with 5 kW to shed; the first two (called first) opt out of everything.
    devices = [flat_load(f"dev-{n:02d}", opts_out=n <= 2) for n in range(1, 7)]
    order_id, transaction_id, fleet, plan = await run_event(
        session_factory, database_url, aggregator(), devices, "12"
    )

    async with unit_of_work(session_factory) as session:
        commands = await CommandRepository(session).of_order(order_id)
    by_device = {command.device_id: command for command in commands}
    # 12 kW × 1.2 headroom = 14.4 kW: 5 + 5 + 4.4 on the first three; two opt out, leaving 4.4 kW live,
    # so spares are called for 14.4 − 4.4 = 10 kW; the sixth device is never called.
    assert {device: (c.setpoint_kw, c.spare) for device, c in by_device.items()} == {
        "dev-01": (Decimal("5"), False),
        "dev-02": (Decimal("5"), False),
        "dev-03": (Decimal("4.4"), False),
        "dev-04": (Decimal("5"), True),
        "dev-05": (Decimal("5"), True),
    }
    assert [by_device[d].status for d in ("dev-01", "dev-02")] == [CommandStatus.OPTED_OUT] * 2
    assert {by_device[d].status for d in ("dev-03", "dev-04", "dev-05")} == {CommandStatus.COMPLETED}
    # Each device applied what it was sent, once; the opted-out ones applied nothing.
    assert fleet.applied() == {
        "dev-01": [],
        "dev-02": [],
        "dev-03": [by_device["dev-03"].command_id],
        "dev-04": [by_device["dev-04"].command_id],
        "dev-05": [by_device["dev-05"].command_id],
        "dev-06": [],
    }

    assert plan.performance is not None and plan.settlement is not None
    assert plan.performance["state"] == "COMPLETED"
    tags = plan.performance["tags"]
    assert (tags["devices_acked"], tags["devices_opted_out"], tags["intervals"]) == ("5", "2", "3")
    # About 14.4 kW shed for 15 s (the spares a fraction of a second late): ~0.06 kWh against 12 kW × 15 s.
    assert Decimal("13.5") <= Decimal(tags["delivered_kw"]) <= Decimal("14.5")
    assert Decimal(plan.settlement["shortfall_kwh"]) == 0

    states = [state_of(body) for body in await reports(session_factory, transaction_id)]
    assert states[:2] == ["DISPATCHED", "IN_PROGRESS"] and states[-2:] == ["COMPLETED", "SETTLED"]
    assert set(states[2:-2]) <= {"IN_PROGRESS"} and len(states) >= 5


async def test_a_shortfall_spares_cannot_cover_is_reported_as_partial(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    aggregator: Callable[..., Aggregator],
) -> None:
    # Four devices; the three called first opt out, and the one spare left covers 5 of the 12 kW.
    devices = [flat_load(f"dev-{n:02d}", opts_out=n <= 3) for n in range(1, 5)]
    order_id, transaction_id, _, plan = await run_event(
        session_factory, database_url, aggregator(), devices, "12"
    )

    assert plan.shortfall_kw == Decimal("7")
    assert plan.performance is not None and plan.performance["state"] == "PARTIAL"
    assert plan.settlement is not None
    # 12 kW × 15 s × 0.95 = 0.0475 kWh asked; about 5 kW × 15 s = 0.0208 kWh delivered.
    assert Decimal(plan.settlement["target_kwh"]) == Decimal("0.048")
    assert Decimal("0.019") <= Decimal(plan.settlement["delivered_kwh"]) <= Decimal("0.021")
    assert Decimal(plan.settlement["shortfall_kwh"]) > 0
    assert Decimal(plan.settlement["penalty_amount"]) > 0

    bodies = await reports(session_factory, transaction_id)
    final = bodies[-1]["message"]["order"]
    assert state_of(bodies[-2]) == "PARTIAL" and state_of(bodies[-1]) == "SETTLED"
    assert profile_errors(bodies[-1]["message"]) == []
    performance = read_tag_group(final["tags"], "performance")
    settlement = read_tag_group(final["tags"], "settlement")
    assert performance is not None and settlement is not None
    assert performance["devices_opted_out"] == "3"
    assert settlement["shortfall_kwh"] == plan.settlement["tags"]["shortfall_kwh"]

    async with unit_of_work(session_factory) as session:
        commands = await CommandRepository(session).of_order(order_id, include_releases=True)
    assert not [command for command in commands if command.kind is CommandKind.RELEASE]


async def test_device_events_keep_flowing_after_a_quick_nats_restart(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    """The restart is over before the consumer's pull would have timed out: the pull is cut short by the
    reconnect, and the consumer must carry on (it once died there), with the silence clock restarted."""
    store = CredentialStore("agg-restart")
    service = BusCredentials(nkey_seed=store.issue(Role.SERVICE, "bpp"))
    fleet_user = BusCredentials(nkey_seed=store.issue(Role.FLEET, "fleet"))
    server = start_server(tmp_path / "nats", store.authorization_block())
    bpp = settings(database_url, nats_url=server.url, nats_aggregator=store.aggregator)
    runner = dispatcher(session_factory, bpp, bus_for(server.url, store.aggregator, service))
    fleet = AgentFleet(server.url, store.aggregator, fleet_user, [flat_load("dev-01")])
    try:
        await runner.start()
        await asyncio.wait_for(runner.ready.wait(), 20)
        await fleet.start()
        first_heard = runner.heard_since(utcnow())
        assert first_heard is not None

        async def steady(_: AsyncSession) -> bool:
            return runner.events.telemetry >= 10

        await eventually(session_factory, steady, what="telemetry flowing")
        server.kill()

        async def deaf(_: AsyncSession) -> bool:
            return not runner.bus.connection.is_connected

        await eventually(session_factory, deaf, what="the BPP to notice")
        assert runner.heard_since(utcnow()) is None
        server.start()
        before = runner.events.telemetry

        async def flowing(_: AsyncSession) -> bool:
            return runner.events.telemetry >= before + 10

        await eventually(session_factory, flowing, what="telemetry stored after the restart")
        assert runner.subscription is not None and not runner.subscription.task.done()
        heard = runner.heard_since(utcnow())
        assert heard is not None and heard > first_heard
    finally:
        await fleet.stop()
        await runner.stop()
        server.stop()
