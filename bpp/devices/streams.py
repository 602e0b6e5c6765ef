"""The two JetStream streams of an aggregator and the consumers on them; created or updated at start-up.

- `DEGFLEX_<agg>_COMMANDS` keeps `degflex.<agg>.cmd.>`: one durable pull consumer per device
  (`cmd-<device_id>`, filtered on that device's subject), so a device that was offline gets its commands.
- `DEGFLEX_<agg>_EVENTS` keeps acks, telemetry and announcements: the BPP reads them through one durable
  pull consumer (`bpp-events`), so nothing a device said while the BPP was down is lost.

`Nats-Msg-Id` dedupes within `duplicate_window`: an outbox retrying a command (or an agent re-sending an
ack) inside that window stores it once. Keep the window longer than the longest retry span of an outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from bpp.devices.connection import translate
from schemas.devices import Subjects, check_aggregator, check_device_id

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class StreamLimits:
    """Retention of the device streams; seconds and bytes. JetStream reserves max_bytes on disk up front."""

    command_max_age: float = 7 * DAY
    command_max_bytes: int = 256 << 20
    command_duplicate_window: float = 1 * DAY
    command_max_consumers: int = 100_000
    """One consumer per device; nats-server 2.15 allows 1000 per stream unless the stream says more."""
    event_max_age: float = 3 * DAY
    event_max_bytes: int = 2 << 30
    event_duplicate_window: float = 1 * HOUR
    max_msg_size: int = 64 * 1024
    replicas: int = 1


@dataclass(frozen=True)
class StreamLayout:
    """Names of an aggregator's streams and consumers, and their configurations."""

    aggregator: str
    limits: StreamLimits = StreamLimits()

    def __post_init__(self) -> None:
        check_aggregator(self.aggregator)

    @property
    def subjects(self) -> Subjects:
        return Subjects(self.aggregator)

    @property
    def command_stream(self) -> str:
        return f"DEGFLEX_{self.aggregator}_COMMANDS"

    @property
    def event_stream(self) -> str:
        return f"DEGFLEX_{self.aggregator}_EVENTS"

    @staticmethod
    def device_consumer(device_id: str) -> str:
        """The durable consumer a device reads its commands through (on the commands stream)."""
        return f"cmd-{check_device_id(device_id)}"

    def command_stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.command_stream,
            description=f"degflex commands to the devices of {self.aggregator}",
            subjects=[self.subjects.all_commands],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.limits.command_max_age,
            max_bytes=self.limits.command_max_bytes,
            max_msg_size=self.limits.max_msg_size,
            duplicate_window=self.limits.command_duplicate_window,
            max_consumers=self.limits.command_max_consumers,
            num_replicas=self.limits.replicas,
        )

    def event_stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.event_stream,
            description=f"degflex acks, telemetry and announcements from the devices of {self.aggregator}",
            subjects=self.subjects.all_events,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.limits.event_max_age,
            max_bytes=self.limits.event_max_bytes,
            max_msg_size=self.limits.max_msg_size,
            duplicate_window=self.limits.event_duplicate_window,
            num_replicas=self.limits.replicas,
        )

    def device_consumer_config(self, device_id: str, *, ack_wait: float) -> ConsumerConfig:
        """Every command for the device (DeliverPolicy.ALL), redelivered until acked, never dropped."""
        name = self.device_consumer(device_id)
        return ConsumerConfig(
            name=name,
            durable_name=name,
            description=f"commands for device {device_id}",
            filter_subject=self.subjects.cmd(device_id),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=-1,
            max_ack_pending=256,
        )

    def event_consumer_config(self, name: str, *, ack_wait: float, max_ack_pending: int) -> ConsumerConfig:
        return ConsumerConfig(
            name=name,
            durable_name=name,
            description=f"device events for the BPP of {self.aggregator}",
            filter_subjects=self.subjects.all_events,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=-1,
            max_ack_pending=max_ack_pending,
        )


class StreamChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


_COMPARED = (
    "subjects",
    "retention",
    "storage",
    "discard",
    "max_age",
    "max_bytes",
    "max_msg_size",
    "duplicate_window",
    "num_replicas",
    "description",
    "max_consumers",
)


def _differs(wanted: StreamConfig, current: StreamConfig) -> list[str]:
    changed = []
    for name in _COMPARED:
        want, have = getattr(wanted, name), getattr(current, name)
        if want is None:
            continue  # left to the server's default
        if name == "subjects":
            want, have = sorted(want or []), sorted(have or [])
        elif isinstance(want, float) or isinstance(have, float):
            want, have = round(float(want or 0), 3), round(float(have or 0), 3)
        if want != have:
            changed.append(name)
    return changed


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamChange:
    """Create the stream, or update it when its configuration drifted; a no-op when it matches."""
    assert config.name is not None
    doing = f"setting up stream {config.name}"
    try:
        info = await js.stream_info(config.name)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(config)
        except Exception as exc:
            raise translate(exc, doing) from exc
        return StreamChange.CREATED
    except Exception as exc:
        raise translate(exc, doing) from exc
    if not _differs(config, info.config):
        return StreamChange.UNCHANGED
    try:
        await js.update_stream(config)
    except Exception as exc:
        raise translate(exc, doing) from exc
    return StreamChange.UPDATED
