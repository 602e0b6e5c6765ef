"""Building blocks for dispatch tests: settings, offers, confirmed orders, and fleets of real device agents
whose behaviour is exact (flat load, no noise, chosen opt-outs), so every figure can be worked out."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.adapters import Behaviour, DeviceProfile, FlexibleLoadAdapter, SimulatedDevice
from bpp.devices.agent import AgentTimings, DeviceAgent
from bpp.devices.bus import DeviceBus
from bpp.devices.connection import BusConnection, BusCredentials
from bpp.devices.shapes import constant
from bpp.dispatch import service
from bpp.dispatch.progress import Reporter
from bpp.dispatch.service import TickContext
from bpp.dispatch.tasks import Dispatcher
from bpp.fleet import service as fleet
from bpp.fleet.models import DerKind, FlexDirection
from bpp.fleet.schemas import DerCreate
from bpp.offers import service as offers
from bpp.offers.schemas import OfferTermsIn
from bpp.orders import service as orders
from bpp.orders.models import Order
from bpp.orders.requests import Buyer, FlexRequest, OfferRef, Window
from bpp.orders.service import OrderRules
from bpp.settings import BppSettings
from participant.app import unit_of_work
from participant.outbound import OutboundSender
from registry_client.keys import generate_identity
from registry_client.lookup import KeyStore, StaticRegistry
from schemas.devices import DeviceKind, Subjects
from tests.devices.conftest import SMALL

NODE = "transformer:TX-17"
ITEM = f"{NODE}:REDUCE"
OFFER = OfferRef(NODE, FlexDirection.REDUCE)
BAP_URI = "http://127.0.0.1:9/utility"
_transactions = itertools.count(1)

FAST = AgentTimings(
    telemetry_interval=0.1,
    announce_interval=60.0,
    ack_wait=6.0,
    fetch_timeout=1.0,
    retry_wait=0.1,
    publish_timeout=2.0,
)


def settings(database_url: str, **overrides: Any) -> BppSettings:
    """A BPP on `database_url` with quick dispatch timings: 5 s intervals, 3 s ack timeout, 2 s lead."""
    identity = generate_identity("aggregator.bpp")
    values: dict[str, Any] = {
        "subscriber_id": identity.subscriber_id,
        "subscriber_url": "http://127.0.0.1:9/bpp",
        "unique_key_id": identity.unique_key_id,
        "signing_private_key": identity.signing_private_key,
        "registry_url": "http://127.0.0.1:9",
        "database_url": database_url,
        "dispatch_lead_time": timedelta(seconds=2),
        "ack_timeout": timedelta(seconds=3),
        "report_interval": timedelta(seconds=5),
        "opt_out_headroom": Decimal("0.2"),
        "dispatch_poll_seconds": 0.1,
    }
    values.update(overrides)
    return BppSettings(**values)


def sender(bpp: BppSettings) -> OutboundSender:
    """Writes callbacks to the outbox; nothing delivers them here (the e2e tests do)."""
    return OutboundSender(bpp, KeyStore(StaticRegistry([])))


def dispatcher(
    factory: async_sessionmaker[AsyncSession], bpp: BppSettings, bus: DeviceBus, **options: Any
) -> Dispatcher:
    policy = bpp.dispatch_policy
    reporter = Reporter(sender(bpp), bpp, policy.report_ttl)
    return Dispatcher(factory, bus, policy=policy, reporter=reporter, poll_seconds=0.1, **options)


def terms(**overrides: Any) -> OfferTermsIn:
    values: dict[str, Any] = {
        "price_per_kwh": "0.25",
        "reservation_price_per_kw": "1.5",
        "currency": "INR",
        "min_kw": 1,
        "max_kw": 500,
        "response_time_s": 5,
        "min_notice_s": 0,
        "max_duration_s": 4 * 3600,
        "max_events_per_day": 96,
        "baseline_method": "X_OF_Y_10_10",
        "cancel_before_s": 0,
        "cancellation_fee": "0",
        "reliability_headroom": "0",
    }
    values.update(overrides)
    return OfferTermsIn.model_validate(values)


async def offer(session: AsyncSession, **overrides: Any) -> None:
    await offers.put_terms(session, NODE, FlexDirection.REDUCE, terms(**overrides))


def load_spec(device_id: str, flex_kw: str = "5", **overrides: Any) -> DerCreate:
    values: dict[str, Any] = {
        "device_id": device_id,
        "kind": DerKind.FLEXIBLE_LOAD,
        "grid_node": NODE,
        "rated_kw": Decimal("10"),
        "flex_kw": Decimal(flex_kw),
    }
    values.update(overrides)
    return DerCreate.model_validate(values)


async def register(session: AsyncSession, *specs: DerCreate, seen_at: datetime | None = None) -> None:
    for spec in specs:
        der = await fleet.register(session, spec)
        der.last_seen_at = seen_at


def aligned(moment: datetime, step: timedelta) -> datetime:
    """The next multiple of `step` after `moment` (windows start on the metering grid)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step + 1) * step


