"""Many simulated devices on one grid node, each a real `DeviceAgent`, in one process.

Deterministic for a seed: the fleet's kinds and ratings, every device's noise, latency and opt-outs
come from random generators seeded by (seed, device id). Small fleets get a connection per device (as
real devices would); large ones share connections (`devices_per_connection`), which a 2-core machine
needs for thousands of agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bpp.devices.adapters import (
    BatteryAdapter,
    Behaviour,
    DeviceProfile,
    EvChargerAdapter,
    FlexibleLoadAdapter,
    SimulatedDevice,
    SolarInverterAdapter,
)
from bpp.devices.agent import AgentTimings, DeviceAgent
from bpp.devices.connection import BusConnection, BusCredentials
from bpp.devices.shapes import battery_charging, ev_charging, household_load, local_hour, solar_production
from bpp.devices.tasks import unless_stopped
from participant.db import utcnow
from schemas.devices import AckStatus, DeviceKind, Subjects, check_device_id

log = logging.getLogger(__name__)

KIND_NAMES: dict[str, DeviceKind] = {
    "battery": DeviceKind.BATTERY,
    "load": DeviceKind.FLEXIBLE_LOAD,
    "ev": DeviceKind.EV_CHARGER,
    "solar": DeviceKind.SOLAR_INVERTER,
}
DEFAULT_MIX: dict[DeviceKind, float] = {
    DeviceKind.BATTERY: 0.3,
    DeviceKind.FLEXIBLE_LOAD: 0.4,
    DeviceKind.EV_CHARGER: 0.2,
    DeviceKind.SOLAR_INVERTER: 0.1,
}
LATENCY_S = (0.2, 2.0)
"""A real device's response time to a command, before `time_scale`."""


def parse_kind(text: str) -> DeviceKind:
    """`battery`, `load`, `ev`, `solar` or a DeviceKind name."""
    key = text.strip()
    if key.lower() in KIND_NAMES:
        return KIND_NAMES[key.lower()]
    try:
        return DeviceKind(key.upper())
    except ValueError:
        raise ValueError(f"unknown device kind {text!r}: use battery, load, ev or solar") from None


