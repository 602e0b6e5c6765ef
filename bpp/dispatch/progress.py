"""An order's event from dispatch to settlement: its fulfillment state, the reports to the utility, the
measurement and the money.

    SCHEDULED ──(every command published, lead time reached)──▶ DISPATCHED
    DISPATCHED ──(window started and a device said STARTED)──▶ IN_PROGRESS
    DISPATCHED | IN_PROGRESS ──(window over: every final ack in, or the settle grace)──▶ COMPLETED | PARTIAL
    COMPLETED | PARTIAL ──(settled at the contract's terms)──▶ SETTLED

Each change is reported to the utility with an unsolicited on_status in the same transaction, and
every `report_interval` while IN_PROGRESS; reports carry the `performance` tag group (and, once settled,
`settlement`). Before any interval is measured, `performance` has intervals 0 and only its device
counts mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.dispatch.commands import release_commands
from bpp.dispatch.measurement import devices_taking_part, measure
from bpp.dispatch.models import OPEN_STATUSES, DispatchPlan, PlanPhase
from bpp.dispatch.repository import CommandRepository
from bpp.orders import service as orders
from bpp.orders.models import Order
from bpp.orders.states import FulfillmentState
from bpp.performance.delivery import OrderPerformance, OrderState
from bpp.performance.settlement import Settlement, SettlementTerms, settle_order
from bpp.reporting.service import send_report
from bpp.settings import BppSettings
from participant.outbound import OutboundSender
from schemas.profile import format_tag_value

if TYPE_CHECKING:
    from bpp.dispatch.service import TickContext

REPORT_GRACE = timedelta(seconds=2)
"""A progress report waits this long (at most a fifth of an interval) past an interval's end, so the
interval's last readings are in."""


@dataclass(frozen=True)
class Reporter:
    """Writes unsolicited on_status reports to the outbox in the caller's transaction."""

    sender: OutboundSender
    settings: BppSettings
    ttl: timedelta

    async def report(self, session: AsyncSession, order: Order, plan: DispatchPlan) -> None:
        await send_report(session, self.sender, self.settings, order, plan, ttl=self.ttl)


async def advance(
    session: AsyncSession, plan: DispatchPlan, order: Order, context: TickContext, *, now: datetime
) -> list[datetime]:
    """Move the order on as far as it can go now; the moments it should be looked at again."""
    policy = context.policy
    commands = CommandRepository(session)
    state = order.fulfillment_state
    if state is FulfillmentState.SCHEDULED:
        go_at = order.window_start - policy.lead_time
        if plan.needs_allocation or now < go_at:
            return [go_at]
        if await commands.waiting(order.id):
            return []  # the publisher pokes the plan when it has published
        plan.performance = await _early_performance(session, order)
        order = await _move(session, order, FulfillmentState.DISPATCHED, now, plan)
        await context.reporter.report(session, order, plan)
        state = FulfillmentState.DISPATCHED
    if (
        state is FulfillmentState.DISPATCHED
        and now >= order.window_start
        and await commands.any_started(order.id)
    ):
        plan.performance = await _early_performance(session, order)
        order = await _move(session, order, FulfillmentState.IN_PROGRESS, now, plan)
        plan.next_report_at = _next_report(order, plan, policy.report_interval, now)
        await context.reporter.report(session, order, plan)
        state = FulfillmentState.IN_PROGRESS
    if state not in (FulfillmentState.DISPATCHED, FulfillmentState.IN_PROGRESS):
        return []
    if now >= order.window_end:
        if await _event_over(session, order, context, now=now):
            await conclude(session, plan, order, context, now=now)
            return []
        settle_at = _settle_at(order, context)
        return [] if settle_at is None else [settle_at]
    deadlines = [order.window_start, order.window_end]
    if state is FulfillmentState.IN_PROGRESS and plan.next_report_at is not None:
        if now >= plan.next_report_at:
            measured = await measure(session, order, plan, now=now, final=False)
            plan.performance = (
                performance_json(measured.performance)
                if measured is not None
                else await _early_performance(session, order)
            )
            await context.reporter.report(session, order, plan)
            plan.next_report_at = _next_report(order, plan, policy.report_interval, now)
        deadlines.append(plan.next_report_at)
    return deadlines


