"""Recommend the cheapest set of offers, and the kW to take from each, that covers a flexibility need.

Offers that cannot serve the need are excluded first, each with a reason: the wrong direction, a price
above the need's maximum, no reliable kW (reliability 0), or less available than their minimum take.
Each remaining offer i costs c_i = price_i × window hours + reservation_price_i per kW taken and counts
for reliability_i of each kW. Up to `exact_limit` offers the cheapest covering set is found exactly
(`solver.exact_plan`), beyond it greedily (`solver.greedy_plan`). When even every offer at its maximum
falls short, that is the answer, flagged partial with the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from decimal import ROUND_HALF_EVEN, Decimal

from bap.recommendation.models import (
    Exclusion,
    FlexNeed,
    FlexOption,
    Recommendation,
    Selection,
    SolveMethod,
)
from bap.recommendation.solver import Candidate, Plan, exact_plan, full_plan, greedy_plan
from schemas.core_v1 import format_decimal

EXACT_LIMIT = 20
KW_RESOLUTION = Decimal("0.001")
CENT = Decimal("0.01")
ZERO = Decimal(0)


def recommend(
    need: FlexNeed,
    options: Sequence[FlexOption],
    *,
    exact_limit: int = EXACT_LIMIT,
    kw_resolution: Decimal = KW_RESOLUTION,
) -> Recommendation:
    """The least-cost selection whose Σ kw × reliability ≥ required_kw × headroom, explained in words."""
    keys = [(option.aggregator_id, option.option_id) for option in options]
    if len(set(keys)) < len(keys):
        raise ValueError("options must be unique by (aggregator_id, option_id)")
    eligible, excluded = _screen(need, options)
    eligible.sort(key=lambda option: _order(need, option))
    candidates = [
        Candidate(
            unit_cost=_unit_cost(need, option),
            reliability=option.reliability,
            low=option.min_kw,
            high=option.takeable_kw,
        )
        for option in eligible
    ]
    target = need.target_kw
    method = SolveMethod.EXACT if len(candidates) <= exact_limit else SolveMethod.GREEDY
    solve = exact_plan if method is SolveMethod.EXACT else greedy_plan
    plan: Plan | None = solve(candidates, target, kw_resolution)
    partial = plan is None
    if plan is None:
        plan = full_plan(candidates)
    selections = tuple(_selection(need, eligible[index], kw) for index, kw in plan.takes)
    expected = sum((selection.expected_kw for selection in selections), ZERO)
    recommendation = Recommendation(
        selections=selections,
        covered_kw=sum((selection.kw for selection in selections), ZERO),
        expected_kw=expected,
        required_kw=need.required_kw,
        target_kw=target,
        cost=sum((selection.cost for selection in selections), ZERO),
        partial=partial,
        gap_kw=max(target - expected, ZERO) if partial else ZERO,
        excluded=tuple(excluded),
        method=method,
        explanation="",
    )
    unused = [option for index, option in enumerate(eligible) if index not in dict(plan.takes)]
    explanation = _explain(need, recommendation, len(eligible), unused)
    return recommendation.model_copy(update={"explanation": explanation})


def _screen(need: FlexNeed, options: Sequence[FlexOption]) -> tuple[list[FlexOption], list[Exclusion]]:
    eligible: list[FlexOption] = []
    excluded: list[Exclusion] = []
    for option in options:
        reason = _exclusion_reason(need, option)
        if reason is None:
            eligible.append(option)
        else:
            excluded.append(
                Exclusion(option_id=option.option_id, aggregator_id=option.aggregator_id, reason=reason)
            )
    return eligible, excluded


def _exclusion_reason(need: FlexNeed, option: FlexOption) -> str | None:
    if option.direction is not None and option.direction is not need.direction:
        return f"offers {option.direction}, the need is {need.direction}"
    if need.max_price_per_kwh is not None and option.price_per_kwh > need.max_price_per_kwh:
        return (
            f"price {_num(option.price_per_kwh)} per kWh is above the maximum "
            f"{_num(need.max_price_per_kwh)} per kWh"
        )
    if option.reliability == ZERO:
        return "reliability 0: none of its kW can be counted on"
    if option.takeable_kw == ZERO:
        return "no kW available"
    if option.takeable_kw < option.min_kw:
        available, minimum = _num(option.takeable_kw), _num(option.min_kw)
        return f"only {available} kW available, below its minimum take of {minimum} kW"
    return None


def _unit_cost(need: FlexNeed, option: FlexOption) -> Decimal:
    return option.price_per_kwh * need.hours + (option.reservation_price_per_kw or ZERO)


def _order(need: FlexNeed, option: FlexOption) -> tuple[Decimal, Decimal, str, str]:
    """Effective price per reliable kW, then reliability (higher first), aggregator id, option id."""
    return (
        _unit_cost(need, option) / option.reliability,
        -option.reliability,
        option.aggregator_id,
        option.option_id,
    )


def _selection(need: FlexNeed, option: FlexOption, kw: Decimal) -> Selection:
    energy = _money(kw * option.price_per_kwh * need.hours)
    reservation = _money(kw * (option.reservation_price_per_kw or ZERO))
    return Selection(
        option_id=option.option_id,
        aggregator_id=option.aggregator_id,
        kw=kw,
        expected_kw=kw * option.reliability,
        price_per_kwh=option.price_per_kwh,
        reliability=option.reliability,
        energy_cost=energy,
        reservation_cost=reservation,
        cost=energy + reservation,
    )


def _explain(need: FlexNeed, result: Recommendation, eligible: int, unused: Sequence[FlexOption]) -> str:
    start, end = need.window_start.astimezone(UTC), need.window_end.astimezone(UTC)
    duration = _num(need.hours.quantize(Decimal("0.01")))
    lines = [
        f"Need {_num(need.required_kw)} kW {need.direction} from {start:%Y-%m-%d %H:%M} "
        f"to {end:%Y-%m-%d %H:%M} UTC ({duration} h); "
        f"with headroom ×{_num(need.headroom)} the target is {_num(result.target_kw)} reliable kW "
        "(kW × reliability).",
    ]
    how = (
        "exact search over every set"
        if result.method is SolveMethod.EXACT
        else "greedy by price per reliable kW"
    )
    if result.partial:
        lines.append(
            f"The {eligible} eligible offers cannot cover it: taking all of them gives "
            f"{_num(result.expected_kw)} reliable kW, {_num(result.gap_kw)} kW short."
        )
    elif result.selections:
        lines.append(f"Chose {len(result.selections)} of {eligible} eligible offers ({how}), cheapest first:")
    for selection in result.selections:
        reservation = f" + reservation {selection.reservation_cost}" if selection.reservation_cost else ""
        lines.append(
            f"- {selection.aggregator_id}/{selection.option_id}: {_num(selection.kw)} kW × reliability "
            f"{_num(selection.reliability)} = {_num(selection.expected_kw)} kW expected, at "
            f"{_num(selection.price_per_kwh)} per kWh → {selection.energy_cost}{reservation}"
        )
    lines.append(
        f"Total: {_num(result.covered_kw)} kW contracted, {_num(result.expected_kw)} kW expected, "
        f"cost {result.cost}."
    )
    if unused and not result.partial:
        names = ", ".join(f"{option.aggregator_id}/{option.option_id}" for option in unused)
        lines.append(f"Not needed (the chosen offers cover the target): {names}.")
    for exclusion in result.excluded:
        lines.append(f"Excluded {exclusion.aggregator_id}/{exclusion.option_id}: {exclusion.reason}.")
    return "\n".join(lines)


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _num(value: Decimal) -> str:
    return format_decimal(value)
