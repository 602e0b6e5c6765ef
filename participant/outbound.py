"""Sending Beckn messages: contexts stamped with our identity, checked bodies, one outbox row per target.

Strict in what we send: the envelope is validated against our own models and serialized once, and those
exact bytes are what the outbox stores, signs and delivers. A body that does not validate is a bug in
degflex and raises; it is never sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from participant.errors import ParticipantError
from participant.outbox import OutboxEntry, enqueue
from participant.settings import ParticipantSettings
from registry_client.lookup import KeyStore, SubscriberType
from schemas.core_v1 import Action, BecknModel, Context, parse_envelope, validation_paths

log = logging.getLogger(__name__)

# A message is worth delivering for at least this long, whatever ttl its context says.
MIN_DELIVERY_WINDOW = timedelta(seconds=5)


class InvalidOutboundMessage(ParticipantError):
    """We built a message that our own schema refuses; nothing was enqueued."""


class NoTarget(ParticipantError):
    """The context does not say where the message goes, and no explicit target was given."""


@dataclass(frozen=True)
class Target:
    url: str
    counterparty: str


class OutboundSender:
    """Builds contexts for this participant and enqueues signed deliveries in the caller's transaction."""

    def __init__(
        self, settings: ParticipantSettings, keystore: KeyStore, wake: Callable[[], None] | None = None
    ) -> None:
        self.settings = settings
        self.keystore = keystore
        self.wake = wake

    def request_context(
        self,
        action: Action,
        *,
        bpp_id: str | None = None,
        bpp_uri: str | None = None,
        transaction_id: str | None = None,
        ttl: timedelta | None = None,
    ) -> Context:
        """A new request from us as the BAP (fresh message id; a new transaction unless one is given)."""
        if action.is_callback:
            raise ValueError(f"{action} is a callback; use reply_context")
        settings = self.settings
        return Context.new(
            action=action,
            domain=settings.domain,
            bap_id=settings.subscriber_id,
            bap_uri=settings.subscriber_url,
            bpp_id=bpp_id,
            bpp_uri=bpp_uri,
            transaction_id=transaction_id,
            ttl=ttl or timedelta(seconds=settings.message_ttl_seconds),
            country=settings.country,
            city=settings.city,
            version=settings.core_version,
        )

    def reply_context(
        self, request_context: Context, action: Action | None = None, *, unsolicited: bool = False
    ) -> Context:
        """Our callback (as the BPP) to a request: same transaction and, unless unsolicited, message id."""
        return request_context.callback(
            action,
            unsolicited=unsolicited,
            bpp_id=self.settings.subscriber_id,
            bpp_uri=self.settings.subscriber_url,
        )

    async def send(
        self,
        session: AsyncSession,
        *,
        action: Action,
        context: Context,
        message: BecknModel | Mapping[str, Any],
        target_url: str | None = None,
        counterparty: str | None = None,
    ) -> list[OutboxEntry]:
        """Validate, serialize and enqueue; delivered (signed) by the outbox worker after the commit."""
        if context.action is not action:
            raise InvalidOutboundMessage(f"context.action is {context.action}, sending {action}")
        body = envelope_bytes(action, context, message)
        targets = await self.targets(action, context, target_url=target_url, counterparty=counterparty)
        expires_at = delivery_deadline(context)
        entries = []
        for target in targets:
            entries.append(
                await enqueue(
                    session,
                    action=action.value,
                    body=body,
                    target_url=target.url,
                    counterparty=target.counterparty,
                    transaction_id=context.transaction_id,
                    message_id=context.message_id,
                    bap_id=context.bap_id,
                    bpp_id=context.bpp_id,
                    expires_at=expires_at,
                    wake=self.wake,
                )
            )
        return entries

    async def targets(
        self,
        action: Action,
        context: Context,
        *,
        target_url: str | None = None,
        counterparty: str | None = None,
    ) -> list[Target]:
        """Explicit target; else the peer's URI from the context; a search without a BPP goes to the
        gateway when one is configured, otherwise to every usable BPP of the domain."""
        peer_id = context.bap_id if action.is_callback else context.bpp_id
        if target_url is not None:
            return [Target(target_url, counterparty or peer_id or target_url)]
        peer_uri = context.bap_uri if action.is_callback else context.bpp_uri
        if peer_uri:
            return [Target(action_url(peer_uri, action), counterparty or peer_id or peer_uri)]
        if action is not Action.SEARCH:
            raise NoTarget(f"{action} needs context.bpp_uri or an explicit target_url")
        if self.settings.gateway_url is not None:
            return [Target(action_url(self.settings.gateway_url, action), counterparty or "gateway")]
        bpps = await self.keystore.find(SubscriberType.BPP, context.domain)
        unique = {bpp.subscriber_id: bpp for bpp in bpps if bpp.subscriber_id != self.settings.subscriber_id}
        if not unique:
            log.warning("no BPP is registered for %s; the search goes nowhere", context.domain)
        return [Target(action_url(bpp.url, action), bpp.subscriber_id) for bpp in unique.values()]


def action_url(base_url: str, action: Action) -> str:
    return f"{base_url.rstrip('/')}/{action.value}"


def envelope_bytes(action: Action, context: Context, message: BecknModel | Mapping[str, Any]) -> bytes:
    """The wire bytes of {context, message}, after checking them against our models for `action`."""
    data = {
        "context": context.dump(),
        "message": message.dump() if isinstance(message, BecknModel) else dict(message),
    }
    try:
        envelope = parse_envelope(action, data)
    except ValidationError as exc:
        raise InvalidOutboundMessage(
            f"refusing to send an invalid {action.value} (at {validation_paths(exc)}): {exc}"
        ) from None
    return json.dumps(envelope.dump(), separators=(",", ":"), ensure_ascii=False).encode()


def delivery_deadline(context: Context) -> datetime:
    """Deliver until the message's own expiry (timestamp + ttl), but never less than a few seconds."""
    floor = context.timestamp + MIN_DELIVERY_WINDOW
    expires_at = context.expires_at()
    return floor if expires_at is None else max(expires_at, floor)
