"""What a search asks for, in domain terms: grid node, place, window, direction, kW."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bpp.fleet.models import FlexDirection
from bpp.orders.requests import OfferRef, Window

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float

    def distance_m(self, other: GeoPoint) -> float:
        """Great-circle distance (haversine): metres are all a search radius needs."""
        lat1, lat2 = math.radians(self.latitude), math.radians(other.latitude)
        dlat = lat2 - lat1
        dlon = math.radians(other.longitude - self.longitude)
        a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Circle:
    center: GeoPoint
    radius_m: float

    def contains(self, point: GeoPoint) -> bool:
        return self.center.distance_m(point) <= self.radius_m


@dataclass(frozen=True)
class FlexQuery:
    """Every field narrows the search; None matches everything."""

    grid_node: str | None = None
    direction: FlexDirection | None = None
    required_kw: Decimal | None = None
    # The notice the utility can give: offers that need more are left out.
    min_notice: timedelta | None = None
    window: Window | None = None
    area_code: str | None = None
    circle: Circle | None = None
    item: OfferRef | None = None
