"""What the BPP hears from its devices: an ack, a telemetry reading or an announcement, with its origin.

The device id comes from the subject, which the server's permissions tie to the device's credentials;
a payload naming another device is refused rather than believed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.msg import Msg

from schemas.devices import (
    Ack,
    Announce,
    Channel,
    DeviceMessage,
    DeviceMessageError,
    InvalidSubject,
    Subjects,
    Telemetry,
)

EVENT_MODELS: dict[Channel, type[Ack] | type[Telemetry] | type[Announce]] = {
    Channel.ACK: Ack,
    Channel.TELEMETRY: Telemetry,
    Channel.ANNOUNCE: Announce,
}


@dataclass(frozen=True)
class DeviceEvent:
    """One message from the events stream; `deliveries` > 1 means JetStream delivered it before."""

    channel: Channel
    device_id: str
    message: Ack | Telemetry | Announce
    stream_sequence: int
    deliveries: int


EventHandler = Callable[[DeviceEvent], Awaitable[None]]
"""Must be idempotent: a message is redelivered if its ack is lost (acks dedupe by command and status)."""

EventBatchHandler = Callable[[list[DeviceEvent]], Awaitable[None]]
"""The same, for every event of one fetch at once, in stream order."""


def decode_event(subjects: Subjects, msg: Msg) -> DeviceEvent:
    """Raises DeviceMessageError (bad payload) or InvalidSubject (not a device event subject)."""
    channel, device_id = subjects.parse(msg.subject)
    model = EVENT_MODELS.get(channel)
    if model is None:
        raise InvalidSubject(f"{msg.subject!r} does not carry device events")
    message: DeviceMessage = model.from_json(msg.data)
    assert isinstance(message, Ack | Telemetry | Announce)
    if message.device_id != device_id:
        raise DeviceMessageError(
            f"{channel}: device_id {message.device_id!r} was published on {device_id!r}'s subject",
            ["$.device_id"],
        )
    metadata = msg.metadata
    return DeviceEvent(
        channel=channel,
        device_id=device_id,
        message=message,
        stream_sequence=metadata.sequence.stream,
        deliveries=metadata.num_delivered,
    )
