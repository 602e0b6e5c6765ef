"""`degflex bench dispatch`: how fast a BPP turns a confirmed order into commands to a large fleet.

A real embedded nats-server, a migrated SQLite file and the BPP's own dispatcher (event consumer,
planner, publisher) run in this process; the simulated fleet runs in a child process (its agents share
connections, 50 devices each, as `degflex devices simulate` does), so the two sides do not share a
core. The devices announce themselves and the BPP registers them; then one order is confirmed for
everything the grid node can give, so every device gets a command. Timed:

- `confirm_to_last_published_s`: from the confirm's commit to JetStream storing the last command
  (intake, allocation over the whole fleet, one command row per device, publishing);
- `commands_published_per_s`: commands stored by JetStream per second of publishing;
- `acks_processed_per_s`: device acks (RECEIVED) stored by the BPP per second, from the first batch's
  start to the last one's commit; this is bounded by how fast the fleet answers, so
  `acks_stored_per_busy_s` also gives acks per second of the BPP's time spent storing them.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.capacity.service import available_kw
from bpp.devices.agent import AgentTimings
from bpp.devices.bus import DeviceBus
from bpp.devices.simulator import FleetSpec, Simulator
from bpp.dispatch.models import CommandStatus, DeviceCommand
from bpp.dispatch.progress import Reporter
from bpp.dispatch.tasks import Dispatcher
from bpp.fleet.models import Der, FlexDirection
from bpp.offers import service as offers
from bpp.offers.schemas import OfferTermsIn
from bpp.orders import service as orders
from bpp.orders.requests import Buyer, FlexRequest, OfferRef, Window
from bpp.orders.service import OrderRules
from bpp.settings import BppSettings
from participant.app import unit_of_work
from participant.cli import package_version
from participant.db import make_engine, make_session_factory, utcnow
from participant.migrate import upgrade
from participant.natsserver import EmbeddedNatsServer, nats_server_binary
from participant.outbound import OutboundSender
from registry_client.keys import generate_identity
from registry_client.lookup import KeyStore, StaticRegistry
from schemas.devices import DeviceKind

AGGREGATOR = "bench"
NODE = "transformer:TX-BENCH"
MIX = {DeviceKind.BATTERY: 0.4, DeviceKind.FLEXIBLE_LOAD: 0.6}
"""Kinds that answer a REDUCE order whatever the time of day (EV chargers refuse without a car)."""


@dataclass(frozen=True)
class Ports:
    nats: int
    monitor: int


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the fleet, in its own process -----------------------------------------------------------------------


def simulate(url: str, count: int, seed: int, channel: Connection) -> None:
    """Child process: run the fleet until told to stop; report when ready and when done.

    An ack JetStream did not store in time is retried by its agent; the fleet counts those retries
    (`ack_retries` in the report) instead of logging a warning per device."""
    logging.basicConfig(level=logging.ERROR)

    async def main() -> None:
        spec = FleetSpec(count=count, grid_node=NODE, mix=dict(MIX), time_scale=0.0, seed=seed, noise=0.0)
        timings = AgentTimings(telemetry_interval=60.0, announce_interval=3600.0, fetch_timeout=30.0)
        simulator = Simulator(url, AGGREGATOR, spec, timings=timings)
        started = time.monotonic()
        await simulator.start()
        await simulator.wait_ready()
        channel.send(("ready", time.monotonic() - started))
        await asyncio.to_thread(channel.recv)
        await simulator.stop()
        channel.send(("summary", simulator.summary()))

    asyncio.run(main())


# -- the BPP side ----------------------------------------------------------------------------------------


def settings(database_url: str, nats_url: str) -> BppSettings:
    identity = generate_identity("bench.bpp")
    return BppSettings(
        subscriber_id=identity.subscriber_id,
        subscriber_url="http://127.0.0.1:9/bpp",
        unique_key_id=identity.unique_key_id,
        signing_private_key=identity.signing_private_key,
        registry_url="http://127.0.0.1:9",
        database_url=database_url,
        nats_url=nats_url,
        nats_aggregator=AGGREGATOR,
        dispatch_lead_time=timedelta(minutes=5),
        ack_timeout=timedelta(minutes=5),
        report_interval=timedelta(minutes=1),
        opt_out_headroom=Decimal("0.1"),
        dispatch_poll_seconds=0.05,
    )


async def _count(factory: async_sessionmaker[AsyncSession], model: type[Der] | type[DeviceCommand]) -> int:
    async with unit_of_work(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _pending(factory: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(factory) as session:
        statement = (
            select(func.count())
            .select_from(DeviceCommand)
            .where(DeviceCommand.status == CommandStatus.PENDING)
        )
        return int(await session.scalar(statement) or 0)


async def _until(probe: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark: timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _confirm_everything(factory: async_sessionmaker[AsyncSession]) -> tuple[str, Decimal, float]:
    """Offer the node, confirm all it can give over a window starting in a minute; (order id, kW, time)."""
    now = utcnow()
    window = Window(now + timedelta(minutes=1), now + timedelta(minutes=16))
    terms = OfferTermsIn.model_validate(
        {
            "price_per_kwh": "0.25",
            "currency": "INR",
            "min_kw": 1,
            "max_kw": 1_000_000,
            "response_time_s": 60,
            "min_notice_s": 0,
            "max_duration_s": 3600,
            "max_events_per_day": 96,
            "baseline_method": "X_OF_Y_10_10",
            "cancel_before_s": 0,
            "cancellation_fee": "0",
            "reliability_headroom": "0",
        }
    )
    async with unit_of_work(factory) as session:
        await offers.put_terms(session, NODE, FlexDirection.REDUCE, terms)
    async with unit_of_work(factory) as session:
        kw = await available_kw(session, NODE, FlexDirection.REDUCE, window.start, window.end)
    buyer = Buyer("utility.bench", "http://127.0.0.1:9/utility", "tx-bench")
    request = FlexRequest(
        item_id=f"{NODE}:REDUCE", offer=OfferRef(NODE, FlexDirection.REDUCE), kw=kw, window=window
    )
    async with unit_of_work(factory) as session:
        await orders.draft(session, buyer, "bench.bpp", request, order_rules=OrderRules(), now=now)
    async with unit_of_work(factory) as session:
        order = await orders.confirm(session, buyer, request, now=utcnow())
    return order.id, kw, time.monotonic()


Progress = Callable[[str], None]


def _silent(_: str) -> None:
    """No progress lines (the default when the benchmark runs as a library call)."""


async def _bench(
    directory: Path, devices: int, seed: int, ports: Ports, progress: Progress = _silent
) -> dict[str, Any]:
    database_url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    await asyncio.to_thread(upgrade, database_url)
    server = EmbeddedNatsServer(directory / "nats", port=ports.nats, monitor_port=ports.monitor).start()
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    bpp = settings(database_url, server.url)
    policy = bpp.dispatch_policy
    bus = DeviceBus(server.url, AGGREGATOR)
    reporter = Reporter(OutboundSender(bpp, KeyStore(StaticRegistry([]))), bpp, policy.report_ttl)
    dispatcher = Dispatcher(factory, bus, policy=policy, reporter=reporter, poll_seconds=0.05)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=simulate, args=(server.url, devices, seed, theirs), name="bench-fleet")
    try:
        await dispatcher.start()
        await asyncio.wait_for(dispatcher.ready.wait(), 60)
        progress(f"dispatcher ready; starting {devices} simulated devices")
        started = time.monotonic()
        child.start()
        _, fleet_ready_s = await asyncio.to_thread(ours.recv)
        progress(f"fleet announced and listening after {fleet_ready_s:.1f} s; waiting for registration")

        async def registered() -> bool:
            return await _count(factory, Der) >= devices

        await _until(registered, f"{devices} devices registered", 120)
        registered_s = time.monotonic() - started
        progress(f"{devices} devices registered after {registered_s:.1f} s; confirming one order for all")

        order_id, kw, confirmed_at = await _confirm_everything(factory)
        dispatcher.wake_planner()
        progress(f"confirmed {kw} kW; allocating and publishing commands")

        async def all_published() -> bool:
            return await _count(factory, DeviceCommand) >= devices and await _pending(factory) == 0

        await _until(all_published, "every command published", 120)
        totals = dispatcher.publisher.totals
        assert totals.began_at is not None and totals.last_published_at is not None
        publish_s = totals.last_published_at - totals.began_at
        confirm_to_published_s = totals.last_published_at - confirmed_at
        commands = await _count(factory, DeviceCommand)
        progress(f"{commands} commands published in {publish_s:.1f} s; waiting for acks")

        async def acked() -> bool:
            return dispatcher.events.acks >= commands

        await _until(acked, "every command acknowledged", 120)
        events = dispatcher.events
        assert events.first_ack_at is not None and events.last_ack_at is not None
        acks_s = events.last_ack_at - events.first_ack_at
        progress(f"{events.acks} acks stored in {acks_s:.1f} s; stopping the fleet")
        ours.send("stop")
        _, summary = await asyncio.to_thread(ours.recv)
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=30)
        await dispatcher.stop()
        await engine.dispose()
        server.stop()
    return {
        "devices": devices,
        "order_id": order_id,
        "committed_kw": str(kw),
        "commands": commands,
        "commands_published": totals.published,
        "duplicates": totals.duplicates,
        "commands_published_per_s": round(totals.published / publish_s, 1) if publish_s > 0 else None,
        "publishing_s": round(publish_s, 3),
        "confirm_to_last_published_s": round(confirm_to_published_s, 3),
        "acks_processed": events.acks,
        "acks_processed_per_s": round(events.acks / acks_s, 1) if acks_s > 0 else None,
        "acks_s": round(acks_s, 3),
        "acks_stored_per_busy_s": round(events.acks / events.ack_busy_s, 1) if events.ack_busy_s else None,
        "fleet_ready_s": round(fleet_ready_s, 3),
        "fleet_registered_s": round(registered_s, 3),
        "fleet": summary,
    }


def machine() -> dict[str, Any]:
    try:
        version = subprocess.run(
            [str(nats_server_binary()), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        version = "unknown"
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "nats_server": version,
        "degflex": package_version(),
    }


def stderr_progress() -> Progress:
    """Progress lines on stderr with the seconds since the benchmark began (stdout keeps the table)."""
    began = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {line}", file=sys.stderr, flush=True)

    return say


def run(devices: int = 10_000, *, seed: int = 7, progress: Progress = _silent) -> dict[str, Any]:
    """Run the benchmark in a scratch directory; the report (figures and machine) as JSON-ready data."""
    with tempfile.TemporaryDirectory(prefix="degflex-bench-dispatch-") as scratch:
        ports = Ports(_free_port(), _free_port())
        load = [round(figure, 2) for figure in os.getloadavg()]  # other work on the machine skews figures
        started = time.monotonic()
        figures = asyncio.run(_bench(Path(scratch), devices, seed, ports, progress))
    return {
        "bench": "dispatch",
        "at": utcnow().isoformat(),
        "total_s": round(time.monotonic() - started, 1),
        **figures,
        "machine": {**machine(), "load_average_before": load},
    }


def table(report: dict[str, Any]) -> str:
    rows = [
        ("devices", report["devices"]),
        ("commands", report["commands"]),
        ("confirm → last command published", f"{report['confirm_to_last_published_s']} s"),
        ("commands published per second", report["commands_published_per_s"]),
        ("acks processed", report["acks_processed"]),
        ("acks processed per second", report["acks_processed_per_s"]),
        ("  … per second of storing them", report["acks_stored_per_busy_s"]),
        ("fleet ready / registered", f"{report['fleet_ready_s']} s / {report['fleet_registered_s']} s"),
        ("acks the fleet had to retry", report["fleet"].get("ack_retries", 0)),
        ("total", f"{report['total_s']} s"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
