"""What the demo achieved, read back from the participants' own databases at the end — the utility's
orders (`bap_orders`) beside each aggregator's (`bpp_orders`) — never from the progress stream, so the
summary is what was actually stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bap.events.models import FlexEvent
from bap.orders.models import Order as BapOrder
from bap.orders.models import OrderState as BapOrderState
from bap.orders.views import outcome_of
from bpp.dispatch.models import CommandAck, DeviceCommand, DispatchPlan
from bpp.orders.models import Order as BppOrder
from participant.db import make_engine, make_session_factory
from participant.migrate import normalize_database_url
from participant.network.plan import NetworkPlan, ParticipantPlan
from schemas.devices import AckStatus, CommandKind

Summary = dict[str, Any]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((value for value in values if value is not None), Decimal(0))


async def _read(part: ParticipantPlan, query: Any) -> list[Any]:
    engine = make_engine(normalize_database_url(part.database_url))
    try:
        session: AsyncSession
        async with make_session_factory(engine)() as session:
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def dispatch_figures(part: ParticipantPlan) -> dict[str, dict[str, Any]]:
    """Per BPP order: devices commanded (RELEASE aside), those that acked at all, those that opted out,
    the dispatcher's verdict (COMPLETED or PARTIAL, once measured) and its settlement — from the
    dispatcher's own tables."""
    commands: list[DeviceCommand] = await _read(
        part, select(DeviceCommand).where(DeviceCommand.kind != CommandKind.RELEASE)
    )
    acks: list[CommandAck] = await _read(part, select(CommandAck))
    plans: list[DispatchPlan] = await _read(part, select(DispatchPlan))
    order_of = {command.command_id: command.order_id for command in commands}
    figures: dict[str, dict[str, Any]] = {}

    def entry(order_id: str) -> dict[str, Any]:
        return figures.setdefault(
            order_id,
            {"commanded": set(), "acked": set(), "opted_out": set(), "outcome": None, "settlement": None},
        )

    for command in commands:
        entry(command.order_id)["commanded"].add(command.device_id)
    for ack in acks:
        order_id = order_of.get(ack.command_id)
        if order_id is not None:
            entry(order_id)["acked"].add(ack.device_id)
            if ack.status is AckStatus.OPTED_OUT:
                entry(order_id)["opted_out"].add(ack.device_id)
    for plan in plans:
        entry(plan.order_id)["settlement"] = plan.settlement
        entry(plan.order_id)["outcome"] = (plan.performance or {}).get("state")
    return {
        order_id: {
            "devices_commanded": len(values["commanded"]),
            "devices_acked": len(values["acked"]),
            "devices_opted_out": len(values["opted_out"]),
            "outcome": values["outcome"],
            "settlement": values["settlement"],
        }
        for order_id, values in figures.items()
    }


def bap_order_view(order: BapOrder) -> dict[str, Any]:
    settlement = order.settlement or {}
    return {
        "order_id": order.id,
        "aggregator_id": order.aggregator_id,
        "bpp_order_id": order.bpp_order_id,
        "state": str(order.state),
        "fulfillment_state": order.fulfillment_state,
        "outcome": outcome_of(order),
        "requested_kw": _text(order.requested_kw),
        "committed_kw": _text(order.committed_kw),
        "delivered_kw": _text(order.delivered_kw),
        "delivered_kwh": _text(order.delivered_kwh),
        "devices": order.devices,
        "devices_acked": order.devices_acked,
        "devices_opted_out": order.devices_opted_out,
        "quoted_cost": _text(order.quoted_cost),
        "settlement_amount": _text(order.net_amount),
        "settlement": settlement,
        "currency": order.currency,
        "failure_reason": order.failure_reason,
    }


def bpp_order_view(order: BppOrder) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "status": str(order.status),
        "fulfillment_state": None if order.fulfillment_state is None else str(order.fulfillment_state),
        "grid_node": order.grid_node,
        "committed_kw": _text(order.kw),
        "committed_devices": order.committed_devices,
        "price_per_kwh": _text(order.price_per_kwh),
        "quote_total": (order.quote or {}).get("price", {}).get("value"),
    }


async def read_summary(plan: NetworkPlan, event_id: str | None) -> Summary:
    """The event, every order on both sides, and per-aggregator totals."""
    bap = plan.baps[0]
    events = await _read(bap, select(FlexEvent).where(FlexEvent.id == event_id)) if event_id else []
    orders: list[BapOrder] = (
        await _read(bap, select(BapOrder).where(BapOrder.event_id == event_id).order_by(BapOrder.created_at))
        if event_id
        else []
    )
    bpp_orders: dict[str, dict[str, Any]] = {}
    for part in plan.bpps:
        dispatched = await dispatch_figures(part)
        for order in await _read(part, select(BppOrder).where(BppOrder.confirmed_at.is_not(None))):
            bpp_orders[order.id] = {
                "aggregator_id": part.subscriber_id,
                **bpp_order_view(order),
                **dispatched.get(order.id, {"devices_commanded": 0}),
            }
    views = []
    for order in orders:
        view = bap_order_view(order)
        view["bpp"] = bpp_orders.get(order.bpp_order_id or "")
        views.append(view)
    return {
        "event": _event_view(events[0]) if events else None,
        "orders": views,
        "aggregators": aggregator_totals(orders, bpp_orders),
        "totals": _totals(orders, bpp_orders),
    }


