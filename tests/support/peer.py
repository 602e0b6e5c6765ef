"""A runnable test participant: a BPP that answers every request with a minimal valid callback, or a BAP
that records the callbacks it gets; both can be told to send messages through `/test/*`.

In-process: `ThreadedServer(build_peer_app(settings, Role.BPP, recorder=PeerRecorder()))`.
As a process: `python -m tests.support.peer --role bpp` with `DEGFLEX_PEER_*` settings in the environment
(`--block-process` makes `process` hang, to crash it between ACK and processing; `--delay` slows every
request down, so that a crash lands mid-delivery).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from participant.app import ParticipantRuntime, Role, RuntimeDep, SessionDep, create_participant_app
from participant.inbound import ActionHandler, BaseActionHandler, InboundMessage
from participant.logging import configure_logging
from participant.settings import ParticipantSettings
from schemas.core_v1 import IMPLEMENTED_ACTIONS, Action, Context

ORDER = {"id": "order-1", "provider": {"id": "provider-1"}, "items": [{"id": "item-1"}]}


def minimal_message(action: Action) -> dict[str, Any]:
    """The smallest body of `action` that is valid against our models and the official spec."""
    if action is Action.SEARCH:
        return {"intent": {"descriptor": {"name": "demand flexibility"}}}
    if action is Action.ON_SEARCH:
        return {
            "catalog": {
                "descriptor": {"name": "peer"},
                "providers": [{"id": "provider-1", "items": [{"id": "item-1"}]}],
            }
        }
    if action is Action.STATUS:
        return {"order_id": ORDER["id"]}
    if action is Action.CANCEL:
        return {"order_id": ORDER["id"], "cancellation_reason_id": "1"}
    if action is Action.UPDATE:
        return {"update_target": "order", "order": ORDER}
    return {"order": ORDER}


class PeerSettings(ParticipantSettings):
    model_config = SettingsConfigDict(env_prefix="DEGFLEX_PEER_")


@dataclass(frozen=True)
class Received:
    action: str
    transaction_id: str
    message_id: str
    sender: str
    record_id: str
    gateway: str | None


class PeerRecorder:
    """What the peer's handlers accepted and processed, readable from the test's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: list[Received] = []
        self._processed: list[Received] = []

    def note_accepted(self, message: InboundMessage) -> None:
        with self._lock:
            self._accepted.append(_entry(message))

    def note_processed(self, message: InboundMessage) -> None:
        with self._lock:
            self._processed.append(_entry(message))

    def accepted(self, message_id: str | None = None) -> list[Received]:
        with self._lock:
            return [entry for entry in self._accepted if message_id in (None, entry.message_id)]

    def processed(self, action: str | None = None) -> list[Received]:
        with self._lock:
            return [entry for entry in self._processed if action is None or entry.action == action]


def _entry(message: InboundMessage) -> Received:
    return Received(
        action=message.action.value,
        transaction_id=message.context.transaction_id,
        message_id=message.context.message_id,
        sender=message.sender,
        record_id=message.record_id,
        gateway=message.gateway.subscriber_id if message.gateway else None,
    )


class PeerHandler(BaseActionHandler):
    """Records every message; as a BPP, answers each request with its callback through the outbox."""

    def __init__(
        self,
        runtime: ParticipantRuntime,
        recorder: PeerRecorder,
        *,
        block: bool = False,
    ) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.block = block

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        self.recorder.note_accepted(message)

    async def process(self, message: InboundMessage) -> None:
        if self.block:
            await asyncio.Event().wait()
        self.recorder.note_processed(message)
        if message.action.is_callback:
            return
        sender = self.runtime.sender
        callback = message.action.callback
        async with self.runtime.session_factory() as session, session.begin():
            await sender.send(
                session,
                action=callback,
                context=sender.reply_context(message.context),
                message=minimal_message(callback),
            )


class SendOrder(BaseModel):
    """`POST /test/send`: what the peer should send, and to whom."""

    action: Action
    count: int = Field(default=1, ge=1, le=10_000)
    bap_id: str | None = None
    bap_uri: str | None = None
    bpp_id: str | None = None
    bpp_uri: str | None = None
    transaction_id: str | None = None


def peer_router(recorder: PeerRecorder) -> APIRouter:
    router = APIRouter(prefix="/test", tags=["test"])

    @router.post("/send")
    async def send(order: SendOrder, runtime: RuntimeDep, session: SessionDep) -> dict[str, Any]:
        """Enqueue `count` messages: requests from us as a BAP, or unsolicited callbacks as a BPP."""
        sender = runtime.sender
        sent: list[dict[str, str]] = []
        for _ in range(order.count):
            if order.action.is_callback:
                request = Context.new(
                    action=order.action.request,
                    domain=runtime.settings.domain,
                    bap_id=order.bap_id or "unknown-bap",
                    bap_uri=order.bap_uri or "http://127.0.0.1:9",
                    transaction_id=order.transaction_id or str(uuid.uuid4()),
                )
                context = sender.reply_context(request, order.action, unsolicited=True)
            else:
                context = sender.request_context(
                    order.action,
                    bpp_id=order.bpp_id,
                    bpp_uri=order.bpp_uri,
                    transaction_id=order.transaction_id,
                    ttl=timedelta(minutes=5),
                )
            entries = await sender.send(
                session, action=order.action, context=context, message=minimal_message(order.action)
            )
            sent.extend(
                {
                    "message_id": context.message_id,
                    "transaction_id": context.transaction_id,
                    "to": e.target_url,
                }
                for e in entries
            )
        return {"sent": sent}

    @router.get("/processed")
    async def processed() -> list[dict[str, Any]]:
        return [asdict(entry) for entry in recorder.processed()]

    return router


class Delay:
    """ASGI middleware that holds every request for a while: makes a crash land mid-delivery."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def build_peer_app(
    settings: ParticipantSettings,
    role: Role,
    *,
    recorder: PeerRecorder | None = None,
    block: bool = False,
    delay: float = 0.0,
) -> FastAPI:
    recorder = recorder or PeerRecorder()

    def peer_handlers(runtime: ParticipantRuntime) -> Mapping[Action, ActionHandler]:
        handler = PeerHandler(runtime, recorder, block=block)
        return {action: handler for action in role.receives if action.request in IMPLEMENTED_ACTIONS}

    app = create_participant_app(settings, role=role, handlers=peer_handlers, routers=[peer_router(recorder)])
    app.state.recorder = recorder
    if delay > 0:
        app.add_middleware(Delay, seconds=delay)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.support.peer")
    parser.add_argument("--role", choices=["bap", "bpp"], required=True)
    parser.add_argument("--block-process", action="store_true", help="never finish `process` (crash tests)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold each POST")
    args = parser.parse_args(argv)
    settings = PeerSettings()  # everything comes from DEGFLEX_PEER_*
    configure_logging(settings.log_level, settings.log_format)
    app = build_peer_app(settings, Role(args.role.upper()), block=args.block_process, delay=args.delay)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


if __name__ == "__main__":
    sys.exit(main())
