"""An agent's announcement registers the device in the fleet (the BPP's handler does this with it)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.devices.announcements import der_announcement
from bpp.fleet import service as fleet
from bpp.fleet.models import DerKind, DerStatus
from bpp.fleet.schemas import DerUpdate
from schemas.devices import Announce, DeviceKind

AT = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)


def announce(**changes: object) -> Announce:
    fields: dict[str, object] = {
        "device_id": "bat-1",
        "kind": DeviceKind.BATTERY,
        "rated_kw": 5.0004,
        "flex_kw": 4.5,
        "grid_node": "transformer:TX-17",
        "battery_capacity_kwh": 10.0,
        "soc": 0.42,
        "lat": 12.97,
        "lon": 77.59,
        "firmware": "1.2.3",
        "at": AT,
    }
    return Announce.model_validate({**fields, **changes})


def test_the_announcement_maps_onto_the_fleets_fields() -> None:
    der = der_announcement(announce())
    assert der.kind is DerKind.BATTERY
    assert (der.rated_kw, der.flex_kw, der.battery_capacity_kwh) == (
        Decimal("5.0"),
        Decimal("4.5"),
        Decimal("10.0"),
    )
    assert (der.state_of_charge, der.latitude, der.longitude) == (0.42, 12.97, 77.59)
    assert der.model_fields_set == {
        "device_id",
        "kind",
        "grid_node",
        "rated_kw",
        "flex_kw",
        "battery_capacity_kwh",
        "state_of_charge",
        "latitude",
        "longitude",
    }


async def test_an_announcement_registers_then_refreshes_without_wiping_operator_fields(
    session: AsyncSession,
) -> None:
    der = await fleet.announce(session, der_announcement(announce()))
    assert der.status is DerStatus.ONLINE and der.flex_kw == Decimal("4.5")
    await fleet.update(session, "bat-1", DerUpdate(meter_id="meter-9"))
    der = await fleet.announce(session, der_announcement(announce(soc=0.3, lat=None, lon=None)))
    assert der.state_of_charge == 0.3 and der.meter_id == "meter-9" and der.latitude == 12.97
