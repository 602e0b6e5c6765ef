"""The seam between a device agent and a device: the `DeviceAdapter` protocol, and simulated devices.

A real integration (Modbus to an inverter, OCPP to a charger, a vendor cloud API) implements
`DeviceAdapter`; the agent does everything else (NATS, acks, retries, telemetry cadence). The simulated
devices here obey physical limits: ratings, state of charge, what share of a load is flexible, whether a
car is plugged in. They integrate power over time, so what they report as delivered is kWh-honest.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from bpp.devices.shapes import DailyShape, local_hour
from participant.db import utcnow
from schemas.devices import AckStatus, Announce, Command, CommandKind, DeviceKind, SetpointType

TOLERANCE = 0.05
"""A device that delivered at least 95 % of what was asked COMPLETED; below that it was PARTIAL."""

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeviceProfile:
    """What a device is; the agent announces it (with the current state of charge) to the aggregator."""

    device_id: str
    kind: DeviceKind
    rated_kw: float
    flex_kw: float
    grid_node: str
    battery_capacity_kwh: float | None = None
    site_id: str | None = None
    meter_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    firmware: str | None = None

    def announcement(self, *, at: datetime, soc: float | None = None) -> Announce:
        return Announce(
            device_id=self.device_id,
            kind=self.kind,
            rated_kw=self.rated_kw,
            flex_kw=self.flex_kw,
            grid_node=self.grid_node,
            site_id=self.site_id,
            meter_id=self.meter_id,
            battery_capacity_kwh=self.battery_capacity_kwh,
            soc=soc,
            lat=self.lat,
            lon=self.lon,
            firmware=self.firmware,
            at=at,
        )


@dataclass(frozen=True)
class Reading:
    """The device's meter now: power_kw > 0 imports from the grid."""

    power_kw: float
    state: str
    soc: float | None = None


@dataclass(frozen=True)
class Outcome:
    """How a command ended: COMPLETED or PARTIAL, and the average kW delivered over its window."""

    status: AckStatus
    delivered_kw: float
    reason: str | None = None


class DeviceAdapter(Protocol):
    """What a device integration provides. The agent calls one method at a time per device.

    - `refusal(command)`: why the device cannot follow this command at all (answered REJECTED), or None.
    - `opts_out(command)`: the customer overrides this event (answered OPTED_OUT).
    - `apply(command)`: start following the command's setpoint; returns once the device responds.
    - `release()`: return to normal operation and say what was delivered since `apply`; safe to call
      when nothing is applied.
    - `read()`: the current meter reading, for telemetry.
    """

    @property
    def profile(self) -> DeviceProfile: ...

    def refusal(self, command: Command) -> str | None: ...

    def opts_out(self, command: Command) -> bool: ...

    async def apply(self, command: Command) -> None: ...

    async def release(self) -> Outcome: ...

    async def read(self) -> Reading: ...


@dataclass
class Behaviour:
    """The people and electronics around a simulated device: overrides, response time, noise, time zone."""

    rng: random.Random = field(default_factory=random.Random)
    opt_out_rate: float = 0.0
    latency_s: tuple[float, float] = (0.0, 0.0)
    noise: float = 0.0
    utc_offset_hours: float = 0.0


@dataclass(frozen=True)
class Step:
    """One interval of simulated physics (averages over it), and the state at its end."""

    baseline_kw: float
    actual_kw: float
    asked_kw: float
    power_kw: float
    state: str
    limit: str | None = None


