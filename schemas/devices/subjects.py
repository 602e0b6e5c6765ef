"""Where device messages travel: `degflex.<aggregator>.<channel>.<device_id>`.

Every id becomes exactly one subject token, so permissions can name a single device's subjects and
wildcards (`*`, `>`) or dots in an id can never widen what a device may publish or read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from schemas.devices.errors import InvalidSubject

PREFIX = "degflex"

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,127}$"
"""A device id: one NATS token (no `.`, `*`, `>` or spaces); the same rule as the fleet's `DeviceId`."""

AGGREGATOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
"""An aggregator id: one NATS token that also fits in a JetStream stream name."""

_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_AGGREGATOR = re.compile(AGGREGATOR_PATTERN)


class Channel(StrEnum):
    """The second-to-last subject token: what kind of message travels there."""

    CMD = "cmd"
    ACK = "ack"
    TELEMETRY = "telemetry"
    ANNOUNCE = "announce"
    INBOX = "inbox"


EVENT_CHANNELS: tuple[Channel, ...] = (Channel.ACK, Channel.TELEMETRY, Channel.ANNOUNCE)
"""What devices send to the aggregator (kept in the events stream)."""


def check_device_id(value: str) -> str:
    if not isinstance(value, str) or _DEVICE_ID.fullmatch(value) is None:
        raise InvalidSubject(f"{value!r} is not a device id (one NATS token: letters, digits, _ : -)")
    return value


def check_aggregator(value: str) -> str:
    if not isinstance(value, str) or _AGGREGATOR.fullmatch(value) is None:
        raise InvalidSubject(f"{value!r} is not an aggregator id (one NATS token: letters, digits, _ -)")
    return value


@dataclass(frozen=True)
class Subjects:
    """The subjects of one aggregator's devices, and the wildcards over them."""

    aggregator: str

    def __post_init__(self) -> None:
        check_aggregator(self.aggregator)

    @property
    def root(self) -> str:
        """Everything of this aggregator: what its service user may use."""
        return f"{PREFIX}.{self.aggregator}.>"

    def of(self, channel: Channel, device_id: str) -> str:
        return f"{PREFIX}.{self.aggregator}.{channel}.{check_device_id(device_id)}"

    def cmd(self, device_id: str) -> str:
        return self.of(Channel.CMD, device_id)

    def ack(self, device_id: str) -> str:
        return self.of(Channel.ACK, device_id)

    def telemetry(self, device_id: str) -> str:
        return self.of(Channel.TELEMETRY, device_id)

    def announce(self, device_id: str) -> str:
        return self.of(Channel.ANNOUNCE, device_id)

    def inbox(self, device_id: str) -> str:
        """A device's inbox prefix: replies to its requests (JetStream API, PubAcks) arrive under it."""
        return self.of(Channel.INBOX, device_id)

    def every(self, channel: Channel) -> str:
        """The wildcard over one channel of every device (`degflex.<agg>.ack.>`)."""
        return f"{PREFIX}.{self.aggregator}.{channel}.>"

    @property
    def all_commands(self) -> str:
        return self.every(Channel.CMD)

    @property
    def all_acks(self) -> str:
        return self.every(Channel.ACK)

    @property
    def all_telemetry(self) -> str:
        return self.every(Channel.TELEMETRY)

    @property
    def all_announcements(self) -> str:
        return self.every(Channel.ANNOUNCE)

    @property
    def all_events(self) -> list[str]:
        return [self.every(channel) for channel in EVENT_CHANNELS]

    def parse(self, subject: str) -> tuple[Channel, str]:
        """`degflex.<agg>.ack.dev-1` → (Channel.ACK, "dev-1"); InvalidSubject for anything else."""
        tokens = subject.split(".")
        if len(tokens) != 4 or tokens[0] != PREFIX or tokens[1] != self.aggregator:
            raise InvalidSubject(f"{subject!r} is not a subject of aggregator {self.aggregator!r}")
        try:
            channel = Channel(tokens[2])
        except ValueError:
            raise InvalidSubject(f"{subject!r} has no known channel") from None
        return channel, check_device_id(tokens[3])
