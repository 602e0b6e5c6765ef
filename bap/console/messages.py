"""The typed messages the console WebSocket pushes to operators (documented in docs/websocket.md).

Every frame is `{"type", "seq", "at", "data"}`; `seq` counts per connection from 1, so a console can tell
that it missed nothing. `reply` and `error` answering a command go to the connection that sent it; the
rest go to every connected operator.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from participant.db import utcnow


class MessageType(StrEnum):
    SNAPSHOT = "snapshot"
    ALERT = "alert"
    OPTIONS = "options"
    RECOMMENDATION = "recommendation"
    PROGRESS = "progress"
    PARTICIPATION = "participation"
    COMPLETED = "completed"
    ERROR = "error"
    REPLY = "reply"


class ConsoleMessage(BaseModel):
    """One frame before its connection stamps `seq` on it."""

    model_config = ConfigDict(frozen=True)

    type: MessageType
    data: dict[str, Any]
    at: datetime = Field(default_factory=utcnow)

    def frame(self, seq: int) -> dict[str, Any]:
        return {"type": self.type.value, "seq": seq, "at": self.at.isoformat(), "data": self.data}


def message(kind: MessageType, /, **data: Any) -> ConsoleMessage:
    return ConsoleMessage(type=kind, data=data)
