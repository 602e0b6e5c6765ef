"""Bring a planned network up in order: NATS and the registry, subscriptions, device streams, BAPs and
BPPs, each aggregator's fleet, then the simulated devices; wait for each step to be really ready.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from bpp.devices.announcements import der_announcement
from bpp.devices.bus import DeviceBus
from bpp.devices.errors import DeviceBusError
from bpp.devices.simulator import DEFAULT_MIX, FleetSpec, build_device, parse_mix
from participant.db import utcnow
from participant.network.plan import FleetPlan, NetworkPlan, ParticipantPlan
from participant.network.supervisor import Child, ChildFailed, ProcessSpec, Supervisor

READY_TIMEOUT = 60.0
DEVICES_TIMEOUT = 60.0
Step = Callable[[str], None]


class LaunchError(Exception):
    """A step of bringing the network up failed for a reason other than a child dying."""


async def start_and_wait(
    supervisor: Supervisor, specs: Sequence[ProcessSpec], client: httpx.AsyncClient
) -> list[Child]:
    children = [supervisor.start(spec) for spec in specs]
    await asyncio.gather(*(child.wait_ready(READY_TIMEOUT, client) for child in children))
    return children


async def bring_up(plan: NetworkPlan, supervisor: Supervisor, client: httpx.AsyncClient, step: Step) -> None:
    """Start every part; ChildFailed or LaunchError says what did not come up."""
    infrastructure = [
        spec for spec in (plan.nats.process if plan.nats else None, plan.registry_process) if spec
    ]
    if infrastructure:
        await start_and_wait(supervisor, infrastructure, client)
        step("infrastructure: " + ", ".join(spec.name for spec in infrastructure) + " ready")
    if plan.registry_admin_token is not None:
        await register_subscribers(plan, client)
        step(f"registry: {len(plan.participants)} subscribers registered")
    if plan.nats is not None and plan.bpps:
        await ensure_streams(plan)
    await start_and_wait(supervisor, [part.process for part in plan.participants], client)
    step(f"participants: {len(plan.baps)} BAP, {len(plan.bpps)} BPP ready")
    if plan.fleets:
        enrolled = await enroll_fleets(plan, client)
        for fleet in plan.fleets:
            supervisor.start(fleet.process)
        step(f"devices: {enrolled} enrolled through the aggregators' fleet API, simulators started")
        online = await wait_devices_online(plan, supervisor, client)
        if online is not None:
            step(f"devices: {online} online on NATS")
        registered = await wait_fleets_registered(plan, supervisor, client)
        if registered:
            step(f"devices: {registered} in their aggregators' fleets")


async def register_subscribers(plan: NetworkPlan, client: httpx.AsyncClient) -> None:
    """Every participant's keys and URL into the registry, through its admin API."""
    headers = {"Authorization": f"Bearer {plan.registry_admin_token}"}
    for part in plan.participants:
        entry = {
            "subscriber_id": part.subscriber_id,
            "unique_key_id": part.identity.unique_key_id,
            "type": part.role.upper(),
            "url": part.url,
            "domain": plan.domain,
            "signing_public_key": part.identity.signing_public_key,
            "encr_public_key": part.identity.encryption_public_key,
            "status": "SUBSCRIBED",
        }
        try:
            response = await client.post(
                f"{plan.registry_url}/admin/subscribers", json=entry, headers=headers
            )
        except httpx.HTTPError as exc:
            raise LaunchError(f"cannot reach the registry at {plan.registry_url}: {exc}") from None
        if response.status_code not in (200, 201):
            raise LaunchError(f"the registry refused {part.subscriber_id}: {response.text}")


async def ensure_streams(plan: NetworkPlan) -> None:
    """Each aggregator's JetStream streams, so devices can bind their consumers before the BPP runs."""
    assert plan.nats is not None
    for part in plan.bpps:
        aggregator = part.aggregator
        assert aggregator is not None
        bus = DeviceBus(plan.nats.url, aggregator, credentials=plan.nats.service.get(aggregator))
        try:
            await bus.connect()
            await bus.ensure_streams()
        except DeviceBusError as exc:
            raise LaunchError(f"cannot set up the device streams of {aggregator}: {exc}") from None
        finally:
            await bus.close()


