"""What an order earns: delivered energy at the contracted rate, plus reservation, minus shortfall penalty.

delivered_kwh is the paid energy of `measure_order`: per interval max(0, raw), capped at the committed
kW × max_paid_ratio (1 by default), so the dispatcher's headroom never inflates the bill.

gross       = round¢(delivered_kwh × rate_per_kwh)
target_kwh  = round_Wh(committed_kw × event hours × tolerance)
shortfall   = max(0, target_kwh − delivered_kwh)
penalty     = round¢(shortfall × penalty_rate), penalty_rate defaulting to 1.5 × rate_per_kwh
reservation = round¢(reservation_price_per_kw × committed_kw), when the terms have one
net         = gross + reservation − penalty, and with a penalty cap the penalty is reduced so that
              net ≥ −cap; the identity net = gross + reservation − penalty always holds exactly.

Money is `Decimal`, each amount rounded once to the currency's minor unit, half to even.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, Field

from bpp.performance.delivery import DEFAULT_MAX_PAID_RATIO, DEFAULT_TOLERANCE, OrderPerformance
from bpp.performance.errors import InconsistentInputs
from bpp.performance.intervals import FROZEN, ZERO, round_kwh

PENALTY_MULTIPLIER = Decimal("1.5")
"""Default penalty rate as a multiple of the energy rate: missing a kWh costs more than it would earn."""

CENT = Decimal("0.01")


class SettlementTerms(BaseModel):
    """The money terms of an order; `penalty_rate_per_kwh` None means PENALTY_MULTIPLIER × rate, and
    `max_paid_ratio` caps each interval's paid kW at that multiple of the committed kW."""

    model_config = FROZEN

    rate_per_kwh: Decimal = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    tolerance: Decimal = Field(DEFAULT_TOLERANCE, gt=0, le=1)
    penalty_rate_per_kwh: Decimal | None = Field(None, ge=0)
    reservation_price_per_kw: Decimal | None = Field(None, ge=0)
    penalty_cap: Decimal | None = Field(None, ge=0)
    max_paid_ratio: Decimal = Field(DEFAULT_MAX_PAID_RATIO, ge=1)
    minor_unit: Decimal = Field(CENT, gt=0)

    @property
    def penalty_rate(self) -> Decimal:
        if self.penalty_rate_per_kwh is not None:
            return self.penalty_rate_per_kwh
        return self.rate_per_kwh * PENALTY_MULTIPLIER


class Settlement(BaseModel):
    """The settled amounts of an order, all in `currency`; `net_amount` is negative when penalties win."""

    model_config = FROZEN

    delivered_kwh: Decimal
    rate_per_kwh: Decimal
    gross_amount: Decimal
    target_kwh: Decimal
    shortfall_kwh: Decimal
    penalty_rate_per_kwh: Decimal
    penalty_amount: Decimal
    penalty_capped: bool
    reservation_amount: Decimal
    net_amount: Decimal
    currency: str

    def tag_values(self) -> dict[str, Decimal | str]:
        """Values for `tag_group("settlement", …)` (the profile has no reservation tag yet)."""
        return {
            "delivered_kwh": self.delivered_kwh,
            "rate_per_kwh": self.rate_per_kwh,
            "gross_amount": self.gross_amount,
            "shortfall_kwh": self.shortfall_kwh,
            "penalty_amount": self.penalty_amount,
            "net_amount": self.net_amount,
            "currency": self.currency,
        }


def settle(
    *, delivered_kwh: Decimal, committed_kw: Decimal, event_hours: Decimal, terms: SettlementTerms
) -> Settlement:
    """Settle paid delivered energy (already capped per interval) against `committed_kw` for `event_hours`."""
    if delivered_kwh < ZERO or committed_kw < ZERO or event_hours < ZERO:
        raise InconsistentInputs("delivered kWh, committed kW and event hours must not be negative")
    gross = _money(delivered_kwh * terms.rate_per_kwh, terms)
    target_kwh = round_kwh(committed_kw * event_hours * terms.tolerance)
    shortfall_kwh = max(target_kwh - delivered_kwh, ZERO)
    penalty = _money(shortfall_kwh * terms.penalty_rate, terms)
    reservation = _money(ZERO, terms)
    if terms.reservation_price_per_kw is not None:
        reservation = _money(terms.reservation_price_per_kw * committed_kw, terms)
    capped = False
    if terms.penalty_cap is not None and gross + reservation - penalty < -terms.penalty_cap:
        penalty = gross + reservation + _money(terms.penalty_cap, terms)
        capped = True
    return Settlement(
        delivered_kwh=delivered_kwh,
        rate_per_kwh=terms.rate_per_kwh,
        gross_amount=gross,
        target_kwh=target_kwh,
        shortfall_kwh=shortfall_kwh,
        penalty_rate_per_kwh=terms.penalty_rate,
        penalty_amount=penalty,
        penalty_capped=capped,
        reservation_amount=reservation,
        net_amount=gross + reservation - penalty,
        currency=terms.currency,
    )


def settle_order(performance: OrderPerformance, terms: SettlementTerms) -> Settlement:
    """Settle a measured order; its verdict and the terms must use the same tolerance and paid cap."""
    if performance.tolerance != terms.tolerance:
        raise InconsistentInputs(
            f"order measured with tolerance {performance.tolerance}, terms say {terms.tolerance}"
        )
    if performance.max_paid_ratio != terms.max_paid_ratio:
        raise InconsistentInputs(
            f"order measured with max paid ratio {performance.max_paid_ratio}, "
            f"terms say {terms.max_paid_ratio}"
        )
    return settle(
        delivered_kwh=performance.delivered_kwh,
        committed_kw=performance.committed_kw,
        event_hours=performance.event_hours,
        terms=terms,
    )


def _money(amount: Decimal, terms: SettlementTerms) -> Decimal:
    return amount.quantize(terms.minor_unit, rounding=ROUND_HALF_EVEN)
