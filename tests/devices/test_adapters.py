"""Simulated devices keep to their physics: ratings, state of charge, flexible share, a plugged-in car."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bpp.devices.adapters import BatteryAdapter, Behaviour, SimulatedDevice
from bpp.devices.shapes import ev_charging, household_load, local_hour, solar_production
from bpp.devices.simulator import FleetSpec, build_fleet, parse_mix, parse_seconds
from schemas.devices import AckStatus, CommandKind, DeviceKind, SetpointType
from tests.devices.factories import command, device

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def run_for(adapter: SimulatedDevice, clock: ManualClock, seconds: float, step: float = 60.0) -> None:
    elapsed = 0.0
    while elapsed < seconds:
        clock.advance(min(step, seconds - elapsed))
        elapsed += step
        await adapter.read()


async def test_battery_discharge_drains_the_state_of_charge_at_its_rate() -> None:
    clock = ManualClock()
    battery = device("bat", DeviceKind.BATTERY, soc=0.8, clock=clock)
    assert (await battery.read()).power_kw == 0.0
    await battery.apply(command("bat", setpoint=(SetpointType.DISPATCH_SETPOINT, 4.0), now=clock.now))
    assert (await battery.read()).power_kw == -4.0
    await run_for(battery, clock, 1800)  # 4 kW for half an hour from 10 kWh: 2 kWh, 20 %
    outcome = await battery.release()
    assert outcome == (outcome.__class__(AckStatus.COMPLETED, 4.0))
    reading = await battery.read()
    assert reading.soc == pytest.approx(0.6)
    assert reading.power_kw == 0.0


async def test_battery_stops_at_its_floor_and_reports_partial() -> None:
    clock = ManualClock()
    battery = device("bat", DeviceKind.BATTERY, soc=0.2, clock=clock)  # 1 kWh above the 10 % floor
    await battery.apply(command("bat", setpoint=(SetpointType.DISPATCH_SETPOINT, 4.0), now=clock.now))
    await run_for(battery, clock, 3600, step=300)
    outcome = await battery.release()
    assert outcome.status is AckStatus.PARTIAL
    assert outcome.delivered_kw == pytest.approx(1.0, abs=0.01)  # 1 kWh over one hour
    assert outcome.reason == "state of charge reached its floor"
    assert (await battery.read()).soc == pytest.approx(0.1)


async def test_battery_discharge_is_capped_by_its_rating() -> None:
    clock = ManualClock()
    battery = device("bat", DeviceKind.BATTERY, clock=clock)
    await battery.apply(command("bat", setpoint=(SetpointType.DISPATCH_SETPOINT, 9.0), now=clock.now))
    assert (await battery.read()).power_kw == -5.0
    await run_for(battery, clock, 600)
    outcome = await battery.release()
    assert outcome.status is AckStatus.PARTIAL and "power rating" in (outcome.reason or "")


async def test_solar_export_limit_caps_export_and_completes() -> None:
    clock = ManualClock()
    solar = device("pv", DeviceKind.SOLAR_INVERTER, level=0.8, clock=clock)  # 4 kW of 5
    assert (await solar.read()).power_kw == -4.0
    await solar.apply(
        command("pv", CommandKind.CURTAIL, setpoint=(SetpointType.EXPORT_CAPACITY_LIMIT, 1.5), now=clock.now)
    )
    await run_for(solar, clock, 900)
    reading = await solar.read()
    assert (reading.power_kw, reading.state) == (-1.5, "CURTAILED")
    outcome = await solar.release()
    assert (outcome.status, outcome.delivered_kw) == (AckStatus.COMPLETED, 2.5)
    assert (await solar.read()).power_kw == -4.0


async def test_flexible_load_sheds_only_its_flexible_share() -> None:
    clock = ManualClock()
    load = device("load", DeviceKind.FLEXIBLE_LOAD, level=1.0, clock=clock)  # 5 kW, 2 kW flexible
    await load.apply(
        command("load", CommandKind.SHED, setpoint=(SetpointType.DISPATCH_SETPOINT, 1.5), now=clock.now)
    )
    assert (await load.read()).power_kw == 3.5
    await run_for(load, clock, 600)
    assert (await load.release()).status is AckStatus.COMPLETED

    await load.apply(
        command("load", CommandKind.SHED, setpoint=(SetpointType.DISPATCH_SETPOINT, 3.0), now=clock.now)
    )
    assert (await load.read()).power_kw == 3.0
    await run_for(load, clock, 600)
    outcome = await load.release()
    assert (outcome.status, outcome.delivered_kw) == (AckStatus.PARTIAL, 2.0)
    assert "flexible" in (outcome.reason or "")


async def test_flexible_load_import_limit_stops_at_the_inflexible_part() -> None:
    clock = ManualClock()
    load = device("load", DeviceKind.FLEXIBLE_LOAD, level=1.0, clock=clock)
    await load.apply(
        command("load", CommandKind.SHED, setpoint=(SetpointType.IMPORT_CAPACITY_LIMIT, 4.0), now=clock.now)
    )
    assert (await load.read()).power_kw == 4.0
    await load.release()
    await load.apply(
        command("load", CommandKind.SHED, setpoint=(SetpointType.IMPORT_CAPACITY_LIMIT, 1.0), now=clock.now)
    )
    assert (await load.read()).power_kw == 3.0


async def test_ev_charger_pauses_only_with_a_car_plugged_in() -> None:
    clock = ManualClock()
    plugged = {"in": True}
    charger = device(
        "ev", DeviceKind.EV_CHARGER, level=1.0, clock=clock, plugged_in=lambda now: plugged["in"]
    )
    pause = command("ev", CommandKind.PAUSE_CHARGING, setpoint=(SetpointType.IMPORT_CAPACITY_LIMIT, 0.0))
    assert charger.refusal(pause) is None
    await charger.apply(pause)
    reading = await charger.read()
    assert (reading.power_kw, reading.state) == (0.0, "PAUSED")
    await run_for(charger, clock, 600)
    assert (await charger.release()).status is AckStatus.COMPLETED

    plugged["in"] = False
    assert charger.refusal(pause) == "no vehicle is plugged in"
    assert (await charger.read()).state == "UNPLUGGED"


async def test_each_device_refuses_commands_of_other_kinds() -> None:
    battery = device("bat", DeviceKind.BATTERY)
    assert battery.refusal(command("bat", CommandKind.SHED)) == "a battery cannot shed"
    solar = device("pv", DeviceKind.SOLAR_INVERTER)
    assert solar.refusal(command("pv", CommandKind.DISCHARGE)) is not None


async def test_release_without_a_command_is_harmless() -> None:
    outcome = await device("bat", DeviceKind.BATTERY).release()
    assert (outcome.status, outcome.delivered_kw) == (AckStatus.COMPLETED, 0.0)


def test_opt_out_rate_is_honoured_and_seeded() -> None:
    never = device("a", DeviceKind.BATTERY, opt_out_rate=0.0)
    always = device("b", DeviceKind.BATTERY, opt_out_rate=1.0)
    order = command("a")
    assert not any(never.opts_out(order) for _ in range(100))
    assert all(always.opts_out(order) for _ in range(100))

    def draws(seed: int) -> list[bool]:
        rng = random.Random(seed)
        battery = BatteryAdapter(
            never.profile, soc=0.5, shape=lambda hour: 0.0, behaviour=Behaviour(rng=rng, opt_out_rate=0.3)
        )
        return [battery.opts_out(order) for _ in range(50)]

    assert draws(7) == draws(7)
    assert 5 < sum(draws(7)) < 30


def test_daily_shapes_look_like_a_day() -> None:
    assert solar_production(3.0) == 0.0 and solar_production(22.0) == 0.0
    assert solar_production(12.0) == pytest.approx(1.0)
    assert household_load(19.5) > household_load(3.0) * 2
    assert ev_charging(21.0) > ev_charging(13.0) * 3
    assert local_hour(datetime(2026, 1, 1, 12, 30, tzinfo=UTC), 5.5) == pytest.approx(18.0)


def test_the_same_seed_builds_the_same_fleet() -> None:
    spec = FleetSpec(
        count=40, grid_node="transformer:TX-17", mix=parse_mix("battery=1,load=1,ev=1,solar=1"), seed=3
    )
    first, second = build_fleet(spec), build_fleet(spec)
    assert [d.profile for d in first] == [d.profile for d in second]
    assert [d.profile.kind for d in first].count(DeviceKind.BATTERY) == 10
    assert first[0].profile.device_id == "tx-17-0001"
    other = build_fleet(FleetSpec(count=40, grid_node="transformer:TX-17", mix=spec.mix, seed=4))
    assert [d.profile for d in other] != [d.profile for d in first]


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("0.25", 0.25)]
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "battery", "battery=x", "toaster=1", "battery=0"])
def test_a_bad_mix_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mix(text)
