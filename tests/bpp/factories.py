"""Factories for fleets, offer terms and event windows, built only from the packages' public API."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet import service as fleet
from bpp.fleet.models import Der, DerKind
from bpp.fleet.schemas import DerCreate
from bpp.offers.schemas import OfferTermsIn

NODE = "transformer:TX-17"
# A fixed Monday, far from midnight, so windows never straddle a UTC day by accident.
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
_ids = itertools.count(1)


def at(hours: float) -> datetime:
    """T0 plus `hours` (14:00 UTC + hours)."""
    return T0 + timedelta(hours=hours)


def der_create(**overrides: Any) -> DerCreate:
    values: dict[str, Any] = {
        "device_id": f"der-{next(_ids)}",
        "kind": DerKind.FLEXIBLE_LOAD,
        "grid_node": NODE,
        "rated_kw": Decimal("100"),
        "flex_kw": Decimal("50"),
        "site_id": "site-1",
        "meter_id": "meter-1",
    }
    values.update(overrides)
    return DerCreate.model_validate(values)


def battery_create(**overrides: Any) -> DerCreate:
    values: dict[str, Any] = {
        "kind": DerKind.BATTERY,
        "rated_kw": Decimal("10"),
        "flex_kw": Decimal("10"),
        "battery_capacity_kwh": Decimal("20"),
        "state_of_charge": 0.5,
    }
    values.update(overrides)
    return der_create(**values)


async def add_devices(session: AsyncSession, *specs: DerCreate) -> list[Der]:
    devices = [await fleet.register(session, spec) for spec in specs]
    await session.commit()
    return devices


async def node_with_flex(session: AsyncSession, grid_node: str, *flex_kw: int | str) -> list[Der]:
    """Flexible loads on `grid_node`, one per value of flex_kw."""
    return await add_devices(
        session,
        *(
            der_create(grid_node=grid_node, rated_kw=Decimal(value), flex_kw=Decimal(value))
            for value in flex_kw
        ),
    )


def offer_terms_in(**overrides: Any) -> OfferTermsIn:
    values: dict[str, Any] = {
        "price_per_kwh": "0.2500",
        "currency": "INR",
        "min_kw": 10,
        "max_kw": 500,
        "response_time_s": 300,
        "min_notice_s": 900,
        "max_duration_s": 4 * 3600,
        "max_events_per_day": 2,
        "baseline_method": "X_OF_Y_10_10",
        "cancel_before_s": 3600,
        "cancellation_fee": "50",
        "reliability_headroom": "0.1",
    }
    values.update(overrides)
    return OfferTermsIn.model_validate(values)
