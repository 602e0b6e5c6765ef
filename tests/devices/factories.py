"""Commands and simulated devices for the device tests, with flat daily shapes (no noise) by default."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from bpp.devices.adapters import (
    BatteryAdapter,
    Behaviour,
    DeviceProfile,
    EvChargerAdapter,
    FlexibleLoadAdapter,
    SimulatedDevice,
    SolarInverterAdapter,
)
from bpp.devices.shapes import constant
from participant.db import utcnow
from schemas.devices import Command, CommandKind, DeviceKind, Setpoint, SetpointType

GRID_NODE = "transformer:TX-17"

RESPONSE: dict[DeviceKind, CommandKind] = {
    DeviceKind.BATTERY: CommandKind.DISCHARGE,
    DeviceKind.FLEXIBLE_LOAD: CommandKind.SHED,
    DeviceKind.EV_CHARGER: CommandKind.PAUSE_CHARGING,
    DeviceKind.SOLAR_INVERTER: CommandKind.CURTAIL,
}


def command(
    device_id: str,
    kind: CommandKind = CommandKind.DISCHARGE,
    *,
    setpoint: tuple[SetpointType, float] | None = (SetpointType.DISPATCH_SETPOINT, 3.0),
    start_in: float = 0.0,
    seconds: float = 1.5,
    order_id: str = "order-1",
    command_id: str | None = None,
    now: datetime | None = None,
) -> Command:
    now = now or utcnow()
    start = now + timedelta(seconds=start_in)
    return Command(
        command_id=command_id or f"cmd-{uuid.uuid4().hex[:12]}",
        order_id=order_id,
        device_id=device_id,
        kind=kind,
        setpoint=None if setpoint is None else Setpoint(type=setpoint[0], value=setpoint[1]),
        start=start,
        end=start + timedelta(seconds=seconds),
        issued_at=now,
    )


def profile(
    device_id: str, kind: DeviceKind, *, rated_kw: float = 5.0, flex_kw: float | None = None
) -> DeviceProfile:
    return DeviceProfile(
        device_id=device_id,
        kind=kind,
        rated_kw=rated_kw,
        flex_kw=rated_kw if flex_kw is None else flex_kw,
        grid_node=GRID_NODE,
        battery_capacity_kwh=10.0 if kind is DeviceKind.BATTERY else None,
    )


def device(
    device_id: str,
    kind: DeviceKind,
    *,
    level: float = 0.8,
    soc: float = 0.8,
    opt_out_rate: float = 0.0,
    plugged_in: Callable[[datetime], bool] | None = None,
    clock: Callable[[], datetime] = utcnow,
    capacity_kwh: float = 10.0,
) -> SimulatedDevice:
    """A 5 kW device whose daily shape is flat at `level` (battery: idle; load: 40 % flexible)."""
    behaviour = Behaviour(opt_out_rate=opt_out_rate)
    if kind is DeviceKind.BATTERY:
        spec = profile(device_id, kind)
        spec = DeviceProfile(**{**spec.__dict__, "battery_capacity_kwh": capacity_kwh})
        return BatteryAdapter(spec, soc=soc, shape=constant(0.0), behaviour=behaviour, clock=clock)
    if kind is DeviceKind.FLEXIBLE_LOAD:
        spec = profile(device_id, kind, flex_kw=2.0)
        return FlexibleLoadAdapter(spec, shape=constant(level), behaviour=behaviour, clock=clock)
    if kind is DeviceKind.EV_CHARGER:
        spec = profile(device_id, kind)
        return EvChargerAdapter(
            spec, plugged_in=plugged_in, shape=constant(level), behaviour=behaviour, clock=clock
        )
    return SolarInverterAdapter(
        profile(device_id, kind), shape=constant(level), behaviour=behaviour, clock=clock
    )
