"""What an order costs: energy at the offer's price per kWh, plus an optional reservation price per kW.

energy      = round¢(kW × hours × price_per_kwh)
reservation = round¢(kW × reservation_price_per_kw), when the offer has one
total       = energy + reservation

Money is `Decimal` rounded half to even to 0.01 (the minor unit of the currencies degflex is used with),
the same rule as settlement (`bpp.performance.settlement`), so the quote and the bill agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bpp.orders.requests import Window

CENT = Decimal("0.01")
SECONDS_PER_HOUR = Decimal(3600)


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def hours(window: Window) -> Decimal:
    return Decimal(int(window.duration.total_seconds())) / SECONDS_PER_HOUR


@dataclass(frozen=True)
class Quote:
    kw: Decimal
    hours: Decimal
    currency: str
    price_per_kwh: Decimal
    energy_amount: Decimal
    reservation_price_per_kw: Decimal | None
    reservation_amount: Decimal | None

    @property
    def total(self) -> Decimal:
        return self.energy_amount + (self.reservation_amount or Decimal(0))

    def as_json(self) -> dict[str, Any]:
        """Stored with the order; decimals as strings so nothing is lost on the way."""
        values: dict[str, Any] = {
            "kw": str(self.kw),
            "hours": str(self.hours),
            "currency": self.currency,
            "price_per_kwh": str(self.price_per_kwh),
            "energy_amount": str(self.energy_amount),
            "total": str(self.total),
        }
        if self.reservation_price_per_kw is not None and self.reservation_amount is not None:
            values["reservation_price_per_kw"] = str(self.reservation_price_per_kw)
            values["reservation_amount"] = str(self.reservation_amount)
        return values

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Quote:
        reservation_price = data.get("reservation_price_per_kw")
        reservation_amount = data.get("reservation_amount")
        return cls(
            kw=Decimal(data["kw"]),
            hours=Decimal(data["hours"]),
            currency=data["currency"],
            price_per_kwh=Decimal(data["price_per_kwh"]),
            energy_amount=Decimal(data["energy_amount"]),
            reservation_price_per_kw=Decimal(reservation_price) if reservation_price is not None else None,
            reservation_amount=Decimal(reservation_amount) if reservation_amount is not None else None,
        )


def price(
    kw: Decimal,
    window: Window,
    *,
    currency: str,
    price_per_kwh: Decimal,
    reservation_price_per_kw: Decimal | None = None,
) -> Quote:
    duration = hours(window)
    reservation = round_money(kw * reservation_price_per_kw) if reservation_price_per_kw is not None else None
    return Quote(
        kw=kw,
        hours=duration,
        currency=currency,
        price_per_kwh=price_per_kwh,
        energy_amount=round_money(kw * duration * price_per_kwh),
        reservation_price_per_kw=reservation_price_per_kw,
        reservation_amount=reservation,
    )
