"""Dispatch rules: from the orders' dispatch queue to device commands, and keeping them covered.

Functions take the caller's session and flush, never commit; `bpp.dispatch.tasks` runs them, one plan
per transaction. A plan is looked at (`tick`) when one of its deadlines comes or something pokes it (a
new task, a published command, an ack that matters):

- allocate the order's kW (plus the opt-out headroom) over the grid node's devices and write one
  command per device, to be published `lead_time` before the start (`allocation.allocate`);
- on RESCHEDULE, supersede the order's open commands and allocate again; a device keeping a command
  whose window overlaps the new one is superseded by the device itself, any other gets a RELEASE;
- on RELEASE (the order was cancelled), cancel what was never sent and RELEASE what might have been;
- a command the device has been silent about for `ack_timeout` (while the BPP could hear it) is
  TIMED_OUT and its device gets a RELEASE, in case it wakes up;
- whenever the live kW fall below the committed kW before the end (opt-outs, refusals, silence), call
  spare devices for the gap (again with headroom); with no spares left, the shortfall stands and is
  reported as measured;
- then `progress.advance` moves the order's state, measures, reports and settles.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity.rules import ZERO, device_kw
from bpp.dispatch import progress
from bpp.dispatch.allocation import Allocation, Candidate, allocate, with_headroom
from bpp.dispatch.commands import MIN_COMMAND, command_kind, dispatchable_kinds, new_command, release_commands
from bpp.dispatch.models import (
    OPEN_STATUSES,
    CommandStatus,
    DeviceCommand,
    DispatchPlan,
    PlanPhase,
)
from bpp.dispatch.policy import DispatchPolicy
from bpp.dispatch.progress import Reporter
from bpp.dispatch.repository import CommandRepository, ParticipationRepository, PlanRepository
from bpp.fleet.repository import DerRepository
from bpp.orders import service as orders
from bpp.orders.models import DispatchKind, Order
from bpp.orders.repository import DispatchQueueRepository
from bpp.orders.states import FulfillmentState, OrderStatus
from schemas.devices import CommandKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickContext:
    """What a tick needs besides the session: the rules, the reporter, and whether devices could be heard.

    `heard_since` is since when the BPP has been connected to NATS without a break (None: it is not).
    Silence only counts while the BPP could have heard the device.
    """

    policy: DispatchPolicy
    reporter: Reporter
    heard_since: datetime | None


# -- the orders' queue -----------------------------------------------------------------------------------


async def intake(
    session: AsyncSession, policy: DispatchPolicy, *, now: datetime, limit: int = 100
) -> set[str]:
    """Turn pending queue tasks into plan changes; the orders whose plans changed.

    Idempotent per task (`last_task_id`), so a task seen twice (two SQLite replicas) changes nothing more.
    """
    queue = DispatchQueueRepository(session)
    tasks = await queue.pending(limit)
    plans = PlanRepository(session)
    touched: set[str] = set()
    for task in tasks:
        plan = await plans.get(task.order_id)
        if plan is not None and plan.last_task_id >= task.id:
            continue
        order = await orders.get(session, task.order_id)
        if plan is None:
            if task.kind is DispatchKind.RELEASE and order.status is OrderStatus.CANCELLED:
                # Cancelled before the dispatcher ever planned it: nothing was sent, nothing to release.
                plan = await plans.add(_new_plan(order, policy, now, phase=PlanPhase.DONE))
            else:
                plan = await plans.add(_new_plan(order, policy, now))
        elif task.kind is DispatchKind.RESCHEDULE:
            plan.version += 1
            plan.needs_allocation = True
        elif task.kind is DispatchKind.RELEASE and plan.phase is not PlanPhase.DONE:
            plan.phase = PlanPhase.CANCELLING
        plan.last_task_id = task.id
        plan.next_check_at = now
        plan.pokes += 1
        touched.add(plan.order_id)
    await plans.flush()
    await queue.mark_dispatched([task.id for task in tasks], now)
    return touched


def _new_plan(
    order: Order, policy: DispatchPolicy, now: datetime, *, phase: PlanPhase = PlanPhase.RUNNING
) -> DispatchPlan:
    return DispatchPlan(
        order_id=order.id,
        grid_node=order.grid_node,
        direction=order.direction,
        phase=phase,
        version=1,
        needs_allocation=phase is PlanPhase.RUNNING,
        interval_s=int(policy.metering_interval.total_seconds()),
        last_task_id=0,
        next_check_at=now,
        pokes=0,
        failures=0,
        shortfall_kw=ZERO,
        created_at=now,
        updated_at=now,
    )


# -- one look at a plan ----------------------------------------------------------------------------------


async def tick(session: AsyncSession, order_id: str, context: TickContext, *, now: datetime) -> datetime:
    """Do whatever the plan needs now; when it next needs looking at."""
    plan = await PlanRepository(session).get(order_id)
    if plan is None or finished(plan):
        return now + timedelta(days=365)
    order = await orders.get(session, order_id)
    if plan.phase is PlanPhase.CANCELLING or order.status is OrderStatus.CANCELLED:
        await release_all(session, plan, order, now=now)
        return now + timedelta(days=365)
    deadlines: list[datetime] = []
    if plan.needs_allocation:
        await plan_commands(session, plan, order, context.policy, now=now)
    running = order.fulfillment_state in (
        FulfillmentState.SCHEDULED,
        FulfillmentState.DISPATCHED,
        FulfillmentState.IN_PROGRESS,
    )
    if running and now < order.window_end:
        deadlines += await time_out_silent(session, plan, order, context, now=now)
        await top_up(session, plan, order, context.policy, now=now)
    deadlines += await progress.advance(session, plan, order, context, now=now)
    plan.updated_at = now
    await PlanRepository(session).flush()
    if finished(plan):
        return now + timedelta(days=365)
    upcoming = [moment for moment in deadlines if moment > now]
    if now >= order.window_start - context.policy.lead_time:
        # Once commands are out, acks and publishes poke the plan; this only bounds a missed poke.
        upcoming.append(now + max(context.policy.ack_timeout, timedelta(seconds=1)))
    return min(upcoming, default=now + context.policy.ack_timeout)


def finished(plan: DispatchPlan) -> bool:
    return plan.phase is PlanPhase.DONE


# -- allocation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """The devices an allocation may use, and the command each would be given."""

    candidates: list[Candidate]
    kinds: dict[str, CommandKind]


async def fleet_for(
    session: AsyncSession, order: Order, policy: DispatchPolicy, *, start: datetime, now: datetime
) -> Fleet:
    """The grid node's ONLINE devices that can move net load in the order's direction over [start, end)."""
    ders = await DerRepository(session).online(
        grid_node=order.grid_node, kinds=dispatchable_kinds(order.direction)
    )
    calls = await ParticipationRepository(session).of([der.device_id for der in ders])
    duration = order.window_end - start
    found, kinds = [], {}
    for der in ders:
        kind = command_kind(der.kind, order.direction)
        if kind is None:
            continue
        called = calls.get(der.device_id)
        kinds[der.device_id] = kind
        found.append(
            Candidate(
                device_id=der.device_id,
                available_kw=device_kw(der, order.direction, duration),
                fresh=der.last_seen_at is not None and now - der.last_seen_at <= policy.device_stale_after,
                reliability=der.reliability,
                soc=der.state_of_charge,
                last_called_at=called.last_called_at if called else None,
                calls=called.calls if called else 0,
            )
        )
    return Fleet(found, kinds)


async def plan_commands(
    session: AsyncSession, plan: DispatchPlan, order: Order, policy: DispatchPolicy, *, now: datetime
) -> Allocation:
    """Allocate the order afresh (first plan, or after an update), superseding what an earlier plan sent."""
    repository = CommandRepository(session)
    earlier = await repository.of_order(order.id, statuses=OPEN_STATUSES)
    busy = await repository.busy(start=order.window_start, end=order.window_end, other_than=order.id)
    fleet = await fleet_for(session, order, policy, start=order.window_start, now=now)
    allocation = allocate(
        fleet.candidates,
        required_kw=order.kw,
        target_kw=with_headroom(order.kw, policy.opt_out_headroom),
        exclude=frozenset(busy),
    )
    releases = await _supersede(session, order, earlier, allocation, now=now)
    publish_at = max(now, order.window_start - policy.lead_time)
    new = [
        new_command(
            order, plan, a.device_id, a.kw, fleet.kinds[a.device_id], order.window_start, publish_at, now
        )
        for a in allocation.assignments
    ]
    # RELEASEs first: within an order a device's commands are published in the order they were made.
    await repository.add_all([*release_commands(order, plan, releases, now), *new])
    await ParticipationRepository(session).record(allocation.device_ids, called_at=now)
    plan.needs_allocation = False
    plan.shortfall_kw = allocation.shortfall_kw
    _log_allocation(order, allocation, "planned")
    return allocation


async def _supersede(
    session: AsyncSession,
    order: Order,
    earlier: Sequence[DeviceCommand],
    allocation: Allocation,
    *,
    now: datetime,
) -> list[str]:
    """Supersede an earlier plan's open commands; the devices that must be told with a RELEASE."""
    if not earlier:
        return []
    repository = CommandRepository(session)
    pending = [command.id for command in earlier if command.status is CommandStatus.PENDING]
    unsent = set(
        await repository.set_status(
            pending,
            CommandStatus.SUPERSEDED,
            now=now,
            only_from=[CommandStatus.PENDING],
            unleased=True,
            reason="replaced before it was sent (the order changed)",
        )
    )
    maybe_sent = [command for command in earlier if command.id not in unsent]
    await repository.set_status(
        [command.id for command in maybe_sent],
        CommandStatus.SUPERSEDED,
        now=now,
        only_from=OPEN_STATUSES,
        reason="replaced (the order changed)",
    )
    kept = set(allocation.device_ids)
    # A device given a new command overlapping its old one supersedes the old one itself.
    return sorted(
        {
            command.device_id
            for command in maybe_sent
            if command.device_id not in kept
            or not (command.start < order.window_end and order.window_start < command.end)
        }
    )


