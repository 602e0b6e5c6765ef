"""Where things are: the spec's Location and its parts (a grid node travels in `Location.id` and tags)."""

from __future__ import annotations

from pydantic import Field

from schemas.core_v1.base import BecknModel, Text
from schemas.core_v1.descriptor import Descriptor
from schemas.core_v1.quantities import Scalar


class City(BecknModel):
    name: str | None = None
    code: str | None = None


class Country(BecknModel):
    name: str | None = None
    code: str | None = None


class State(BecknModel):
    name: str | None = None
    code: str | None = None


class Circle(BecknModel):
    gps: str | None = None
    radius: Scalar | None = None


class Location(BecknModel):
    id: str | None = None
    descriptor: Descriptor | None = None
    map_url: str | None = None
    gps: str | None = None
    address: str | None = None
    city: City | None = None
    district: str | None = None
    state: State | None = None
    country: Country | None = None
    area_code: str | None = None
    circle: Circle | None = None
    polygon: str | None = None
    space_3d: str | None = Field(default=None, alias="3dspace")
    rating: Text | None = None
