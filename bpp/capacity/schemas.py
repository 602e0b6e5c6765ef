"""Capacity as the operator API shows it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bpp.fleet.models import FlexDirection
from bpp.fleet.schemas import Kilowatts


class NodeCapacityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    grid_node: str
    direction: FlexDirection
    controllable_kw: Kilowatts
    committed_kw: Kilowatts
    held_kw: Kilowatts  # holds not yet expired
    available_kw: Kilowatts