def _event_view(event: FlexEvent) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "grid_node": event.grid_node,
        "state": str(event.state),
        "required_kw": _text(event.required_kw),
        "window": {"start": event.window_start.isoformat(), "end": event.window_end.isoformat()},
        "searched_bpps": event.searched_bpps,
        "decided_by": event.decided_by,
    }


def _confirmed(orders: Iterable[BapOrder]) -> list[BapOrder]:
    return [order for order in orders if order.bpp_order_id is not None and order.committed_kw is not None]


BppViews = dict[str, dict[str, Any]]


def aggregator_totals(orders: Iterable[BapOrder], bpp_orders: BppViews) -> dict[str, dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for order in _confirmed(orders):
        entry = totals.setdefault(order.aggregator_id, {"orders": [], "_rows": []})
        entry["orders"].append(order.id)
        entry["_rows"].append(order)
    for entry in totals.values():
        rows: list[BapOrder] = entry.pop("_rows")
        entry.update(_figures(rows, bpp_orders))
    return totals


def _totals(orders: Iterable[BapOrder], bpp_orders: BppViews) -> dict[str, Any]:
    confirmed = _confirmed(orders)
    return {"orders": len(confirmed), **_figures(confirmed, bpp_orders)}


def _figures(rows: list[BapOrder], bpp_orders: BppViews) -> dict[str, Any]:
    """Commitments, delivery and money as the utility stored them; commands as the aggregators did."""
    commanded = sum(
        bpp_orders.get(order.bpp_order_id or "", {}).get("devices_commanded", 0) for order in rows
    )
    outcomes = [outcome_of(order) for order in rows]
    return {
        "completed": outcomes.count("COMPLETED"),
        "partial": outcomes.count("PARTIAL"),
        "committed_kw": _text(_sum(order.committed_kw for order in rows)),
        "delivered_kw": _text(_sum(order.delivered_kw for order in rows)),
        "delivered_kwh": _text(_sum(order.delivered_kwh for order in rows)),
        "devices_commanded": commanded,
        "devices_acked": sum(order.devices_acked or 0 for order in rows),
        "devices_opted_out": sum(order.devices_opted_out or 0 for order in rows),
        "settlement_amount": _text(_sum(order.net_amount for order in rows)),
    }


def format_summary(summary: Summary, *, dispatch_available: bool) -> str:
    """A few lines for people; the JSON file has everything."""
    lines = ["", "Summary (read back from the BAP's and the BPPs' databases)"]
    event = summary.get("event")
    if event:
        lines.append(
            f"  event {event['event_id'][:8]} on {event['grid_node']}: {event['required_kw']} kW needed, "
            f"state {event['state']}"
        )
    header = f"  {'aggregator':<20} {'order':<18} {'outcome':<10} {'committed':>10} {'delivered':>10} "
    header += f"{'commanded':>9} {'acked':>6} {'opt-out':>7} {'settled':>9}"
    lines.append(header)
    for order in summary["orders"]:
        lines.append(
            f"  {order['aggregator_id']:<20} {(order['bpp_order_id'] or '–'):<18.18} {_outcome(order):<10} "
            f"{_cell(order['committed_kw'], 'kW'):>10} {_cell(order['delivered_kw'], 'kW'):>10} "
            f"{_cell((order['bpp'] or {}).get('devices_commanded')):>9} {_cell(order['devices_acked']):>6} "
            f"{_cell(order['devices_opted_out']):>7} {_cell(order['settlement_amount']):>9}"
        )
    totals = summary["totals"]
    lines.append(
        f"  total: {totals['orders']} orders, {totals['committed_kw']} kW committed"
        + (
            f", {totals['delivered_kw']} kW delivered ({totals['completed']} completed, "
            f"{totals['partial']} partial), {totals['devices_commanded']} devices commanded, "
            f"{totals['devices_acked']} acked, "
            f"{totals['devices_opted_out']} opted out, settlement {totals['settlement_amount']}"
            if dispatch_available
            else "; dispatch, delivery and settlement are not available in this build"
        )
    )
    return "\n".join(lines)


def _outcome(order: dict[str, Any]) -> str:
    """What became of an order: the aggregator's verdict once it ended (a COMPLETED state only says that
    it ended), else its state (ACTIVE, CANCELLED, FAILED, …)."""
    if order["state"] == BapOrderState.COMPLETED.value:
        return str(order["outcome"] or "ENDED")
    return str(order["state"])


def _cell(value: object, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value} {unit}".strip()
