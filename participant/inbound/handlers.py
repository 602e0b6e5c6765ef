"""What a role plugs into the inbound pipeline: one handler per action, in a typed table.

`accept` runs inside the request's transaction, before the ACK, and may refuse the message with a
`BecknNack`; `process` runs after the commit, in the background, and its result goes out as a callback
through the outbox. Delivery to `process` is at least once (a crash replays pending messages), so
handlers make it idempotent per `record_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from registry_client.lookup import Subscriber
from schemas.core_v1 import Action, BecknModel, Context, Envelope


@dataclass(frozen=True)
class InboundMessage:
    """An accepted message: its log record, the parsed envelope, the exact bytes and who signed them."""

    record_id: str
    action: Action
    context: Context
    envelope: Envelope[BecknModel]
    body: bytes
    sender: str
    signer: Subscriber
    gateway: Subscriber | None
    received_at: datetime


class ActionHandler(Protocol):
    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        """Synchronous checks and writes in the receiving transaction; raise BecknNack to refuse."""

    async def process(self, message: InboundMessage) -> None:
        """The work after the ACK (typically: compute and send the callback)."""


class BaseActionHandler:
    """Accepts every valid message and does nothing after; subclasses override what they need."""

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        return None

    async def process(self, message: InboundMessage) -> None:
        return None
