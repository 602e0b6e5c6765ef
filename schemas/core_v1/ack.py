"""The synchronous reply to every Beckn call: ACK, or NACK with a BECKN-005 error."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import field_validator

from schemas.core_v1.base import BecknModel, Text
from schemas.core_v1.descriptor import TagGroup
from schemas.errors import ErrorCode


class AckStatus(StrEnum):
    ACK = "ACK"
    NACK = "NACK"


class Ack(BecknModel):
    status: AckStatus
    tags: list[TagGroup] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Error(BecknModel):
    """`paths` is one string in the spec: we write a comma separated list of JSON paths."""

    code: Text
    paths: str | None = None
    message: str | None = None


class AckMessage(BecknModel):
    ack: Ack


class AckResponse(BecknModel):
    """The reply body. Peers may echo the request's `context` or add fields: both are kept."""

    message: AckMessage
    error: Error | None = None

    @classmethod
    def ack(cls) -> AckResponse:
        return cls(message=AckMessage(ack=Ack(status=AckStatus.ACK)))

    @classmethod
    def nack(cls, code: ErrorCode, message: str, paths: str | None = None) -> AckResponse:
        return cls(
            message=AckMessage(ack=Ack(status=AckStatus.NACK)),
            error=Error(code=code.value, paths=paths, message=message),
        )

    @classmethod
    def from_reply(cls, data: dict[str, Any]) -> AckResponse:
        """Read a peer's reply (raises pydantic's `ValidationError` when it holds no ack status)."""
        return cls.model_validate(data)

    @property
    def is_ack(self) -> bool:
        return self.message.ack.status is AckStatus.ACK
