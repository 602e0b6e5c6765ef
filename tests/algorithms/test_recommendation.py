"""Recommendations worked by hand. Every example needs 100 kW for 2 h with 1.1 headroom: 110 reliable kW.

One kW for the window costs price × 2 h (+ its reservation price), so 0.20 per kWh is 0.40 per kW.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import permutations

import pytest
from pydantic import ValidationError

from bap.recommendation.models import FlexDirection, FlexNeed, FlexOption, Recommendation, SolveMethod
from bap.recommendation.recommend import recommend

D = Decimal
NEED = FlexNeed(
    required_kw=D(100),
    window_start=datetime(2026, 1, 19, 17, 0, tzinfo=UTC),
    window_end=datetime(2026, 1, 19, 19, 0, tzinfo=UTC),
    direction=FlexDirection.REDUCE,
)


def offer(
    option_id: str,
    max_kw: int | str,
    price: str,
    *,
    reliability: str = "1",
    min_kw: int | str = 0,
    available: int | str | None = None,
    aggregator: str | None = None,
    reservation: str | None = None,
    direction: FlexDirection | None = None,
) -> FlexOption:
    return FlexOption(
        option_id=option_id,
        aggregator_id=aggregator or f"agg-{option_id}",
        available_kw=D(max_kw if available is None else available),
        min_kw=D(min_kw),
        max_kw=D(max_kw),
        price_per_kwh=D(price),
        reliability=D(reliability),
        reservation_price_per_kw=None if reservation is None else D(reservation),
        direction=direction,
    )


def takes(result: Recommendation) -> dict[str, Decimal]:
    return {selection.option_id: selection.kw for selection in result.selections}


def test_the_cheapest_offers_are_filled_first() -> None:
    result = recommend(NEED, [offer("c", 200, "0.40"), offer("b", 80, "0.25"), offer("a", 80, "0.20")])

    assert takes(result) == {"a": D(80), "b": D(30)}
    assert result.cost == D("47.00")  # 80 × 0.40 + 30 × 0.50
    assert (result.covered_kw, result.expected_kw, result.target_kw) == (D(110), D(110), D("110.0"))
    assert not result.partial and result.gap_kw == 0
    assert result.method is SolveMethod.EXACT
    assert [s.cost for s in result.selections] == [D("32.00"), D("15.00")]


def test_reliability_changes_the_choice() -> None:
    cheap_but_flaky = offer("a", 300, "0.20", reliability="0.5")  # 0.80 per reliable kW
    dear_but_sure = offer("b", 200, "0.30")  # 0.60 per reliable kW

    result = recommend(NEED, [cheap_but_flaky, dear_but_sure])
    trusted = recommend(NEED, [offer("a", 300, "0.20"), dear_but_sure])

    assert takes(result) == {"b": D(110)}
    assert result.cost == D("66.00")
    assert takes(trusted) == {"a": D(110)}
    assert trusted.cost == D("44.00")


def test_expected_kw_weights_each_take_by_its_reliability() -> None:
    result = recommend(NEED, [offer("a", 100, "0.20", reliability="0.8"), offer("b", 100, "0.30")])

    # a: 100 kW → 80 reliable; b fills the last 30
    assert takes(result) == {"a": D(100), "b": D(30)}
    assert result.expected_kw == D(110)
    assert [s.expected_kw for s in result.selections] == [D(80), D(30)]


def test_a_minimum_take_forces_a_different_set() -> None:
    free = recommend(NEED, [offer("a", 100, "0.20"), offer("b", 200, "0.22"), offer("c", 50, "0.30")])
    bounded = recommend(
        NEED, [offer("a", 100, "0.20"), offer("b", 200, "0.22", min_kw=60), offer("c", 50, "0.30")]
    )

    assert takes(free) == {"a": D(100), "b": D(10)}
    assert free.cost == D("44.40")
    # taking b means at least 60 kW: a 50 + b 60 costs 46.40, a 100 + c 10 costs 46.00
    assert takes(bounded) == {"a": D(100), "c": D(10)}
    assert bounded.cost == D("46.00")


def test_greedy_beyond_the_exact_limit_is_feasible_but_may_cost_more() -> None:
    options = [offer("a", 100, "0.20"), offer("b", 200, "0.22", min_kw=60), offer("c", 50, "0.30")]

    result = recommend(NEED, options, exact_limit=2)

    assert result.method is SolveMethod.GREEDY
    assert takes(result) == {"a": D(50), "b": D(60)}  # a 100, then b's minimum 60, trimmed back
    assert result.cost == D("46.40")
    assert "greedy" in result.explanation


def test_options_that_cannot_cover_the_need_give_a_partial_answer_with_the_gap() -> None:
    result = recommend(NEED, [offer("a", 50, "0.20", reliability="0.8"), offer("b", 30, "0.30")])

    assert result.partial
    assert takes(result) == {"a": D(50), "b": D(30)}
    assert result.expected_kw == D(70)
    assert result.gap_kw == D(40)
    assert "cannot cover it" in result.explanation
    assert "40 kW short" in result.explanation


def test_offers_above_the_maximum_price_are_excluded_and_reported() -> None:
    need = NEED.model_copy(update={"max_price_per_kwh": D("0.40")})

    result = recommend(need, [offer("a", 200, "0.20"), offer("d", 200, "0.50")])

    assert takes(result) == {"a": D(110)}
    assert [(e.option_id, e.reason) for e in result.excluded] == [
        ("d", "price 0.5 per kWh is above the maximum 0.4 per kWh")
    ]
    assert "Excluded agg-d/d: price 0.5 per kWh is above the maximum 0.4 per kWh." in result.explanation


def test_offers_that_cannot_serve_are_excluded_with_their_reason() -> None:
    options = [
        offer("wrong-way", 200, "0.10", direction=FlexDirection.INCREASE),
        offer("unreliable", 200, "0.10", reliability="0"),
        offer("too-small", 100, "0.10", min_kw=50, available=20),
        offer("empty", 100, "0.10", available=0),
        offer("good", 200, "0.30", direction=FlexDirection.REDUCE),
    ]

    result = recommend(NEED, options)

    assert takes(result) == {"good": D(110)}
    assert {e.option_id: e.reason for e in result.excluded} == {
        "wrong-way": "offers INCREASE, the need is REDUCE",
        "unreliable": "reliability 0: none of its kW can be counted on",
        "too-small": "only 20 kW available, below its minimum take of 50 kW",
        "empty": "no kW available",
    }


def test_available_kw_limits_the_take_below_max_kw() -> None:
    result = recommend(NEED, [offer("a", 200, "0.20", available=70), offer("b", 200, "0.30")])

    assert takes(result) == {"a": D(70), "b": D(40)}


def test_reservation_price_counts_in_the_cost_of_each_kw() -> None:
    # a: 0.40 + 0.10 = 0.50 per kW for the window; b: 0.48 per kW
    result = recommend(NEED, [offer("a", 200, "0.20", reservation="0.10"), offer("b", 100, "0.24")])

    assert takes(result) == {"b": D(100), "a": D(10)}
    a = result.selections[1]
    assert (a.energy_cost, a.reservation_cost, a.cost) == (D("4.00"), D("1.00"), D("5.00"))
    assert result.cost == D("53.00")  # 48.00 + 5.00


def test_equal_offers_are_taken_in_aggregator_order_whatever_order_they_arrive_in() -> None:
    options = [
        offer("x", 60, "0.20", aggregator="agg-b"),
        offer("y", 60, "0.20", aggregator="agg-a"),
        offer("z", 60, "0.20", aggregator="agg-c"),
    ]

    results = {tuple(sorted(takes(recommend(NEED, list(order))).items())) for order in permutations(options)}

    assert results == {(("x", D(50)), ("y", D(60)))}


def test_equal_price_per_reliable_kw_prefers_the_more_reliable_offer() -> None:
    sure = offer("sure", 60, "0.20", aggregator="agg-z")  # 0.40 per reliable kW
    likely = offer("likely", 60, "0.18", reliability="0.9", aggregator="agg-a")  # 0.36 / 0.9 = 0.40

    result = recommend(NEED, [likely, sure])

    assert [s.option_id for s in result.selections] == ["sure", "likely"]
    assert takes(result) == {"sure": D(60), "likely": D("55.556")}  # 50 / 0.9, rounded up to the watt
    assert result.expected_kw >= D(110)


def test_the_explanation_reads_as_a_plain_account() -> None:
    result = recommend(NEED, [offer("c", 200, "0.40"), offer("b", 80, "0.25"), offer("a", 80, "0.20")])

    assert result.explanation.splitlines() == [
        "Need 100 kW REDUCE from 2026-01-19 17:00 to 2026-01-19 19:00 UTC (2 h); "
        "with headroom ×1.1 the target is 110 reliable kW (kW × reliability).",
        "Chose 2 of 3 eligible offers (exact search over every set), cheapest first:",
        "- agg-a/a: 80 kW × reliability 1 = 80 kW expected, at 0.2 per kWh → 32.00",
        "- agg-b/b: 30 kW × reliability 1 = 30 kW expected, at 0.25 per kWh → 15.00",
        "Total: 110 kW contracted, 110 kW expected, cost 47.00.",
        "Not needed (the chosen offers cover the target): agg-c/c.",
    ]


def test_inputs_are_validated() -> None:
    with pytest.raises(ValidationError, match="exceeds max_kw"):
        offer("a", 10, "0.2", min_kw=20)
    with pytest.raises(ValidationError):
        offer("a", 10, "0.2", reliability="1.5")
    with pytest.raises(ValidationError, match="after window_start"):
        NEED.model_validate({**NEED.model_dump(), "window_end": NEED.window_start})
    with pytest.raises(ValueError, match="unique"):
        recommend(NEED, [offer("a", 10, "0.2"), offer("a", 20, "0.3")])
