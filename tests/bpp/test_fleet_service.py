"""Fleet rules through the service, on the migrated databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet import service as fleet
from bpp.fleet.errors import DerAlreadyExists, DerNotFound, DerRetired, InvalidDer
from bpp.fleet.models import DerKind, DerStatus, FlexDirection
from bpp.fleet.schemas import DerAnnouncement, DerUpdate
from participant.db import utcnow
from tests.bpp.factories import NODE, battery_create, der_create


async def test_register_then_read_back_every_field(session: AsyncSession) -> None:
    spec = battery_create(
        device_id="bat-1", latitude=12.97, longitude=77.59, area_code="560001", owner_id="consumer-9"
    )
    await fleet.register(session, spec)
    await session.commit()
    session.expunge_all()

    der = await fleet.get(session, "bat-1")
    assert (der.kind, der.grid_node, der.rated_kw, der.flex_kw) == (
        DerKind.BATTERY,
        NODE,
        Decimal("10.000"),
        Decimal("10.000"),
    )
    assert der.battery_capacity_kwh == Decimal("20") and der.state_of_charge == 0.5
    assert (der.latitude, der.longitude, der.area_code, der.owner_id) == (
        12.97,
        77.59,
        "560001",
        "consumer-9",
    )
    assert der.status is DerStatus.ONLINE and der.reliability == 0.95
    assert der.created_at.tzinfo is not None and der.last_seen_at is None
    assert der.serves == [FlexDirection.INCREASE, FlexDirection.REDUCE]


async def test_registering_an_id_twice_is_refused(session: AsyncSession) -> None:
    await fleet.register(session, der_create(device_id="dup-1"))
    with pytest.raises(DerAlreadyExists, match="dup-1"):
        await fleet.register(session, der_create(device_id="dup-1"))


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"rated_kw": Decimal(5), "flex_kw": Decimal(6)}, "flex_kw", "exceeds the device's rated_kw"),
        ({"kind": DerKind.BATTERY}, "battery_capacity_kwh", "required for a battery"),
        ({"latitude": 12.9}, "longitude", "together"),
        ({"status": DerStatus.RETIRED}, "status", "retire a device with DELETE"),
    ],
)
async def test_rules_across_fields_name_the_field(
    session: AsyncSession, overrides: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidDer) as caught:
        await fleet.register(session, der_create(**overrides))
    assert [problem[0] for problem in caught.value.problems] == [field]
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"grid_node": "TX-17"}, "grid_node"),
        ({"grid_node": "transformer:TX/17"}, "grid_node"),
        ({"device_id": "dev.1"}, "device_id"),
        ({"rated_kw": 0}, "rated_kw"),
        ({"flex_kw": "1.0005"}, "flex_kw"),
        ({"state_of_charge": 1.2}, "state_of_charge"),
        ({"reliability": -0.1}, "reliability"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_field_rules_are_checked_before_the_service(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        der_create(**overrides)
    assert field in {str(error["loc"][0]) for error in caught.value.errors()}


async def test_list_filters_by_grid_node_kind_and_status(session: AsyncSession) -> None:
    await fleet.register(session, der_create(device_id="a", grid_node="feeder:F-3"))
    await fleet.register(session, battery_create(device_id="b", grid_node="feeder:F-3"))
    await fleet.register(session, der_create(device_id="c", status=DerStatus.MAINTENANCE))
    await session.commit()

    assert [d.device_id for d in await fleet.list_ders(session, grid_node="feeder:F-3")] == ["a", "b"]
    assert [d.device_id for d in await fleet.list_ders(session, kind=DerKind.BATTERY)] == ["b"]
    assert [d.device_id for d in await fleet.list_ders(session, status=DerStatus.MAINTENANCE)] == ["c"]
    assert [d.device_id for d in await fleet.list_ders(session, limit=1, offset=1)] == ["b"]


async def test_update_applies_only_what_was_sent_and_checks_the_result(session: AsyncSession) -> None:
    await fleet.register(session, der_create(device_id="load-1", rated_kw=Decimal(100), flex_kw=Decimal(50)))
    await session.commit()

    der = await fleet.update(session, "load-1", DerUpdate(flex_kw=Decimal(80), site_id=None))
    assert (der.flex_kw, der.rated_kw, der.site_id, der.meter_id) == (
        Decimal(80),
        Decimal(100),
        None,
        "meter-1",
    )

    with pytest.raises(InvalidDer, match="flex_kw"):
        await fleet.update(session, "load-1", DerUpdate(rated_kw=Decimal(60)))
    assert der.rated_kw == Decimal(100), "a refused change must leave the device untouched"


def test_an_update_cannot_clear_a_required_field() -> None:
    with pytest.raises(ValidationError, match="grid_node cannot be null"):
        DerUpdate.model_validate({"grid_node": None})


async def test_retired_devices_are_kept_and_frozen(session: AsyncSession) -> None:
    await fleet.register(session, der_create(device_id="old-1"))
    der = await fleet.retire(session, "old-1")
    assert der.status is DerStatus.RETIRED
    with pytest.raises(DerRetired):
        await fleet.update(session, "old-1", DerUpdate(flex_kw=Decimal(1)))
    with pytest.raises(InvalidDer, match="retire a device with DELETE"):
        await fleet.register(session, der_create(device_id="old-2", status=DerStatus.RETIRED))
    with pytest.raises(DerNotFound):
        await fleet.retire(session, "never-registered")


def _announcement(**overrides: object) -> DerAnnouncement:
    values: dict[str, object] = {
        "device_id": "agent-1",
        "kind": "BATTERY",
        "grid_node": NODE,
        "rated_kw": 5,
        "flex_kw": 5,
        "battery_capacity_kwh": 13.5,
        "state_of_charge": 0.8,
    }
    values.update(overrides)
    return DerAnnouncement.model_validate(values)


async def test_announce_registers_on_first_sight_then_refreshes(session: AsyncSession) -> None:
    first_seen = utcnow() - timedelta(minutes=5)
    der = await fleet.announce(session, _announcement(), now=first_seen)
    assert der.status is DerStatus.ONLINE and der.last_seen_at == first_seen

    await fleet.update(session, "agent-1", DerUpdate(owner_id="consumer-1", status=DerStatus.OFFLINE))
    der = await fleet.announce(session, _announcement(state_of_charge=0.4))
    assert der.status is DerStatus.ONLINE, "an announcing device is alive"
    assert der.state_of_charge == 0.4 and der.owner_id == "consumer-1" and der.meter_id is None
    assert der.last_seen_at is not None and der.last_seen_at > first_seen


async def test_announce_keeps_operator_states_and_refuses_a_new_kind(session: AsyncSession) -> None:
    await fleet.announce(session, _announcement(site_id="site-7"))
    await fleet.update(session, "agent-1", DerUpdate(status=DerStatus.MAINTENANCE))
    der = await fleet.announce(session, _announcement())
    assert der.status is DerStatus.MAINTENANCE and der.site_id == "site-7"

    with pytest.raises(InvalidDer, match="registered as BATTERY"):
        await fleet.announce(session, _announcement(kind="SOLAR_INVERTER", battery_capacity_kwh=None))

    await fleet.retire(session, "agent-1")
    der = await fleet.announce(session, _announcement(flex_kw=1))
    assert der.status is DerStatus.RETIRED and der.flex_kw == Decimal(5)