class SimulatedDevice(ABC):
    """Time-stepped physics shared by the simulated kinds; subclasses say what one step does."""

    kind: ClassVar[DeviceKind]
    responds_to: ClassVar[CommandKind]
    direction: ClassVar[float] = 1.0
    """+1 when flexibility means importing less (shed, discharge, pause); -1 when exporting less."""

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        shape: DailyShape,
        behaviour: Behaviour | None = None,
        clock: Clock = utcnow,
    ) -> None:
        if profile.kind is not self.kind:
            raise ValueError(f"{type(self).__name__} simulates a {self.kind}, not a {profile.kind}")
        self._profile = profile
        self.shape = shape
        self.behaviour = behaviour or Behaviour()
        self.clock = clock
        self.command: Command | None = None
        self._last: datetime | None = None
        self._last_step: Step | None = None
        self._since: datetime | None = None
        self._delivered_kwh = 0.0
        self._asked_kwh = 0.0
        self._limit: str | None = None
        self.applied: list[str] = []
        """Command ids in the order they were applied (what tests and benchmarks count)."""

    @property
    def profile(self) -> DeviceProfile:
        return self._profile

    def refusal(self, command: Command) -> str | None:
        if command.kind is not self.responds_to:
            return f"a {self.kind.lower().replace('_', ' ')} cannot {command.kind.lower().replace('_', ' ')}"
        return self._refusal(command)

    def _refusal(self, command: Command) -> str | None:
        return None

    def opts_out(self, command: Command) -> bool:
        return self.behaviour.rng.random() < self.behaviour.opt_out_rate

    async def apply(self, command: Command) -> None:
        low, high = self.behaviour.latency_s
        delay = self.behaviour.rng.uniform(low, high) if high > 0 else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        now = self.clock()
        self._advance(now)
        self.command, self._since = command, now
        self._delivered_kwh = self._asked_kwh = 0.0
        self._limit = None
        self.applied.append(command.command_id)
        self._advance(now)

    async def release(self) -> Outcome:
        now = self.clock()
        self._advance(now)
        if self.command is None or self._since is None or self._last_step is None:
            return Outcome(AckStatus.COMPLETED, 0.0)
        hours = (now - self._since).total_seconds() / 3600
        if hours > 0:
            delivered, asked = self._delivered_kwh / hours, self._asked_kwh / hours
        else:
            step = self._last_step
            delivered, asked = self.direction * (step.baseline_kw - step.actual_kw), step.asked_kw
        self.command = self._since = None
        self._advance(now)
        if asked <= 1e-9 or delivered >= asked * (1 - TOLERANCE) - 1e-9:
            return Outcome(AckStatus.COMPLETED, round(delivered, 3))
        reason = self._limit or f"delivered {delivered:.2f} of {asked:.2f} kW"
        return Outcome(AckStatus.PARTIAL, round(delivered, 3), reason)

    async def read(self) -> Reading:
        self._advance(self.clock())
        assert self._last_step is not None
        return Reading(round(self._last_step.power_kw, 3), self._last_step.state, self._soc())

    def _soc(self) -> float | None:
        return None

    def _advance(self, now: datetime) -> None:
        hours = 0.0 if self._last is None else max(0.0, (now - self._last).total_seconds() / 3600)
        step = self._step(now, hours)
        if self.command is not None and hours > 0:
            self._delivered_kwh += self.direction * (step.baseline_kw - step.actual_kw) * hours
            self._asked_kwh += step.asked_kw * hours
        if self.command is not None and step.limit is not None:
            self._limit = step.limit
        self._last, self._last_step = now, step

    @abstractmethod
    def _step(self, now: datetime, hours: float) -> Step:
        """Advance the physics by `hours` ending at `now` under `self.command` (None: normal operation)."""

    def _level(self, now: datetime, *, noisy: bool = True) -> float:
        """The daily shape at the device's local time, with multiplicative noise."""
        level = self.shape(local_hour(now, self.behaviour.utc_offset_hours))
        if noisy and self.behaviour.noise > 0:
            level *= min(2.0, max(0.0, self.behaviour.rng.gauss(1.0, self.behaviour.noise)))
        return max(0.0, level)

    def _setpoint(self) -> tuple[SetpointType, float]:
        assert self.command is not None and self.command.setpoint is not None
        return self.command.setpoint.type, self.command.setpoint.value


class SolarInverterAdapter(SimulatedDevice):
    """A PV inverter: exports what the sun gives; CURTAIL caps export (or cuts a number of kW)."""

    kind = DeviceKind.SOLAR_INVERTER
    responds_to = CommandKind.CURTAIL
    direction = -1.0

    def _step(self, now: datetime, hours: float) -> Step:
        production = self.profile.rated_kw * min(1.0, self._level(now))
        baseline = -production
        if self.command is None:
            return Step(baseline, baseline, 0.0, baseline, "PRODUCING" if production > 0 else "IDLE")
        kind, value = self._setpoint()
        if kind is SetpointType.EXPORT_CAPACITY_LIMIT:
            actual = -min(production, value)
            return Step(baseline, actual, max(production - value, 0.0), actual, "CURTAILED")
        cut = min(value, production)
        limit = None if cut >= value else f"producing only {production:.2f} kW"
        return Step(baseline, baseline + cut, value, baseline + cut, "CURTAILED", limit)


