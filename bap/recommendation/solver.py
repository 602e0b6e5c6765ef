"""Least-cost covering with minimum takes: min Σ c_i x_i subject to Σ r_i x_i ≥ T, x_i ∈ {0} ∪ [lo_i, hi_i].

c_i is the cost of one kW of offer i over the window, r_i its reliability, T the target in reliable kW.
For a fixed set of offers the problem is a continuous covering LP: start every offer at lo_i and add
kW in order of effective price c_i / r_i (cost per reliable kW), which is optimal (fractional
knapsack). Which offers to use is the hard part: `exact_plan` searches the sets by branch and bound
(the bound is the same LP with the minimums of undecided offers relaxed), `greedy_plan` takes offers
in effective-price order and then trims the surplus, for when there are too many offers to search.

Candidates must come sorted by effective price with ties broken (reliability desc, aggregator id,
option id); both plans then depend only on that order, so equal-cost alternatives resolve the same
way every time. Takes are rounded up to `resolution` kW so coverage never falls short by rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Candidate:
    unit_cost: Decimal
    reliability: Decimal
    low: Decimal
    high: Decimal

    @property
    def effective(self) -> Decimal:
        return self.unit_cost / self.reliability


@dataclass(frozen=True)
class Plan:
    """kW per candidate index (only indexes with a positive take), with its exact cost and coverage."""

    takes: tuple[tuple[int, Decimal], ...]
    cost: Decimal
    expected: Decimal


def full_plan(candidates: Sequence[Candidate]) -> Plan:
    """Everything at its maximum: the most reliable kW the offers can give, for a partial answer."""
    return _plan(candidates, {index: c.high for index, c in enumerate(candidates)})


def fill(
    candidates: Sequence[Candidate], chosen: Sequence[int], target: Decimal, resolution: Decimal
) -> Plan | None:
    """The cheapest takes from exactly the `chosen` candidates (ascending indexes); None if too few."""
    takes = {index: candidates[index].low for index in chosen}
    expected = sum((candidates[index].low * candidates[index].reliability for index in chosen), ZERO)
    for index in chosen:
        need = target - expected
        if need <= ZERO:
            break
        candidate = candidates[index]
        extra = min(candidate.high - candidate.low, _ceil(need / candidate.reliability, resolution))
        takes[index] += extra
        expected += extra * candidate.reliability
    if expected < target:
        return None
    return _plan(candidates, takes)


def exact_plan(candidates: Sequence[Candidate], target: Decimal, resolution: Decimal) -> Plan | None:
    """The least-cost plan over every set of candidates, by branch and bound; None if none covers.

    The greedy plan is the first incumbent, so most sets are cut by the bound at once; the worst case
    (all-or-nothing offers of equal price, a subset-sum) still visits ~2^n nodes.
    """
    count = len(candidates)
    # (reliable kW, cost) of the room above the minimum if included, and of the whole offer if undecided
    above_min = [((c.high - c.low) * c.reliability, (c.high - c.low) * c.unit_cost) for c in candidates]
    whole = [(c.high * c.reliability, c.high * c.unit_cost) for c in candidates]
    included = [False] * count
    best = greedy_plan(candidates, target, resolution)

    def bound(depth: int, base_cost: Decimal, base_expected: Decimal) -> Decimal | None:
        need = target - base_expected
        cost = base_cost
        for index in range(count):
            if need <= ZERO:
                break
            if included[index]:
                reliable, room_cost = above_min[index]
            elif index >= depth:
                reliable, room_cost = whole[index]
            else:
                continue
            if reliable >= need:
                return cost + need * candidates[index].effective
            cost += room_cost
            need -= reliable
        return cost if need <= ZERO else None

    def visit(depth: int, base_cost: Decimal, base_expected: Decimal) -> None:
        nonlocal best
        lower = bound(depth, base_cost, base_expected)
        if lower is None or (best is not None and lower >= best.cost):
            return
        if depth == count or base_expected >= target:
            chosen = [index for index in range(count) if included[index]]
            plan = fill(candidates, chosen, target, resolution)
            if plan is not None and (best is None or plan.cost < best.cost):
                best = plan
            return
        candidate = candidates[depth]
        included[depth] = True
        visit(
            depth + 1,
            base_cost + candidate.low * candidate.unit_cost,
            base_expected + candidate.low * candidate.reliability,
        )
        included[depth] = False
        visit(depth + 1, base_cost, base_expected)

    visit(0, ZERO, ZERO)
    return best


def greedy_plan(candidates: Sequence[Candidate], target: Decimal, resolution: Decimal) -> Plan | None:
    """Take offers in effective-price order until covered, then trim the surplus from the dearest down."""
    takes: dict[int, Decimal] = {}
    expected = ZERO
    for index, candidate in enumerate(candidates):
        need = target - expected
        if need <= ZERO:
            break
        take = min(candidate.high, max(candidate.low, _ceil(need / candidate.reliability, resolution)))
        takes[index] = take
        expected += take * candidate.reliability
    if expected < target:
        return None
    for index in sorted(takes, reverse=True):
        candidate = candidates[index]
        surplus = expected - target
        if takes[index] * candidate.reliability <= surplus:
            expected -= takes.pop(index) * candidate.reliability
            continue
        cut = min(takes[index] - candidate.low, _floor(surplus / candidate.reliability, resolution))
        if cut > ZERO:
            takes[index] -= cut
            expected -= cut * candidate.reliability
    return _plan(candidates, takes)


def _plan(candidates: Sequence[Candidate], takes: dict[int, Decimal]) -> Plan:
    kept = tuple((index, kw) for index, kw in sorted(takes.items()) if kw > ZERO)
    return Plan(
        takes=kept,
        cost=sum((kw * candidates[index].unit_cost for index, kw in kept), ZERO),
        expected=sum((kw * candidates[index].reliability for index, kw in kept), ZERO),
    )


def _ceil(value: Decimal, resolution: Decimal) -> Decimal:
    return value.quantize(resolution, rounding=ROUND_CEILING)


def _floor(value: Decimal, resolution: Decimal) -> Decimal:
    return value.quantize(resolution, rounding=ROUND_FLOOR)