def parse_mix(text: str) -> dict[DeviceKind, float]:
    """`battery=0.3,load=0.4,ev=0.2,solar=0.1` → shares that add up to 1."""
    mix: dict[DeviceKind, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, value = part.partition("=")
        share = float(value)
        if not value or share < 0 or not math.isfinite(share):
            raise ValueError(f"{part!r}: give a share as kind=number")
        mix[parse_kind(name)] = share
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("the mix needs at least one kind with a positive share")
    return {kind: share / total for kind, share in mix.items()}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_seconds(text: str) -> float:
    """`1s`, `500ms`, `2m`, `1h` or a bare number of seconds."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 1s, 500ms, 2m")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


@dataclass(frozen=True)
class FleetSpec:
    """What to simulate: how many devices of which kinds behind one grid node, and how they behave."""

    count: int
    grid_node: str
    mix: dict[DeviceKind, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    opt_out_rate: float = 0.0
    time_scale: float = 1.0
    seed: int = 0
    id_prefix: str | None = None
    utc_offset_hours: float = 0.0
    noise: float = 0.05

    @property
    def prefix(self) -> str:
        if self.id_prefix is not None:
            return check_device_id(self.id_prefix)
        return check_device_id(self.grid_node.partition(":")[2].lower() or "sim")

    def device_ids(self) -> list[str]:
        width = max(4, len(str(self.count)))
        return [f"{self.prefix}-{number:0{width}d}" for number in range(1, self.count + 1)]

    def kinds(self) -> list[DeviceKind]:
        """Exactly the mix's proportions (largest remainder), in a seeded order."""
        quotas = {kind: share * self.count for kind, share in self.mix.items()}
        counts = {kind: int(quota) for kind, quota in quotas.items()}
        leftovers = sorted(quotas, key=lambda kind: (quotas[kind] - counts[kind], kind), reverse=True)
        for kind in leftovers[: self.count - sum(counts.values())]:
            counts[kind] += 1
        kinds = [kind for kind in sorted(counts) for _ in range(counts[kind])]
        random.Random(f"{self.seed}:kinds").shuffle(kinds)
        return kinds


def build_device(
    spec: FleetSpec, device_id: str, kind: DeviceKind, *, clock: Callable[[], datetime] = utcnow
) -> SimulatedDevice:
    """One device with seeded ratings and behaviour (the same seed and id give the same device)."""
    rng = random.Random(f"{spec.seed}:{device_id}")
    low, high = LATENCY_S
    behaviour = Behaviour(
        rng=rng,
        opt_out_rate=spec.opt_out_rate,
        latency_s=(low * spec.time_scale, high * spec.time_scale),
        noise=spec.noise,
        utc_offset_hours=spec.utc_offset_hours,
    )

    def profile(rated_kw: float, flex_kw: float, capacity: float | None = None) -> DeviceProfile:
        return DeviceProfile(
            device_id=device_id,
            kind=kind,
            rated_kw=round(rated_kw, 2),
            flex_kw=round(min(flex_kw, rated_kw), 2),
            grid_node=spec.grid_node,
            battery_capacity_kwh=None if capacity is None else round(capacity, 1),
            site_id=f"site-{device_id}",
            meter_id=f"meter-{device_id}",
            firmware="degflex-sim",
        )

    if kind is DeviceKind.BATTERY:
        rated = rng.uniform(3.0, 10.0)
        return BatteryAdapter(
            profile(rated, rated, rated * rng.uniform(1.5, 3.0)),
            soc=rng.uniform(0.3, 0.95),
            shape=battery_charging,
            behaviour=behaviour,
            clock=clock,
        )
    if kind is DeviceKind.FLEXIBLE_LOAD:
        rated = rng.uniform(2.0, 8.0)
        return FlexibleLoadAdapter(
            profile(rated, rated * rng.uniform(0.3, 0.6)),
            shape=household_load,
            behaviour=behaviour,
            clock=clock,
        )
    if kind is DeviceKind.EV_CHARGER:
        rated = rng.choice([3.7, 7.4, 11.0])
        arrive, leave = rng.uniform(17.0, 21.0), rng.uniform(6.0, 8.5)
        offset = spec.utc_offset_hours

        def plugged_in(now: datetime) -> bool:
            hour = local_hour(now, offset)
            return hour >= arrive or hour < leave

        return EvChargerAdapter(
            profile(rated, rated), plugged_in=plugged_in, shape=ev_charging, behaviour=behaviour, clock=clock
        )
    rated = rng.uniform(3.0, 10.0)
    return SolarInverterAdapter(
        profile(rated, rated), shape=solar_production, behaviour=behaviour, clock=clock
    )


def single_device(
    device_id: str,
    kind: DeviceKind,
    *,
    grid_node: str,
    rated_kw: float = 5.0,
    flex_kw: float | None = None,
    capacity_kwh: float = 10.0,
    soc: float = 0.8,
    opt_out_rate: float = 0.0,
    seed: int = 0,
    utc_offset_hours: float = 0.0,
) -> SimulatedDevice:
    """One simulated device described by hand (`degflex device`): a load is half flexible by default."""
    if flex_kw is None:
        flex_kw = rated_kw / 2 if kind is DeviceKind.FLEXIBLE_LOAD else rated_kw
    profile = DeviceProfile(
        device_id=check_device_id(device_id),
        kind=kind,
        rated_kw=rated_kw,
        flex_kw=flex_kw,
        grid_node=grid_node,
        battery_capacity_kwh=capacity_kwh if kind is DeviceKind.BATTERY else None,
    )
    behaviour = Behaviour(
        rng=random.Random(f"{seed}:{device_id}"),
        opt_out_rate=opt_out_rate,
        noise=0.05,
        utc_offset_hours=utc_offset_hours,
    )
    if kind is DeviceKind.BATTERY:
        return BatteryAdapter(profile, soc=soc, shape=battery_charging, behaviour=behaviour)
    if kind is DeviceKind.FLEXIBLE_LOAD:
        return FlexibleLoadAdapter(profile, shape=household_load, behaviour=behaviour)
    if kind is DeviceKind.EV_CHARGER:
        return EvChargerAdapter(profile, shape=ev_charging, behaviour=behaviour)
    return SolarInverterAdapter(profile, shape=solar_production, behaviour=behaviour)


def build_fleet(spec: FleetSpec, *, clock: Callable[[], datetime] = utcnow) -> list[SimulatedDevice]:
    return [
        build_device(spec, device_id, kind, clock=clock)
        for device_id, kind in zip(spec.device_ids(), spec.kinds(), strict=True)
    ]


class Simulator:
    """Runs a fleet's agents against one NATS; `devices_per_connection` > 1 shares clients among them."""

    def __init__(
        self,
        nats_url: str | Sequence[str],
        aggregator: str,
        spec: FleetSpec,
        *,
        credentials: BusCredentials | None = None,
        timings: AgentTimings | None = None,
        devices_per_connection: int | None = None,
        start_concurrency: int = 64,
    ) -> None:
        self.nats_url = nats_url
        self.aggregator = aggregator
        self.spec = spec
        self.credentials = credentials
        self.timings = timings or AgentTimings()
        self.devices_per_connection = devices_per_connection or (1 if spec.count <= 200 else 50)
        self.start_concurrency = start_concurrency
        self.devices = build_fleet(spec)
        self.connections: list[BusConnection] = []
        self.agents: list[DeviceAgent] = []
        self.started_at: datetime | None = None

    async def start(self) -> None:
        subjects = Subjects(self.aggregator)
        self.started_at = utcnow()
        shared: list[BusConnection | None] = [None] * len(self.devices)
        if self.devices_per_connection > 1:
            for number in range(math.ceil(len(self.devices) / self.devices_per_connection)):
                connection = BusConnection(
                    self.nats_url,
                    name=f"degflex-sim-{self.aggregator}-{self.spec.prefix}-{number}",
                    credentials=self.credentials,
                    inbox_prefix=subjects.inbox(f"{self.spec.prefix}-conn-{number}"),
                    request_timeout=self.timings.publish_timeout,
                )
                self.connections.append(connection)
            await asyncio.gather(*(connection.connect() for connection in self.connections))
            shared = [
                self.connections[index // self.devices_per_connection] for index in range(len(self.devices))
            ]
        self.agents = [
            DeviceAgent(
                self.nats_url,
                self.aggregator,
                device,
                self.credentials,
                connection=connection,
                timings=self.timings,
            )
            for device, connection in zip(self.devices, shared, strict=True)
        ]
        gate = asyncio.Semaphore(self.start_concurrency)

        async def start(agent: DeviceAgent) -> None:
            async with gate:
                await agent.start()

        await asyncio.gather(*(start(agent) for agent in self.agents))
        log.info(
            "simulated fleet started",
            extra={
                "devices": len(self.agents),
                "connections": len(self.connections) or len(self.agents),
                "grid_node": self.spec.grid_node,
                "kinds": dict(Counter(str(device.profile.kind) for device in self.devices)),
            },
        )

    async def wait_ready(self) -> None:
        await asyncio.gather(*(agent.ready.wait() for agent in self.agents))

    async def stop(self) -> None:
        await asyncio.gather(*(agent.stop() for agent in self.agents), return_exceptions=True)
        await asyncio.gather(*(connection.close() for connection in self.connections), return_exceptions=True)

    def summary(self) -> dict[str, object]:
        acks: Counter[AckStatus] = Counter()
        for agent in self.agents:
            acks.update(agent.counters.acks)
        return {
            "devices": len(self.agents),
            "ready": sum(agent.ready.is_set() for agent in self.agents),
            "announcements": sum(agent.counters.announcements for agent in self.agents),
            "commands": sum(agent.counters.commands for agent in self.agents),
            "telemetry": sum(agent.counters.telemetry for agent in self.agents),
            "acks": {str(status): count for status, count in sorted(acks.items())},
            "ack_retries": sum(agent.counters.ack_retries for agent in self.agents),
        }

    async def run(
        self, stop: asyncio.Event, *, progress_every: float = 10.0, duration: float | None = None
    ) -> None:
        """Start, report progress until `stop` is set (or `duration` has passed), then stop cleanly."""
        if not await unless_stopped(self.start(), stop):
            await self.stop()
            log.info("simulator stopped while connecting", extra=self.summary())
            return
        deadline = None if duration is None else asyncio.get_running_loop().time() + duration
        announced = asyncio.create_task(self._report_ready())
        try:
            while not stop.is_set():
                timeout = progress_every
                if deadline is not None:
                    timeout = min(timeout, deadline - asyncio.get_running_loop().time())
                    if timeout <= 0:
                        break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout)
                if not stop.is_set():
                    log.info("simulator progress", extra=self.summary())
        finally:
            announced.cancel()
            await self.stop()
            log.info("simulator stopped", extra=self.summary())

    async def _report_ready(self) -> None:
        await self.wait_ready()
        log.info("all devices announced and listening", extra=self.summary())
