"""Event history for reports: per event the need, the offers, the orders, committed against delivered kW,
the cost, whether it delivered (its outcome), and each aggregator's reliability over time."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.events.models import FlexEvent, FlexOffer
from bap.events.reliability import Delivery, delivery_ratio, running
from bap.events.repository import EventRepository
from bap.numbers import decimal_or_none
from bap.orders.models import Order, OrderState
from bap.orders.repository import OrderRepository
from bap.orders.tracking import event_outcome
from bap.orders.views import outcome_of, text

CSV_COLUMNS = (
    "event_id",
    "created_at",
    "state",
    "severity",
    "grid_node",
    "direction",
    "window_start",
    "window_end",
    "required_kw",
    "offers",
    "orders",
    "committed_kw",
    "delivered_kw",
    "delivered_kwh",
    "cost",
    "currency",
    "reliability",
    "outcome",
    "shortfall_kwh",
)
_COUNTED = (OrderState.ACTIVE, OrderState.COMPLETED)


def outcome(orders: Sequence[Order]) -> str | None:
    """The event's outcome as the `completed` message gives it, over the orders that ran to their end:
    PARTIAL as soon as one fell short, COMPLETED once none is still live and every one delivered."""
    ended = [order for order in orders if order.state is OrderState.COMPLETED]
    verdict = event_outcome(ended)
    if verdict == "COMPLETED" and any(not order.state.final for order in orders):
        return None
    return verdict


def shortfall(orders: Sequence[Order]) -> Decimal | None:
    """kWh short of the commitments by the settlements; None while no order is settled."""
    figures = [decimal_or_none((order.settlement or {}).get("shortfall_kwh")) for order in orders]
    known = [figure for figure in figures if figure is not None]
    return sum(known, Decimal(0)) if known else None


def _row(event: FlexEvent, offers: Sequence[FlexOffer], orders: Sequence[Order]) -> dict[str, Any]:
    kept = [order for order in orders if order.state in _COUNTED]
    zero = Decimal(0)
    return {
        "event_id": event.id,
        "created_at": event.created_at.isoformat(),
        "state": event.state.value,
        "severity": event.severity.value,
        "grid_node": event.grid_node,
        "direction": event.direction,
        "window_start": event.window_start.isoformat(),
        "window_end": event.window_end.isoformat(),
        "required_kw": text(event.required_kw),
        "offers": [
            {
                "id": o.id,
                "aggregator_id": o.aggregator_id,
                "available_kw": text(o.available_kw),
                "price_per_kwh": text(o.price_per_kwh),
                "reliability": text(o.reliability),
            }
            for o in offers
        ],
        "orders": [
            {
                "id": o.id,
                "aggregator_id": o.aggregator_id,
                "state": o.state.value,
                "fulfillment_state": o.fulfillment_state,
                "outcome": outcome_of(o),
                "committed_kw": text(o.committed_kw),
                "delivered_kw": text(o.delivered_kw),
                "shortfall_kwh": (o.settlement or {}).get("shortfall_kwh"),
                "cost": text(o.net_amount if o.net_amount is not None else o.quoted_cost),
            }
            for o in orders
        ],
        "committed_kw": text(sum((o.committed_kw or zero for o in kept), zero)),
        "delivered_kw": text(sum((o.delivered_kw or zero for o in kept), zero)),
        "delivered_kwh": text(sum((o.delivered_kwh or zero for o in kept), zero)),
        "cost": text(
            sum((o.net_amount if o.net_amount is not None else o.quoted_cost or zero for o in kept), zero)
        ),
        "currency": next((o.currency for o in kept if o.currency), None),
        "outcome": outcome(orders),
        "shortfall_kwh": text(shortfall(kept)),
    }


async def history(session: AsyncSession, limit: int = 100) -> dict[str, Any]:
    events = EventRepository(session)
    recent = await events.recent(limit)
    orders = await OrderRepository(session).for_events(event.id for event in recent)
    rows = [_row(event, await events.offers(event.id), orders[event.id]) for event in recent]
    return {"events": rows, "reliability": await reliability_series(session)}


async def reliability_series(session: AsyncSession) -> dict[str, list[dict[str, str]]]:
    deliveries = []
    for order in await OrderRepository(session).finished():
        ratio = delivery_ratio(
            order.committed_kw, order.delivered_kw, order.delivered_kwh, order.window_start, order.window_end
        )
        if ratio is not None:
            deliveries.append(Delivery(order.aggregator_id, order.event_id, order.updated_at, ratio))
    return running(deliveries)


def as_csv(report: dict[str, Any]) -> str:
    """One line per event; offers and orders summarised, reliability as the latest figure per aggregator."""
    latest = {agg: series[-1]["reliability"] for agg, series in report["reliability"].items() if series}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report["events"]:
        aggregators = sorted({order["aggregator_id"] for order in row["orders"]})
        writer.writerow(
            {
                **{column: row.get(column) for column in CSV_COLUMNS},
                "offers": len(row["offers"]),
                "orders": "; ".join(
                    f"{o['aggregator_id']}:{o['state']}:{o['committed_kw'] or '-'} kW:{o['outcome'] or '-'}"
                    for o in row["orders"]
                ),
                "reliability": "; ".join(f"{agg}={latest[agg]}" for agg in aggregators if agg in latest),
            }
        )
    return out.getvalue()
