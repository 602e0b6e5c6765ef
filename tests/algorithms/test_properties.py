"""Properties of the algorithms over generated inputs, each checked against an independent computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from bap.recommendation.models import FlexDirection, FlexNeed, FlexOption
from bap.recommendation.recommend import KW_RESOLUTION, recommend
from bpp.performance.delivery import DeviceMeasurement, OrderState, measure_order
from bpp.performance.delivery import FlexDirection as DeliveryDirection
from bpp.performance.settlement import SettlementTerms, settle
from tests.algorithms.factories import baseline

D = Decimal
START = datetime(2026, 1, 19, 17, 0, tzinfo=UTC)
RELIABILITIES = [D(r) for r in ("0.5", "0.6", "0.75", "0.8", "0.9", "0.95", "1")]


def _need(required: int, headroom: str, hours: int) -> FlexNeed:
    return FlexNeed(
        required_kw=D(required),
        window_start=START,
        window_end=START + timedelta(hours=hours),
        direction=FlexDirection.REDUCE,
        headroom=D(headroom),
    )


@st.composite
def offers(draw: st.DrawFn, max_count: int, max_low: int = 40, max_room: int = 80) -> list[FlexOption]:
    count = draw(st.integers(1, max_count))
    result = []
    for index in range(count):
        low = draw(st.integers(0, max_low))
        high = low + draw(st.integers(1, max_room))
        result.append(
            FlexOption(
                option_id=f"o{index}",
                aggregator_id=f"agg-{draw(st.integers(0, 3))}",
                available_kw=D(high - draw(st.integers(0, 1)) * draw(st.integers(0, high - low))),
                min_kw=D(low),
                max_kw=D(high),
                price_per_kwh=draw(st.decimals(D("0.05"), D("0.60"), places=2)),
                reliability=draw(st.sampled_from(RELIABILITIES)),
                reservation_price_per_kw=draw(st.none() | st.decimals(D(0), D("0.20"), places=2)),
            )
        )
    return result


def _unit_cost(need: FlexNeed, option: FlexOption) -> Decimal:
    return option.price_per_kwh * need.hours + (option.reservation_price_per_kw or D(0))


# --- recommendation -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    options=offers(max_count=9),
    required=st.integers(1, 400),
    headroom=st.sampled_from(["1", "1.1", "1.25"]),
    greedy=st.booleans(),
)
def test_coverage_meets_the_need_whenever_all_offers_together_can(
    options: list[FlexOption], required: int, headroom: str, greedy: bool
) -> None:
    need = _need(required, headroom, 2)
    capacity = sum((o.takeable_kw * o.reliability for o in options if o.takeable_kw >= o.min_kw), D(0))

    result = recommend(need, options, exact_limit=0 if greedy else 20)

    by_id = {o.option_id: o for o in options}
    for selection in result.selections:
        option = by_id[selection.option_id]
        assert option.min_kw <= selection.kw <= option.takeable_kw
    assert result.expected_kw == sum((s.kw * by_id[s.option_id].reliability for s in result.selections), D(0))
    if capacity >= need.target_kw:
        assert not result.partial
        assert result.expected_kw >= need.target_kw
    else:
        assert result.partial
        assert result.gap_kw == need.target_kw - capacity


@given(
    required=st.integers(1, 500),
    headroom=st.sampled_from(["1", "1.1", "1.25"]),
    reliability=st.sampled_from(RELIABILITIES),
)
def test_a_single_offer_is_taken_to_the_smallest_watt_that_covers(
    required: int, headroom: str, reliability: Decimal
) -> None:
    need = _need(required, headroom, 1)
    option = FlexOption(
        option_id="o",
        aggregator_id="a",
        available_kw=D(5000),
        max_kw=D(5000),
        price_per_kwh=D("0.1"),
        reliability=reliability,
    )

    (selection,) = recommend(need, [option]).selections

    assert selection.kw * reliability >= need.target_kw
    assert (selection.kw - KW_RESOLUTION) * reliability < need.target_kw


@settings(max_examples=150, deadline=None)
@given(
    options=offers(max_count=4, max_low=4, max_room=5),
    required=st.integers(1, 30),
    headroom=st.sampled_from(["1", "1.1", "1.25"]),
    hours=st.integers(1, 3),
)
def test_exact_is_never_dearer_than_any_feasible_whole_kw_selection(
    options: list[FlexOption], required: int, headroom: str, hours: int
) -> None:
    need = _need(required, headroom, hours)
    result = recommend(need, options)

    # brute force: every option at 0 or a whole kW between its minimum and what it can give
    choices = []
    for option in options:
        kws = [D(0)] + [D(kw) for kw in range(int(option.min_kw), int(option.takeable_kw) + 1) if kw > 0]
        choices.append([(kw * _unit_cost(need, option), kw * option.reliability) for kw in kws])
    feasible = [
        sum((cost for cost, _ in combo), D(0))
        for combo in product(*choices)
        if sum((reliable for _, reliable in combo), D(0)) >= need.target_kw
    ]
    if not feasible:
        return
    by_id = {option.option_id: option for option in options}
    ours = sum((s.kw * _unit_cost(need, by_id[s.option_id]) for s in result.selections), D(0))
    # takes are rounded up to the watt: at most one partly filled offer pays for < 1 W extra
    slack = KW_RESOLUTION * max(_unit_cost(need, option) for option in options)
    assert not result.partial
    assert ours <= min(feasible) + slack


@settings(max_examples=50, deadline=None)
@given(options=offers(max_count=6), required=st.integers(1, 300))
def test_the_answer_does_not_depend_on_the_order_of_the_offers(
    options: list[FlexOption], required: int
) -> None:
    need = _need(required, "1.1", 2)

    forward = recommend(need, options)
    backward = recommend(need, list(reversed(options)))

    assert forward.selections == backward.selections


# --- settlement ---------------------------------------------------------------------------------------

amounts = st.decimals(D(0), D(1000), places=3)
rates = st.decimals(D(0), D(2), places=4)


@given(
    delivered=amounts,
    committed=st.decimals(D(0), D(500), places=3),
    event_hours=st.decimals(D("0.25"), D(4), places=2),
    rate=rates,
    penalty_rate=st.none() | rates,
    reservation=st.none() | rates,
    cap=st.none() | st.decimals(D(0), D(100), places=2),
    tolerance=st.decimals(D("0.5"), D(1), places=2),
)
def test_net_is_gross_plus_reservation_minus_penalty_exactly(
    delivered: Decimal,
    committed: Decimal,
    event_hours: Decimal,
    rate: Decimal,
    penalty_rate: Decimal | None,
    reservation: Decimal | None,
    cap: Decimal | None,
    tolerance: Decimal,
) -> None:
    terms = SettlementTerms(
        rate_per_kwh=rate,
        currency="USD",
        tolerance=tolerance,
        penalty_rate_per_kwh=penalty_rate,
        reservation_price_per_kw=reservation,
        penalty_cap=cap,
    )

    result = settle(delivered_kwh=delivered, committed_kw=committed, event_hours=event_hours, terms=terms)

    assert result.net_amount == result.gross_amount + result.reservation_amount - result.penalty_amount
    for amount in (result.gross_amount, result.penalty_amount, result.reservation_amount, result.net_amount):
        assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2
    assert result.penalty_amount >= 0
    if cap is not None:
        assert result.net_amount >= -cap
    if not result.penalty_capped:
        expected_shortfall = max(D(0), (committed * event_hours * tolerance).quantize(D("0.001")) - delivered)
        assert result.shortfall_kwh == expected_shortfall


# --- delivery -----------------------------------------------------------------------------------------

kw = st.decimals(D(-50), D(200), places=3)


@st.composite
def devices(draw: st.DrawFn, intervals: int, interval: timedelta) -> list[DeviceMeasurement]:
    count = draw(st.integers(0, 4))
    return [
        DeviceMeasurement(
            device_id=f"d{n}",
            baseline=baseline(
                draw(st.lists(kw, min_size=intervals, max_size=intervals)), start=START, interval=interval
            ),
            actual_kw=tuple(draw(st.lists(st.none() | kw, min_size=intervals, max_size=intervals))),
            acked=draw(st.booleans()),
            opted_out=draw(st.booleans()),
        )
        for n in range(count)
    ]


@given(
    data=st.data(),
    intervals=st.integers(1, 8),
    minutes=st.sampled_from([1, 5, 15]),
    direction=st.sampled_from(list(DeliveryDirection)),
    committed=st.decimals(D(0), D(300), places=3),
)
def test_delivered_kwh_is_the_sum_of_the_interval_figures(
    data: st.DataObject, intervals: int, minutes: int, direction: DeliveryDirection, committed: Decimal
) -> None:
    interval = timedelta(minutes=minutes)
    fleet = data.draw(devices(intervals, interval))

    result = measure_order(
        fleet,
        direction=direction,
        committed_kw=committed,
        window_start=START,
        window_end=START + intervals * interval,
        interval=interval,
    )

    hours = D(minutes) / D(60)
    sign = 1 if direction is DeliveryDirection.REDUCE else -1
    for k, row in enumerate(result.per_interval):
        measured = [
            (d.baseline.per_interval_kw[k], d.actual_kw[k]) for d in fleet if d.actual_kw[k] is not None
        ]
        raw = sign * (
            sum((b for b, _ in measured), D(0)) - sum((a for _, a in measured if a is not None), D(0))
        )
        paid = min(max(raw, D(0)), committed)  # never negative, never above the commitment
        assert row.delivered_kw == raw
        assert row.paid_kw == paid
        assert row.delivered_kwh == (paid * hours).quantize(D("0.001"))
        assert row.over_delivered_kwh == (max(raw - committed, D(0)) * hours).quantize(D("0.001"))
    assert result.delivered_kwh == sum((row.delivered_kwh for row in result.per_interval), D(0))
    assert result.raw_delivered_kwh == sum((row.raw_delivered_kwh for row in result.per_interval), D(0))
    assert result.over_delivered_kwh == sum((row.over_delivered_kwh for row in result.per_interval), D(0))
    settled = settle(
        delivered_kwh=result.delivered_kwh,
        committed_kw=committed,
        event_hours=result.event_hours,
        terms=SettlementTerms(rate_per_kwh=D("0.3"), currency="USD"),
    )
    assert (result.state is OrderState.COMPLETED) == (settled.shortfall_kwh == 0)
