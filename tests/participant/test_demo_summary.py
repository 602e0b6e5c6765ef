"""The `degflex demo` summary tells how each order went, not merely that it ended: a BAP order's state
COMPLETED only says it is over; its outcome is the aggregator's verdict (participant/network/summary.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bap.orders.models import Order, OrderState
from participant.network.summary import aggregator_totals, bap_order_view, format_summary


def order(order_id: str, aggregator_id: str, state: OrderState, **columns: Any) -> Order:
    return Order(
        id=order_id,
        aggregator_id=aggregator_id,
        bpp_order_id=f"bpp-{order_id}",
        state=state,
        requested_kw=columns.get("committed_kw", Decimal(0)),
        **columns,
    )


def test_each_order_shows_its_outcome_and_the_totals_count_them() -> None:
    short = order(
        "o1",
        "alpha.aggregator",
        OrderState.COMPLETED,
        fulfillment_state="SETTLED",
        outcome="PARTIAL",
        committed_kw=Decimal("60"),
        delivered_kw=Decimal("51.333"),
        net_amount=Decimal("0.12"),
        settlement={"shortfall_kwh": "0.077", "net_amount": "0.12"},
    )
    # Settled before the BAP kept verdicts: the settlement's shortfall says how it went.
    full = order(
        "o2",
        "beta.aggregator",
        OrderState.COMPLETED,
        fulfillment_state="SETTLED",
        committed_kw=Decimal("32.632"),
        delivered_kw=Decimal("35.896"),
        net_amount=Decimal("0.14"),
        settlement={"shortfall_kwh": "0", "net_amount": "0.14"},
    )
    running = order("o3", "beta.aggregator", OrderState.ACTIVE, committed_kw=Decimal("5"))

    views = [bap_order_view(row) | {"bpp": None} for row in (short, full, running)]
    assert [(view["state"], view["fulfillment_state"], view["outcome"]) for view in views] == [
        ("COMPLETED", "SETTLED", "PARTIAL"),
        ("COMPLETED", "SETTLED", "COMPLETED"),
        ("ACTIVE", None, None),
    ]
    by_aggregator = aggregator_totals([short, full, running], {})
    assert (by_aggregator["alpha.aggregator"]["completed"], by_aggregator["alpha.aggregator"]["partial"]) == (
        0,
        1,
    )
    assert (by_aggregator["beta.aggregator"]["completed"], by_aggregator["beta.aggregator"]["partial"]) == (
        1,
        0,
    )

    totals = {**by_aggregator["alpha.aggregator"], "orders": 1}
    text = format_summary({"event": None, "orders": views, "totals": totals}, dispatch_available=True)
    rows = {line.split()[0] + " " + line.split()[1]: line.split()[2] for line in text.splitlines()[3:6]}
    assert rows == {
        "alpha.aggregator bpp-o1": "PARTIAL",
        "beta.aggregator bpp-o2": "COMPLETED",
        "beta.aggregator bpp-o3": "ACTIVE",
    }
    assert "51.333 kW delivered (0 completed, 1 partial)" in text
