"""Daily shapes of simulated devices: a fraction of rated power for each local hour of the day.

Rough but recognisable: a household's morning bump and evening peak, EVs charging after work, solar as
a bell from sunrise to sunset, a home battery topping up overnight. Noise is added by the adapters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

DailyShape = Callable[[float], float]
"""Local hour in [0, 24) → fraction of rated power in [0, 1]."""


def local_hour(now: datetime, utc_offset_hours: float) -> float:
    local = now + timedelta(hours=utc_offset_hours)
    return local.hour + local.minute / 60 + local.second / 3600


def _bump(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24 - abs(hour - centre))  # the day wraps around midnight
    return math.exp(-0.5 * (distance / width) ** 2)


def household_load(hour: float) -> float:
    """Base load all day, a morning bump around 07:30 and the evening peak around 19:30."""
    return min(1.0, 0.22 + 0.3 * _bump(hour, 7.5, 1.2) + 0.75 * _bump(hour, 19.5, 1.8))


def ev_charging(hour: float) -> float:
    """Cars plug in after work and charge through the evening, tapering off after midnight."""
    return min(1.0, 0.95 * _bump(hour, 20.5, 2.2) + 0.3 * _bump(hour, 1.0, 2.0))


def solar_production(hour: float) -> float:
    """Sunrise 06:00, noon peak, sunset 18:00 (clear sky)."""
    if hour <= 6.0 or hour >= 18.0:
        return 0.0
    return float(math.sin(math.pi * (hour - 6.0) / 12.0) ** 1.5)


def battery_charging(hour: float) -> float:
    """A home battery charging from the grid on the cheap night tariff (01:00–05:00)."""
    return 0.3 if 1.0 <= hour < 5.0 else 0.0


def constant(level: float) -> DailyShape:
    """The same fraction all day (tests, and devices whose schedule is not modelled)."""

    def shape(hour: float) -> float:
        return level

    return shape
