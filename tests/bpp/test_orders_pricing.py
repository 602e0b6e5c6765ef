"""Quotes: energy = kW × hours × price/kWh, reservation = kW × price/kW, each rounded once to the cent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bpp.orders.pricing import Quote, hours, price
from bpp.orders.requests import Window
from tests.bpp.factories import T0


def window(minutes: int) -> Window:
    return Window(T0, T0 + timedelta(minutes=minutes))


def test_energy_and_reservation_lines() -> None:
    quote = price(
        Decimal("80"),
        window(90),
        currency="INR",
        price_per_kwh=Decimal("0.25"),
        reservation_price_per_kw=Decimal("1.5"),
    )

    assert hours(window(90)) == Decimal("1.5")
    assert (quote.energy_amount, quote.reservation_amount, quote.total) == (
        Decimal("30.00"),
        Decimal("120.00"),
        Decimal(150),
    )


def test_amounts_are_rounded_half_to_even_once() -> None:
    # 0.125 kW × 1 h × 0.1 = 0.0125 → 0.01 (half to even); 0.375 × 0.1 = 0.0375 → 0.04
    assert price(
        Decimal("0.125"), window(60), currency="USD", price_per_kwh=Decimal("0.1")
    ).energy_amount == (Decimal("0.01"))
    assert price(
        Decimal("0.375"), window(60), currency="USD", price_per_kwh=Decimal("0.1")
    ).energy_amount == (Decimal("0.04"))


def test_without_a_reservation_price_there_is_no_reservation_line() -> None:
    quote = price(Decimal(10), window(60), currency="INR", price_per_kwh=Decimal(2))
    assert (quote.reservation_amount, quote.total) == (None, Decimal("20.00"))
    assert "reservation_amount" not in quote.as_json()


money = st.decimals(min_value=0, max_value=1000, places=4)
kilowatts = st.decimals(min_value=Decimal("0.001"), max_value=100_000, places=3)


@given(kw=kilowatts, minutes=st.integers(1, 24 * 60), rate=money, reservation=st.none() | money)
def test_the_total_is_the_sum_of_the_lines_and_survives_storage(
    kw: Decimal, minutes: int, rate: Decimal, reservation: Decimal | None
) -> None:
    quote = price(
        kw, window(minutes), currency="INR", price_per_kwh=rate, reservation_price_per_kw=reservation
    )

    assert quote.total == quote.energy_amount + (quote.reservation_amount or 0)
    assert abs(quote.energy_amount - kw * Decimal(minutes) / 60 * rate) <= Decimal("0.005")
    assert quote.energy_amount == quote.energy_amount.quantize(Decimal("0.01"))
    assert Quote.from_json(quote.as_json()) == quote
