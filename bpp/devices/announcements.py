"""A device's announcement as the fleet's `DerAnnouncement`, for the BPP's event handler to register it.

Only what the agent sent is set, so an announcement never wipes what an operator filled in; kW are
rounded to the watt, the fleet's precision.
"""

from __future__ import annotations

from decimal import Decimal

from bpp.fleet.models import DerKind
from bpp.fleet.schemas import DerAnnouncement
from schemas.devices import Announce


def _kilowatts(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def der_announcement(announce: Announce) -> DerAnnouncement:
    fields: dict[str, object] = {
        "device_id": announce.device_id,
        "kind": DerKind(announce.kind.value),
        "grid_node": announce.grid_node,
        "rated_kw": _kilowatts(announce.rated_kw),
        "flex_kw": _kilowatts(announce.flex_kw),
    }
    optional: dict[str, object | None] = {
        "battery_capacity_kwh": None
        if announce.battery_capacity_kwh is None
        else _kilowatts(announce.battery_capacity_kwh),
        "state_of_charge": announce.soc,
        "site_id": announce.site_id,
        "meter_id": announce.meter_id,
        "latitude": announce.lat,
        "longitude": announce.lon,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    return DerAnnouncement.model_validate(fields)