def fleet_devices(fleet: FleetPlan) -> list[dict[str, Any]]:
    """The devices a simulator will run (same seed, same devices), as the BPP's fleet API takes them."""
    entry = fleet.entry
    spec = FleetSpec(
        count=entry.count,
        grid_node=entry.grid_node,
        mix=parse_mix(entry.mix) if entry.mix else dict(DEFAULT_MIX),
        seed=entry.seed,
        id_prefix=entry.id_prefix,
        utc_offset_hours=entry.utc_offset,
    )
    now = utcnow()
    devices = []
    for device_id, kind in zip(spec.device_ids(), spec.kinds(), strict=True):
        profile = build_device(spec, device_id, kind).profile
        devices.append(
            der_announcement(profile.announcement(at=now)).model_dump(mode="json", exclude_none=True)
        )
    return devices


async def enroll_fleets(plan: NetworkPlan, client: httpx.AsyncClient) -> int:
    """Register the simulated devices with their BPP, as an aggregator enrols a customer's device (a BPP
    that hears NATS would also register them from their announcements, one batch at a time)."""
    by_id = {part.subscriber_id: part for part in plan.bpps}
    counts = await asyncio.gather(*(_enroll(by_id[fleet.bpp], fleet, client) for fleet in plan.fleets))
    return sum(counts)


async def _enroll(part: ParticipantPlan, fleet: FleetPlan, client: httpx.AsyncClient) -> int:
    if part.operator_token is None:
        return 0  # the description's own operators: devices register when the BPP hears them
    headers = {"Authorization": f"Bearer {part.operator_token}"}
    limit = asyncio.Semaphore(4)

    async def enrol(device: dict[str, Any]) -> None:
        async with limit:
            response = await client.post(f"{_local(part)}/api/ders", json=device, headers=headers)
        if response.status_code not in (201, 409):
            raise LaunchError(f"{part.subscriber_id} refused device {device['device_id']}: {response.text}")

    devices = fleet_devices(fleet)
    await asyncio.gather(*(enrol(device) for device in devices))
    return len(devices)


def _local(part: ParticipantPlan) -> str:
    return part.health_url.removesuffix("/health")


async def wait_devices_online(
    plan: NetworkPlan, supervisor: Supervisor, client: httpx.AsyncClient
) -> int | None:
    """Until every simulated device has bound its command consumer (None: cannot be seen, external NATS)."""
    if plan.nats is None or plan.nats.monitor_url is None:
        return None
    expected = sum(fleet.entry.count for fleet in plan.fleets)
    deadline = time.monotonic() + DEVICES_TIMEOUT
    while True:
        supervisor.check()
        online = await devices_online(plan.nats.monitor_url, client)
        if online >= expected:
            return online
        if time.monotonic() > deadline:
            raise LaunchError(
                f"only {online} of {expected} devices came online within {DEVICES_TIMEOUT:.0f} s"
            )
        await asyncio.sleep(0.25)


async def wait_fleets_registered(plan: NetworkPlan, supervisor: Supervisor, client: httpx.AsyncClient) -> int:
    """Until every BPP that hears its devices has registered all of its simulated ones."""
    expected: dict[str, int] = {}
    for fleet in plan.fleets:
        expected[fleet.bpp] = expected.get(fleet.bpp, 0) + fleet.entry.count
    parts = [p for p in plan.bpps if p.hears_devices and p.operator_token and p.subscriber_id in expected]
    deadline = time.monotonic() + DEVICES_TIMEOUT
    counts = {part.subscriber_id: 0 for part in parts}
    while True:
        supervisor.check()
        for part in parts:
            counts[part.subscriber_id] = await _fleet_size(part, client)
        if all(counts[name] >= min(expected[name], 1000) for name in counts):
            return sum(counts.values())
        if time.monotonic() > deadline:
            raise LaunchError(f"devices registered by their aggregators: {counts}, expected {expected}")
        await asyncio.sleep(0.25)


async def _fleet_size(part: ParticipantPlan, client: httpx.AsyncClient) -> int:
    headers = {"Authorization": f"Bearer {part.operator_token}"}
    try:
        response = await client.get(f"{_local(part)}/api/ders", params={"limit": 1000}, headers=headers)
        return len(response.json()) if response.status_code == 200 else 0
    except (httpx.HTTPError, ValueError):
        return 0


async def devices_online(monitor_url: str, client: httpx.AsyncClient) -> int:
    """Device consumers on the aggregators' command streams, from nats-server's monitoring endpoint."""
    try:
        response = await client.get(f"{monitor_url}/jsz", params={"accounts": "true", "streams": "true"})
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return 0
    total = 0
    for account in data.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if str(stream.get("name", "")).endswith("_COMMANDS"):
                total += int((stream.get("state") or {}).get("consumer_count", 0))
    return total


__all__ = ["ChildFailed", "LaunchError", "bring_up", "devices_online", "fleet_devices"]
