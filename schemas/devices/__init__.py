"""Messages between an aggregator (BPP) and its devices over NATS JetStream, and the subjects they use.

Pydantic models with a JSON Schema each (shipped beside this module) so that a device agent in any
language can be checked against the same contract; see docs/devices.md for the whole protocol.
"""

from schemas.devices.errors import DeviceMessageError, InvalidSubject
from schemas.devices.models import (
    ALLOWED_SETPOINTS,
    DEVICE_MESSAGES,
    Ack,
    AckStatus,
    Announce,
    Command,
    CommandKind,
    DeviceKind,
    DeviceMessage,
    Setpoint,
    SetpointType,
    Telemetry,
    format_timestamp,
)
from schemas.devices.subjects import (
    EVENT_CHANNELS,
    Channel,
    Subjects,
    check_aggregator,
    check_device_id,
)
from schemas.devices.validation import parse_message, schema_errors, schema_of, validate_document

__all__ = [
    "ALLOWED_SETPOINTS",
    "DEVICE_MESSAGES",
    "EVENT_CHANNELS",
    "Ack",
    "AckStatus",
    "Announce",
    "Channel",
    "Command",
    "CommandKind",
    "DeviceKind",
    "DeviceMessage",
    "DeviceMessageError",
    "InvalidSubject",
    "Setpoint",
    "SetpointType",
    "Subjects",
    "Telemetry",
    "check_aggregator",
    "check_device_id",
    "format_timestamp",
    "parse_message",
    "schema_errors",
    "schema_of",
    "validate_document",
]