async def top_up(
    session: AsyncSession, plan: DispatchPlan, order: Order, policy: DispatchPolicy, *, now: datetime
) -> Allocation | None:
    """Call spare devices when the live kW fell below the commitment; None when nothing was missing."""
    if plan.needs_allocation:
        return None
    repository = CommandRepository(session)
    live = sum((total.kw for total in await repository.totals(order.id) if total.status.is_live), ZERO)
    if live >= order.kw:
        plan.shortfall_kw = ZERO
        return None
    start = max(order.window_start, now)
    if order.window_end - start < MIN_COMMAND:
        plan.shortfall_kw = order.kw - live
        return None
    used = await repository.devices_of(order.id)
    busy = await repository.busy(start=start, end=order.window_end, other_than=order.id)
    fleet = await fleet_for(session, order, policy, start=start, now=now)
    allocation = allocate(
        fleet.candidates,
        required_kw=order.kw - live,
        target_kw=with_headroom(order.kw, policy.opt_out_headroom) - live,
        exclude=frozenset(used | busy),
    )
    known, plan.shortfall_kw = plan.shortfall_kw, allocation.shortfall_kw
    if not allocation.assignments:
        if known != allocation.shortfall_kw:  # said once per change, not at every look
            log.warning(
                "no spare device left: the order falls short",
                extra={
                    "order_id": order.id,
                    "live_kw": str(live),
                    "shortfall_kw": str(allocation.shortfall_kw),
                },
            )
        return allocation
    publish_at = max(now, order.window_start - policy.lead_time)
    spares = [
        new_command(
            order, plan, a.device_id, a.kw, fleet.kinds[a.device_id], start, publish_at, now, spare=True
        )
        for a in allocation.assignments
    ]
    await repository.add_all(spares)
    await ParticipationRepository(session).record(allocation.device_ids, called_at=now)
    _log_allocation(order, allocation, "spares called")
    return allocation


