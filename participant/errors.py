"""Exceptions a participant raises while handling Beckn messages."""

from __future__ import annotations

from schemas.errors import ErrorCode


class ParticipantError(Exception):
    """Base of every error raised by the participant runtime."""


class BecknNack(ParticipantError):
    """Refuse a Beckn message: answered as a NACK body with `code`, never as a stack trace."""

    def __init__(
        self, code: ErrorCode, message: str, *, paths: str | None = None, http_status: int = 400
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.paths = paths
        self.http_status = http_status


class ConfigurationError(ParticipantError):
    """Settings that cannot work; raised at start-up with a message for the person running degflex."""