async def conclude(
    session: AsyncSession, plan: DispatchPlan, order: Order, context: TickContext, *, now: datetime
) -> None:
    """Measure the whole event, report the verdict, settle, report the settlement."""
    commands = CommandRepository(session)
    stuck = {command.device_id for command in await commands.of_order(order.id, statuses=OPEN_STATUSES)}
    if stuck:
        # Devices that never said they finished are told to stop, whatever they are doing.
        await commands.add_all(release_commands(order, plan, stuck, now))
    measured = await measure(session, order, plan, now=now, final=True)
    assert measured is not None, "a final measurement covers at least one interval"
    performance = measured.performance
    plan.performance = performance_json(performance, final=True)
    verdict = (
        FulfillmentState.COMPLETED if performance.state is OrderState.COMPLETED else FulfillmentState.PARTIAL
    )
    order = await _move(session, order, verdict, now, plan)
    await context.reporter.report(session, order, plan)
    settlement = settle_order(performance, settlement_terms(order))
    plan.settlement = settlement_json(settlement)
    order = await orders.advance(
        session, order.id, FulfillmentState.SETTLED, now=now, data={"settlement": plan.settlement["tags"]}
    )
    await context.reporter.report(session, order, plan)
    plan.phase = PlanPhase.DONE
    plan.next_report_at = None


def settlement_terms(order: Order) -> SettlementTerms:
    snapshot = orders.snapshot_of(order)
    return SettlementTerms(
        rate_per_kwh=order.price_per_kwh,
        currency=order.currency,
        reservation_price_per_kw=snapshot.reservation_price_per_kw,
    )


def performance_json(performance: OrderPerformance, *, final: bool = False) -> dict[str, Any]:
    """What a plan keeps of a measurement: the tag values as sent, and the figures behind them."""
    return {
        "tags": {name: format_tag_value(value) for name, value in performance.tag_values().items()},
        "final": final,
        "state": performance.state.value if final else None,
        "committed_kw": str(performance.committed_kw),
        "committed_kwh": str(performance.committed_kwh),
        "target_kwh": str(performance.target_kwh),
        "paid_kwh": str(performance.delivered_kwh),
        "raw_delivered_kwh": str(performance.raw_delivered_kwh),
        "over_delivered_kwh": str(performance.over_delivered_kwh),
        "devices": performance.devices,
        "unmeasured": performance.unmeasured,
        "baseline_methods": list(performance.baseline_methods),
        "per_interval": [
            {
                "start": row.start.isoformat(),
                "baseline_kw": str(row.baseline_kw),
                "actual_kw": str(row.actual_kw),
                "delivered_kw": str(row.delivered_kw),
                "paid_kw": str(row.paid_kw),
                "over_delivered_kwh": str(row.over_delivered_kwh),
                "devices_measured": row.devices_measured,
            }
            for row in performance.per_interval
        ],
    }


def settlement_json(settlement: Settlement) -> dict[str, Any]:
    return {
        "tags": {name: format_tag_value(value) for name, value in settlement.tag_values().items()},
        **settlement.model_dump(mode="json"),
    }


async def _early_performance(session: AsyncSession, order: Order) -> dict[str, Any]:
    """Before any interval is measured: how many devices acked or opted out, and nothing else."""
    devices = devices_taking_part(await CommandRepository(session).of_order(order.id))
    acked = sum(1 for was_acked, _ in devices.values() if was_acked)
    opted_out = sum(1 for _, out in devices.values() if out)
    tags = {
        "baseline_kw": "0",
        "actual_kw": "0",
        "delivered_kw": "0",
        "delivered_kwh": "0",
        "devices_acked": str(acked),
        "devices_opted_out": str(opted_out),
        "intervals": "0",
    }
    return {"tags": tags, "final": False, "state": None, "devices": len(devices)}


async def _event_over(session: AsyncSession, order: Order, context: TickContext, *, now: datetime) -> bool:
    """Every commanded device has sent its final ack; or the settle grace has passed without it."""
    if await CommandRepository(session).open_count(order.id) == 0:
        return True
    settle_at = _settle_at(order, context)
    return settle_at is not None and now >= settle_at


def _settle_at(order: Order, context: TickContext) -> datetime | None:
    """When the event is measured whatever its devices still owe: `settle_grace` of listening after the end.

    Like silence, the grace counts only while the BPP hears NATS: after an outage or a restart it starts
    again, so acks and telemetry held in JetStream meanwhile are counted. None while the BPP is deaf.
    """
    heard = context.heard_since
    if heard is None:
        return None
    return max(order.window_end, heard) + context.policy.settle_grace


async def _move(
    session: AsyncSession, order: Order, state: FulfillmentState, now: datetime, plan: DispatchPlan
) -> Order:
    performance = (plan.performance or {}).get("tags")
    return await orders.advance(session, order.id, state, now=now, data={"performance": performance})


def _next_report(order: Order, plan: DispatchPlan, every: timedelta, now: datetime) -> datetime:
    """The first report boundary (counted from the window's start) after `now`, plus a little grace."""
    grace = min(REPORT_GRACE, timedelta(seconds=plan.interval_s) / 5)
    elapsed = max(now - grace - order.window_start, timedelta(0))
    return order.window_start + (elapsed // every + 1) * every + grace