async def confirm(
    session: AsyncSession,
    kw: str,
    window: Window,
    *,
    now: datetime,
    bap_id: str = "utility.bap",
) -> Order:
    """An order drafted and confirmed through the order service, as the Beckn handlers do."""
    buyer = Buyer(bap_id, BAP_URI, f"tx-{next(_transactions)}")
    request = FlexRequest(item_id=ITEM, offer=OFFER, kw=Decimal(kw), window=window)
    await orders.draft(session, buyer, "aggregator.bpp", request, order_rules=OrderRules(), now=now)
    return await orders.confirm(session, buyer, request, now=now)


# -- devices --------------------------------------------------------------------------------------------


def flat_load(
    device_id: str, *, rated_kw: float = 10.0, flex_kw: float = 5.0, opts_out: bool = False
) -> SimulatedDevice:
    """A load drawing `rated_kw` all day, of which `flex_kw` can be shed; opts out of every event if told."""
    profile = DeviceProfile(
        device_id=device_id,
        kind=DeviceKind.FLEXIBLE_LOAD,
        rated_kw=rated_kw,
        flex_kw=flex_kw,
        grid_node=NODE,
    )
    behaviour = Behaviour(opt_out_rate=1.0 if opts_out else 0.0)
    return FlexibleLoadAdapter(profile, shape=constant(1.0), behaviour=behaviour)


class AgentFleet:
    """Real device agents sharing one NATS connection (as the simulator shares them), as a fleet user."""

    def __init__(
        self, url: str, aggregator: str, credentials: BusCredentials, devices: Sequence[SimulatedDevice]
    ) -> None:
        self.url = url
        self.aggregator = aggregator
        self.devices = {device.profile.device_id: device for device in devices}
        self.connection = BusConnection(
            url,
            name=f"test-fleet-{aggregator}",
            credentials=credentials,
            inbox_prefix=Subjects(aggregator).inbox("fleet-conn"),
            request_timeout=FAST.publish_timeout,
        )
        self.agents: list[DeviceAgent] = []

    async def start(self) -> None:
        await self.connection.connect()
        self.agents = [
            DeviceAgent(self.url, self.aggregator, device, connection=self.connection, timings=FAST)
            for device in self.devices.values()
        ]
        for agent in self.agents:
            await agent.start()
        await asyncio.wait_for(asyncio.gather(*(agent.ready.wait() for agent in self.agents)), 20)

    async def stop(self) -> None:
        await asyncio.gather(*(agent.stop() for agent in self.agents), return_exceptions=True)
        await self.connection.close()

    def applied(self) -> dict[str, list[str]]:
        """Command ids each device applied, in order (a command applied twice shows twice)."""
        return {device_id: list(device.applied) for device_id, device in self.devices.items()}


def bus_for(url: str, aggregator: str, credentials: BusCredentials) -> DeviceBus:
    return DeviceBus(url, aggregator, credentials=credentials, limits=SMALL, publish_timeout=2.0)


async def eventually(
    factory: async_sessionmaker[AsyncSession],
    probe: Callable[[AsyncSession], Awaitable[bool]],
    *,
    timeout: float = 30.0,
    what: str = "",
) -> None:
    """Re-read the database until `probe` holds (each look in a fresh transaction); fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with unit_of_work(factory) as session:
            if await probe(session):
                return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        await asyncio.sleep(0.05)


# -- the dispatcher's rules without NATS ----------------------------------------------------------------

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
"""A fixed Monday afternoon: service tests pass `now` explicitly, so nothing depends on the clock."""
WINDOW = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def tick_context(bpp: BppSettings, *, heard_since: datetime | None = T0) -> TickContext:
    policy = bpp.dispatch_policy
    return TickContext(policy, Reporter(sender(bpp), bpp, policy.report_ttl), heard_since)


async def planned_order(
    factory: async_sessionmaker[AsyncSession],
    bpp: BppSettings,
    *,
    devices: Sequence[DerCreate],
    kw: str,
    window: Window = WINDOW,
    now: datetime = T0,
) -> str:
    """Devices registered (seen at `now`), an offer, a confirmed order taken in and allocated; its id."""
    async with unit_of_work(factory) as session:
        await offer(session)
        await register(session, *devices, seen_at=now)
        order = await confirm(session, kw, window, now=now)
    async with unit_of_work(factory) as session:
        await service.intake(session, bpp.dispatch_policy, now=now)
    async with unit_of_work(factory) as session:
        await service.tick(session, order.id, tick_context(bpp), now=now)
    return order.id