# -- silence and release ---------------------------------------------------------------------------------


async def time_out_silent(
    session: AsyncSession, plan: DispatchPlan, order: Order, context: TickContext, *, now: datetime
) -> list[datetime]:
    """TIMED_OUT for commands their device has been silent about; when the next one would be.

    Silent: nothing heard for `ack_timeout` since the command reached JetStream, or since its start once
    received, never counting time the BPP itself could not hear (`heard_since`).
    """
    if context.heard_since is None:
        return []
    timeout = context.policy.ack_timeout
    repository = CommandRepository(session)
    cutoff = now - timeout
    overdue = await repository.silent(order.id, cutoff=cutoff) if context.heard_since <= cutoff else []
    moved = set(
        await repository.set_status(
            [command.id for command in overdue],
            CommandStatus.TIMED_OUT,
            now=now,
            only_from=[CommandStatus.PUBLISHED, CommandStatus.RECEIVED],
            reason=f"no word from the device for {timeout}",
        )
    )
    silent = sorted({command.device_id for command in overdue if command.id in moved})
    if silent:
        log.warning("devices silent: calling spares", extra={"order_id": order.id, "devices": len(silent)})
        await repository.add_all(release_commands(order, plan, silent, now))
        await ParticipationRepository(session).record(silent, failures=True)
    oldest = await repository.oldest_wait(order.id)
    return [] if oldest is None else [max(oldest, context.heard_since) + timeout]


async def release_all(session: AsyncSession, plan: DispatchPlan, order: Order, *, now: datetime) -> list[str]:
    """After a cancel: never-sent commands are cancelled; devices that may have one get a RELEASE."""
    repository = CommandRepository(session)
    open_commands = await repository.of_order(order.id, statuses=OPEN_STATUSES)
    unsent = set(
        await repository.set_status(
            [command.id for command in open_commands if command.status is CommandStatus.PENDING],
            CommandStatus.CANCELLED,
            now=now,
            only_from=[CommandStatus.PENDING],
            unleased=True,
            reason="the order was cancelled before the command was sent",
        )
    )
    devices = sorted({command.device_id for command in open_commands if command.id not in unsent})
    await repository.add_all(release_commands(order, plan, devices, now))
    plan.phase = PlanPhase.DONE
    plan.updated_at = now
    log.info("order cancelled: devices released", extra={"order_id": order.id, "devices": len(devices)})
    return devices


def _log_allocation(order: Order, allocation: Allocation, what: str) -> None:
    log.info(
        f"dispatch {what}",
        extra={
            "order_id": order.id,
            "devices": len(allocation.assignments),
            "allocated_kw": str(allocation.allocated_kw),
            "target_kw": str(allocation.target_kw),
            "shortfall_kw": str(allocation.shortfall_kw),
        },
    )
