"""The desk: what every BAP service needs besides a session (settings, the sender, the consoles).

Services publish console messages through `publish`, which holds them until the session commits, so an
operator never sees a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bap.console.hub import ConsoleHub
from bap.console.messages import ConsoleMessage
from bap.settings import BapSettings
from participant.app import ParticipantRuntime
from participant.db import after_commit
from participant.outbound import OutboundSender


def _nothing() -> None:
    return None


@dataclass
class Desk:
    settings: BapSettings
    runtime: ParticipantRuntime
    hub: ConsoleHub
    wake_scheduler: Callable[[], None] = field(default=_nothing)

    @property
    def sender(self) -> OutboundSender:
        return self.runtime.sender

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.session_factory

    def publish(self, session: AsyncSession, message: ConsoleMessage) -> None:
        """Broadcast `message` to every console once `session` has committed (never on rollback)."""
        after_commit(session, lambda: self.hub.broadcast(message))

    def reschedule(self, session: AsyncSession) -> None:
        """A deadline moved: let the scheduler look again once it is committed."""
        after_commit(session, lambda: self.wake_scheduler())


def get_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk
