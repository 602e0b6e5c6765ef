"""Settlement worked by hand: gross, the paid cap, shortfall penalty, reservation, the penalty cap and
cent rounding."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from bpp.performance.delivery import (
    DEFAULT_MAX_PAID_RATIO,
    DeviceMeasurement,
    FlexDirection,
    OrderPerformance,
    measure_order,
)
from bpp.performance.errors import InconsistentInputs
from bpp.performance.settlement import SettlementTerms, settle, settle_order
from schemas.profile import read_tag_group, tag_group
from tests.algorithms.factories import QUARTER, baseline

D = Decimal
USD_30 = SettlementTerms(rate_per_kwh=D("0.30"), currency="USD")


def test_shortfall_below_the_tolerance_is_penalised_at_one_and_a_half_times_the_rate() -> None:
    # 30 kW for 1 h at 95 % → 28.5 kWh target; 22.5 delivered → 6 kWh short at 0.45
    result = settle(delivered_kwh=D("22.5"), committed_kw=D(30), event_hours=D(1), terms=USD_30)

    assert result.gross_amount == D("6.75")
    assert result.target_kwh == D("28.5")
    assert result.shortfall_kwh == D(6)
    assert result.penalty_rate_per_kwh == D("0.45")
    assert result.penalty_amount == D("2.70")
    assert result.reservation_amount == D(0)
    assert result.net_amount == D("4.05")
    assert not result.penalty_capped


def test_delivery_at_or_above_the_tolerance_has_no_penalty() -> None:
    at_target = settle(delivered_kwh=D("28.5"), committed_kw=D(30), event_hours=D(1), terms=USD_30)
    in_full = settle(delivered_kwh=D(30), committed_kw=D(30), event_hours=D(1), terms=USD_30)

    assert (at_target.shortfall_kwh, at_target.penalty_amount, at_target.net_amount) == (
        D(0),
        D(0),
        D("8.55"),
    )
    assert (in_full.shortfall_kwh, in_full.net_amount) == (D(0), D("9.00"))


def test_reservation_payment_is_added() -> None:
    terms = SettlementTerms(rate_per_kwh=D("0.30"), currency="USD", reservation_price_per_kw=D("0.50"))

    result = settle(delivered_kwh=D("22.5"), committed_kw=D(30), event_hours=D(1), terms=terms)

    assert result.reservation_amount == D("15.00")
    assert result.net_amount == D("19.05")  # 6.75 + 15.00 − 2.70


def test_an_explicit_penalty_rate_replaces_the_default() -> None:
    terms = SettlementTerms(rate_per_kwh=D("0.30"), currency="USD", penalty_rate_per_kwh=D("1"))

    result = settle(delivered_kwh=D("22.5"), committed_kw=D(30), event_hours=D(1), terms=terms)

    assert result.penalty_amount == D("6.00")
    assert result.net_amount == D("0.75")


def test_net_can_go_negative_but_never_below_the_cap() -> None:
    # nothing delivered against 100 kW for 1 h: 95 kWh short × 0.45 = 42.75
    uncapped = settle(delivered_kwh=D(0), committed_kw=D(100), event_hours=D(1), terms=USD_30)
    capped_terms = SettlementTerms(rate_per_kwh=D("0.30"), currency="USD", penalty_cap=D(20))
    capped = settle(delivered_kwh=D(0), committed_kw=D(100), event_hours=D(1), terms=capped_terms)

    assert uncapped.net_amount == D("-42.75")
    assert capped.penalty_capped
    assert capped.penalty_amount == D("20.00")
    assert capped.net_amount == D("-20.00")


def test_the_cap_counts_earnings_before_limiting_the_penalty() -> None:
    terms = SettlementTerms(
        rate_per_kwh=D("0.30"), currency="USD", penalty_cap=D(5), reservation_price_per_kw=D("0.10")
    )

    result = settle(delivered_kwh=D(10), committed_kw=D(100), event_hours=D(1), terms=terms)

    # gross 3.00 + reservation 10.00 − penalty (85 × 0.45 = 38.25) = −25.25 → penalty 18.00, net −5.00
    assert result.penalty_amount == D("18.00")
    assert result.net_amount == D("-5.00")
    assert result.gross_amount + result.reservation_amount - result.penalty_amount == result.net_amount


@pytest.mark.parametrize(
    ("delivered", "gross"),
    [
        ("0.25", "0.02"),  # 0.025 → half to even: down
        ("0.35", "0.04"),  # 0.035 → half to even: up
        ("10.125", "1.01"),  # 1.0125 → 1.01
        ("10.155", "1.02"),  # 1.0155 → 1.02
    ],
)
def test_amounts_round_half_to_even_to_cents(delivered: str, gross: str) -> None:
    terms = SettlementTerms(rate_per_kwh=D("0.1"), currency="EUR", tolerance=D("0.5"))

    result = settle(delivered_kwh=D(delivered), committed_kw=D(0), event_hours=D(1), terms=terms)

    assert result.gross_amount == D(gross)
    assert result.gross_amount.as_tuple().exponent == -2


def test_a_currency_without_cents_rounds_to_whole_units() -> None:
    terms = SettlementTerms(rate_per_kwh=D(25), currency="JPY", minor_unit=D(1))

    result = settle(delivered_kwh=D("22.5"), committed_kw=D(30), event_hours=D(1), terms=terms)

    assert result.gross_amount == D(562)  # 562.5 → 562
    assert result.penalty_amount == D(225)  # 6 × 37.5


def test_settle_order_uses_the_measured_paid_energy() -> None:
    start = datetime(2026, 1, 19, 17, 0, tzinfo=UTC)
    device = DeviceMeasurement(
        device_id="load-a",
        baseline=baseline(["50"] * 4, start=start),
        actual_kw=(D(20), D(20), D(20), D(80)),  # 30, 30, 30, −30 kW
    )
    performance = measure_order(
        [device],
        direction=FlexDirection.REDUCE,
        committed_kw=D(30),
        window_start=start,
        window_end=start + 4 * QUARTER,
        interval=QUARTER,
    )

    result = settle_order(performance, USD_30)

    assert result.delivered_kwh == D("22.5")  # the negative interval is not paid, nor deducted
    assert result.net_amount == D("4.05")


def _sixty_kw_committed(
    actual_kw: str, *, max_paid_ratio: Decimal = DEFAULT_MAX_PAID_RATIO
) -> OrderPerformance:
    start = datetime(2026, 1, 19, 17, 0, tzinfo=UTC)
    device = DeviceMeasurement(
        device_id="load-a", baseline=baseline(["100"] * 4, start=start), actual_kw=(D(actual_kw),) * 4
    )
    return measure_order(
        [device],
        direction=FlexDirection.REDUCE,
        committed_kw=D(60),
        window_start=start,
        window_end=start + 4 * QUARTER,
        interval=QUARTER,
        max_paid_ratio=max_paid_ratio,
    )


def test_over_delivery_from_the_dispatch_headroom_is_not_paid() -> None:
    performance = _sixty_kw_committed("34")  # 66 kW delivered against 60 committed, for an hour

    result = settle_order(performance, USD_30)

    assert performance.raw_delivered_kwh == D(66)
    assert result.delivered_kwh == D(60)
    assert result.gross_amount == D("18.00")  # not 66 × 0.30 = 19.80
    assert result.net_amount == D("18.00")


def test_the_terms_can_allow_paying_some_over_delivery() -> None:
    terms = SettlementTerms(rate_per_kwh=D("0.30"), currency="USD", max_paid_ratio=D("1.05"))

    result = settle_order(_sixty_kw_committed("34", max_paid_ratio=D("1.05")), terms)

    assert result.delivered_kwh == D(63)
    assert result.gross_amount == D("18.90")


def test_settle_order_refuses_a_different_max_paid_ratio() -> None:
    terms = SettlementTerms(rate_per_kwh=D("0.30"), currency="USD", max_paid_ratio=D("1.1"))

    with pytest.raises(InconsistentInputs, match="max paid ratio"):
        settle_order(_sixty_kw_committed("34"), terms)


def test_settle_order_refuses_a_different_tolerance() -> None:
    start = datetime(2026, 1, 19, 17, 0, tzinfo=UTC)
    performance = measure_order(
        [],
        direction=FlexDirection.REDUCE,
        committed_kw=D(30),
        window_start=start,
        window_end=start + 4 * QUARTER,
        interval=QUARTER,
    )

    with pytest.raises(InconsistentInputs):
        settle_order(performance, SettlementTerms(rate_per_kwh=D(1), currency="USD", tolerance=D("0.9")))


def test_terms_reject_bad_values() -> None:
    with pytest.raises(ValidationError):
        SettlementTerms(rate_per_kwh=D(-1), currency="USD")
    with pytest.raises(ValidationError):
        SettlementTerms(rate_per_kwh=D(1), currency="usd")
    with pytest.raises(ValidationError):
        SettlementTerms(rate_per_kwh=D(1), currency="USD", max_paid_ratio=D("0.99"))
    with pytest.raises(InconsistentInputs):
        settle(delivered_kwh=D(-1), committed_kw=D(1), event_hours=D(1), terms=USD_30)


def test_settlement_tag_values_are_valid_profile_tags() -> None:
    result = settle(delivered_kwh=D("22.5"), committed_kw=D(30), event_hours=D(1), terms=USD_30)

    values = read_tag_group([tag_group("settlement", result.tag_values())], "settlement")

    assert values == {
        "delivered_kwh": "22.5",
        "rate_per_kwh": "0.3",
        "gross_amount": "6.75",
        "shortfall_kwh": "6",
        "penalty_amount": "2.7",
        "net_amount": "4.05",
        "currency": "USD",
    }
