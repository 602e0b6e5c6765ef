"""Why a device message or a subject was refused: raised at the edge, before anything acts on it."""

from __future__ import annotations

from collections.abc import Sequence


class DeviceMessageError(ValueError):
    """A command, ack, telemetry or announcement that breaks its schema; `locations` are JSON paths."""

    def __init__(self, message: str, locations: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.locations = tuple(locations)


class InvalidSubject(ValueError):
    """An id that cannot be one NATS subject token, or a subject outside the degflex layout."""