class BatteryAdapter(SimulatedDevice):
    """A home battery: DISCHARGE within its power rating and down to `min_soc`; charges on a schedule."""

    kind = DeviceKind.BATTERY
    responds_to = CommandKind.DISCHARGE

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        soc: float,
        min_soc: float = 0.1,
        max_soc: float = 1.0,
        shape: DailyShape,
        behaviour: Behaviour | None = None,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(profile, shape=shape, behaviour=behaviour, clock=clock)
        if profile.battery_capacity_kwh is None:
            raise ValueError("a battery needs battery_capacity_kwh")
        if not (0.0 <= min_soc <= max_soc <= 1.0 and 0.0 <= soc <= max_soc):
            raise ValueError("need 0 <= min_soc <= max_soc <= 1 and a state of charge within [0, max_soc]")
        self.capacity_kwh = profile.battery_capacity_kwh
        self.soc, self.min_soc, self.max_soc = soc, min_soc, max_soc

    def _soc(self) -> float | None:
        return round(self.soc, 4)

    def _step(self, now: datetime, hours: float) -> Step:
        charge = (
            self.profile.rated_kw * min(1.0, self._level(now, noisy=False))
            if self.soc < self.max_soc
            else 0.0
        )
        if self.command is None:
            room = (self.max_soc - self.soc) * self.capacity_kwh
            energy = min(charge * hours, room)
            self.soc += energy / self.capacity_kwh
            average = energy / hours if hours > 0 else charge
            power = charge if self.soc < self.max_soc else 0.0
            return Step(average, average, 0.0, power, "CHARGING" if power > 0 else "IDLE")
        _, value = self._setpoint()
        power = min(value, self.profile.rated_kw)
        limit = None if power >= value else f"power rating is {self.profile.rated_kw:.2f} kW"
        available = max(self.soc - self.min_soc, 0.0) * self.capacity_kwh
        need = power * hours
        if hours == 0:
            actual = -power if available > 0 else 0.0
        elif need <= available:
            self.soc -= need / self.capacity_kwh
            actual = -power
        else:
            self.soc = min(self.soc, self.min_soc)
            actual = -available / hours
        if self.soc <= self.min_soc + 1e-9 and power > 0:
            limit = "state of charge reached its floor"
            now_power = 0.0
        else:
            now_power = -power
        state = "DISCHARGING" if now_power < 0 else "DEPLETED"
        return Step(charge, actual, charge + value, now_power, state, limit)


class FlexibleLoadAdapter(SimulatedDevice):
    """A household or building load: SHED takes off at most its flexible share (flex_kw of rated_kw)."""

    kind = DeviceKind.FLEXIBLE_LOAD
    responds_to = CommandKind.SHED

    def _step(self, now: datetime, hours: float) -> Step:
        load = self.profile.rated_kw * min(1.0, self._level(now))
        flexible = load * self.profile.flex_kw / self.profile.rated_kw
        if self.command is None:
            return Step(load, load, 0.0, load, "CONSUMING")
        kind, value = self._setpoint()
        short = f"only {flexible:.2f} kW of the load is flexible"
        if kind is SetpointType.IMPORT_CAPACITY_LIMIT:
            actual = max(min(load, value), load - flexible)
            return Step(
                load, actual, max(load - value, 0.0), actual, "SHEDDING", short if actual > value else None
            )
        cut = min(value, flexible)
        return Step(load, load - cut, value, load - cut, "SHEDDING", short if cut < value else None)


class EvChargerAdapter(SimulatedDevice):
    """An EV charger: PAUSE_CHARGING throttles or stops charging; flexible only while a car is plugged in."""

    kind = DeviceKind.EV_CHARGER
    responds_to = CommandKind.PAUSE_CHARGING

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        plugged_in: Callable[[datetime], bool] | None = None,
        shape: DailyShape,
        behaviour: Behaviour | None = None,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(profile, shape=shape, behaviour=behaviour, clock=clock)
        self.plugged_in = plugged_in or (lambda now: True)

    def _refusal(self, command: Command) -> str | None:
        return None if self.plugged_in(self.clock()) else "no vehicle is plugged in"

    def _step(self, now: datetime, hours: float) -> Step:
        plugged = self.plugged_in(now)
        charge = self.profile.rated_kw * min(1.0, self._level(now)) if plugged else 0.0
        if self.command is None:
            state = "CHARGING" if charge > 0 else ("IDLE" if plugged else "UNPLUGGED")
            return Step(charge, charge, 0.0, charge, state)
        kind, value = self._setpoint()
        short = "vehicle unplugged" if not plugged else f"charging at only {charge:.2f} kW"
        if kind is SetpointType.IMPORT_CAPACITY_LIMIT:
            actual = min(charge, value)
            return Step(charge, actual, max(charge - value, 0.0), actual, "PAUSED")
        cut = min(value, charge)
        return Step(charge, charge - cut, value, charge - cut, "PAUSED", short if cut < value else None)
