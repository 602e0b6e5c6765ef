"""What the BPP does with what its devices say, a batch at a time, in the caller's transaction.

- An announcement registers the device in the fleet, or refreshes it (`bpp.fleet.service.announce`).
- Telemetry is added to the device's bucket for its metering interval; a reading older than the newest
  one already counted in that bucket (a redelivery) is not counted again. The device's last-seen time
  and state of charge are kept up to date for allocation.
- An ack is stored once per (command_id, status) and moves its command forward; a repeated ack changes
  nothing. Acks that matter to the plan (started, failed, finished) poke it, so the dispatcher reacts
  at once instead of at its next deadline.

Delivery from JetStream is at least once; everything here is idempotent, so a redelivered batch is
harmless.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.devices.announcements import der_announcement
from bpp.devices.events import DeviceEvent
from bpp.dispatch.intervals import bucket_start
from bpp.dispatch.models import DeviceCommand, status_after
from bpp.dispatch.readings import Bucket, ReadingRepository
from bpp.dispatch.repository import AckRepository, CommandRepository, ParticipationRepository, PlanRepository
from bpp.fleet import service as fleet
from bpp.fleet.errors import InvalidDer
from bpp.fleet.repository import DerRepository
from bpp.performance.intervals import round_kw
from schemas.devices import Ack, AckStatus, Announce, Telemetry

log = logging.getLogger(__name__)

POKING = frozenset({AckStatus.STARTED}) | {status for status in AckStatus if status.is_terminal}


@dataclass
class EventOutcome:
    """What a batch changed; `poked` are the orders the dispatcher should look at now."""

    announcements: int = 0
    telemetry: int = 0
    acks: int = 0
    duplicate_acks: int = 0
    poked: set[str] = field(default_factory=set)


async def handle_events(
    session: AsyncSession, events: Sequence[DeviceEvent], *, bucket: timedelta, now: datetime
) -> EventOutcome:
    outcome = EventOutcome()
    announcements = [event.message for event in events if isinstance(event.message, Announce)]
    readings = [event.message for event in events if isinstance(event.message, Telemetry)]
    acks = [(event.message, event.stream_sequence) for event in events if isinstance(event.message, Ack)]
    outcome.announcements = await _announce(session, announcements)
    outcome.telemetry = await _telemetry(session, readings, bucket)
    await _acks(session, acks, now, outcome)
    return outcome


async def _announce(session: AsyncSession, announcements: Sequence[Announce]) -> int:
    """Refusals (a bad description, another kind under a known id) are raised before anything is written,
    so they are skipped here. No savepoint: on SQLite it would open the transaction with a read and turn
    a concurrent writer into "database is locked". A device registered at the same moment by another
    replica fails the batch, which is then stored event by event (`bpp.dispatch.tasks`)."""
    registered = 0
    for message in announcements:
        try:
            await fleet.announce(session, der_announcement(message), now=message.at)
        except (InvalidDer, ValidationError) as exc:
            log.warning("announcement refused", extra={"device_id": message.device_id, "error": str(exc)})
            continue
        registered += 1
    return registered


async def _telemetry(session: AsyncSession, readings: Sequence[Telemetry], bucket: timedelta) -> int:
    if not readings:
        return 0
    grouped: dict[tuple[str, datetime], list[Telemetry]] = defaultdict(list)
    for reading in readings:
        grouped[(reading.device_id, bucket_start(reading.ts, bucket))].append(reading)
    counted = await ReadingRepository(session).last_counted(grouped.keys())
    buckets: list[Bucket] = []
    seen: dict[str, tuple[datetime, float | None]] = {}
    for (device_id, start), samples in grouped.items():
        newest = counted.get((device_id, start))
        fresh = sorted(
            (sample for sample in samples if newest is None or sample.ts > newest), key=lambda s: s.ts
        )
        if not fresh:
            continue
        kws = [round_kw(Decimal(str(sample.power_kw))) for sample in fresh]
        last = fresh[-1]
        buckets.append(
            Bucket(
                device_id=device_id,
                bucket_start=start,
                seconds=int(bucket.total_seconds()),
                samples=len(fresh),
                sum_kw=sum(kws, Decimal(0)),
                min_kw=min(kws),
                max_kw=max(kws),
                last_ts=last.ts,
                soc=last.soc,
            )
        )
        if device_id not in seen or seen[device_id][0] < last.ts:
            seen[device_id] = (last.ts, last.soc)
    await ReadingRepository(session).add(buckets)
    await DerRepository(session).observe(seen)
    return sum(bucket.samples for bucket in buckets)


async def _acks(
    session: AsyncSession, acks: Sequence[tuple[Ack, int]], now: datetime, outcome: EventOutcome
) -> None:
    if not acks:
        return
    commands = await CommandRepository(session).by_command_ids({ack.command_id for ack, _ in acks})
    rows = []
    for ack, sequence in acks:
        command = commands.get(ack.command_id)
        if command is None or command.device_id != ack.device_id:
            log.info("ack for a command this BPP did not send", extra={"command_id": ack.command_id})
            continue
        rows.append(
            {
                "command_id": ack.command_id,
                "status": ack.status,
                "device_id": ack.device_id,
                "at": ack.at,
                "received_at": now,
                "stream_seq": sequence,
                "reason": ack.reason,
                "delivered_kw": None
                if ack.delivered_kw is None
                else round_kw(Decimal(str(ack.delivered_kw))),
            }
        )
    new = await AckRepository(session).add_new(_unique(rows))
    outcome.duplicate_acks = len(acks) - len(new)
    opted_out: set[str] = set()
    for ack, _ in sorted(acks, key=lambda pair: pair[1]):
        if (ack.command_id, ack.status) not in new:
            continue
        new.discard((ack.command_id, ack.status))
        command = commands[ack.command_id]
        _apply(command, ack, now)
        outcome.acks += 1
        if ack.status in POKING:
            outcome.poked.add(command.order_id)
        if ack.status is AckStatus.OPTED_OUT:
            opted_out.add(command.device_id)
    await session.flush()
    if opted_out:
        await ParticipationRepository(session).record(opted_out, opt_outs=True)
    await PlanRepository(session).poke(outcome.poked, now)


def _unique(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per (command_id, status): a batch may hold a redelivery of its own message."""
    unique: dict[tuple[object, object], dict[str, object]] = {}
    for row in rows:
        unique.setdefault((row["command_id"], row["status"]), row)
    return list(unique.values())


def _apply(command: DeviceCommand, ack: Ack, now: datetime) -> None:
    command.last_ack_status = ack.status
    command.last_ack_at = ack.at
    command.updated_at = now
    if ack.status is AckStatus.STARTED and command.started_at is None:
        command.started_at = ack.at
    if ack.delivered_kw is not None:
        command.delivered_kw = round_kw(Decimal(str(ack.delivered_kw)))
    if ack.reason is not None:
        command.reason = ack.reason
    command.status = status_after(command.status, ack.status)
