"""The message log: every Beckn message in and out, byte for byte, and the inbox of accepted ones."""

from participant.messagelog.models import Direction, MessageRecord, ProcessingState
from participant.messagelog.repository import (
    DuplicateMessage,
    MessageLogRepository,
    MessageNotFound,
    dedupe_key,
)

__all__ = [
    "Direction",
    "DuplicateMessage",
    "MessageLogRepository",
    "MessageNotFound",
    "MessageRecord",
    "ProcessingState",
    "dedupe_key",
]
