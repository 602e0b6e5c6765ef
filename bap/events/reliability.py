"""How much of an aggregator's promise to count on: its offer's own figure, corrected by what it delivered.

    reliability = (offer × PRIOR_WEIGHT + Σ delivery ratios) / (PRIOR_WEIGHT + n)

A delivery ratio is delivered ÷ committed energy of one finished order, capped to [0, 1]. The offer's
claim weighs as much as PRIOR_WEIGHT past orders, so one bad event moves the figure but does not erase it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

PRIOR_WEIGHT = Decimal(3)
_PLACES = Decimal("0.0001")
_HOUR = Decimal(3600)


@dataclass(frozen=True)
class Delivery:
    """One finished order of an aggregator, as far as reliability is concerned."""

    aggregator_id: str
    event_id: str
    finished_at: datetime
    ratio: Decimal


def delivery_ratio(
    committed_kw: Decimal | None,
    delivered_kw: Decimal | None,
    delivered_kwh: Decimal | None,
    window_start: datetime,
    window_end: datetime,
) -> Decimal | None:
    """delivered ÷ committed, by energy when known, else by mean power; None when nothing was committed."""
    if committed_kw is None or committed_kw <= 0:
        return None
    hours = Decimal((window_end - window_start).total_seconds()) / _HOUR
    if delivered_kwh is not None and hours > 0:
        ratio = delivered_kwh / (committed_kw * hours)
    elif delivered_kw is not None:
        ratio = delivered_kw / committed_kw
    else:
        return None
    return min(max(ratio, Decimal(0)), Decimal(1)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def blended(offer_reliability: Decimal, history: Sequence[Decimal]) -> Decimal:
    total = offer_reliability * PRIOR_WEIGHT + sum(history, Decimal(0))
    value = total / (PRIOR_WEIGHT + len(history))
    return min(max(value, Decimal(0)), Decimal(1)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def running(deliveries: Sequence[Delivery]) -> dict[str, list[dict[str, str]]]:
    """Per aggregator, its mean delivery ratio after each finished order, oldest first (for history)."""
    series: dict[str, list[dict[str, str]]] = {}
    totals: dict[str, tuple[Decimal, int]] = {}
    for delivery in sorted(deliveries, key=lambda d: d.finished_at):
        total, count = totals.get(delivery.aggregator_id, (Decimal(0), 0))
        total, count = total + delivery.ratio, count + 1
        totals[delivery.aggregator_id] = (total, count)
        series.setdefault(delivery.aggregator_id, []).append(
            {
                "event_id": delivery.event_id,
                "at": delivery.finished_at.isoformat(),
                "ratio": str(delivery.ratio),
                "reliability": str((total / count).quantize(_PLACES, rounding=ROUND_HALF_EVEN)),
            }
        )
    return series
