"""The registry's rules: what a subscription must hold, who may change one, and the registry's own key.

Functions take the request's session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from participant.db import utcnow
from participant.errors import ParticipantError
from participant.registry.models import RegistryKey, RegistrySubscriber
from participant.registry.repository import RegistryRepository
from registry_client.errors import RegistryClientError, SignatureError
from registry_client.keys import (
    encryption_private_key_b64,
    encryption_public_key_b64,
    load_encryption_public_key,
)
from registry_client.signing import verify_signature
from registry_client.subscribers import Subscriber, SubscriberStatus, parse_subscriber

DEFAULT_VALIDITY = timedelta(days=365)
ENCRYPTION_KEY = "encryption"


class RegistryError(ParticipantError):
    """A request the registry refuses; `http_status` and the message go back to the caller."""

    http_status = 400


class InvalidSubscription(RegistryError):
    http_status = 400


class SubscriptionLocked(RegistryError):
    """A SUBSCRIBED key may only be changed by its owner (a request signed with it) or an operator."""

    http_status = 401


def read_subscription(payload: object, *, default_status: SubscriberStatus) -> Subscriber:
    """A Subscription in any spelling; InvalidSubscription says what is wrong with it."""
    if not isinstance(payload, Mapping):
        raise InvalidSubscription("the body must be a JSON object (a Subscription)")
    try:
        subscriber = parse_subscriber(payload, default_status=default_status)
    except (ValueError, RegistryClientError) as exc:
        raise InvalidSubscription(f"not a usable subscription: {exc}") from None
    if not subscriber.url.startswith(("http://", "https://")):
        raise InvalidSubscription(f"url {subscriber.url!r} is not an http(s) URL")
    if subscriber.encryption_public_key is not None:
        try:
            load_encryption_public_key(subscriber.encryption_public_key)
        except RegistryClientError as exc:
            raise InvalidSubscription(f"encr_public_key: {exc}") from None
    return subscriber


def validity(subscriber: Subscriber) -> tuple[datetime, datetime]:
    """The key's validity window; a year from now when the subscriber gave none."""
    valid_from = subscriber.valid_from or utcnow()
    valid_until = subscriber.valid_until or valid_from + DEFAULT_VALIDITY
    if valid_until <= valid_from:
        raise InvalidSubscription("valid_until must be after valid_from")
    return valid_from, valid_until


async def upsert_subscription(session: AsyncSession, payload: object) -> RegistrySubscriber:
    """Operator's upsert: trusted as given, SUBSCRIBED unless the payload says otherwise."""
    subscriber = read_subscription(payload, default_status=SubscriberStatus.SUBSCRIBED)
    valid_from, valid_until = validity(subscriber)
    return await RegistryRepository(session).upsert(
        subscriber, status=subscriber.status, valid_from=valid_from, valid_until=valid_until
    )


async def request_subscription(
    session: AsyncSession,
    payload: Mapping[str, Any],
    *,
    body: bytes,
    authorization: str | None,
    challenge: bool,
) -> RegistrySubscriber:
    """`/subscribe`: store the subscription INITIATED (to be challenged) or SUBSCRIBED (no challenge).

    Nobody may knock out a live key by re-subscribing it: changing a SUBSCRIBED subscription needs a
    request signed with that subscription's current key.
    """
    subscriber = read_subscription(payload, default_status=SubscriberStatus.INITIATED)
    if challenge and subscriber.encryption_public_key is None:
        raise InvalidSubscription("encr_public_key is needed to answer the registry's challenge")
    nonce = payload.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidSubscription("nonce must be a string")
    repository = RegistryRepository(session)
    existing = await repository.get(subscriber.subscriber_id, subscriber.unique_key_id)
    if existing is not None and existing.status is SubscriberStatus.SUBSCRIBED:
        _check_owner(existing, body, authorization)
    valid_from, valid_until = validity(subscriber)
    status = SubscriberStatus.INITIATED if challenge else SubscriberStatus.SUBSCRIBED
    return await repository.upsert(
        subscriber, status=status, valid_from=valid_from, valid_until=valid_until, nonce=nonce
    )


def _check_owner(existing: RegistrySubscriber, body: bytes, authorization: str | None) -> None:
    if not authorization:
        raise SubscriptionLocked(
            f"{existing.subscriber_id}|{existing.unique_key_id} is SUBSCRIBED; "
            "sign the subscribe request with that key to change it"
        )
    try:
        header = verify_signature(body, authorization, existing.signing_public_key)
    except SignatureError as exc:
        raise SubscriptionLocked(f"the subscribe request's signature does not hold: {exc}") from None
    if (header.subscriber_id, header.unique_key_id) != (existing.subscriber_id, existing.unique_key_id):
        raise SubscriptionLocked("the subscribe request must be signed with the key it changes")


async def change_subscription(
    session: AsyncSession, subscriber_id: str, unique_key_id: str, changes: Mapping[str, Any]
) -> RegistrySubscriber | None:
    return await RegistryRepository(session).update(subscriber_id, unique_key_id, **changes)


async def registry_encryption_key(session: AsyncSession) -> RegistryKey:
    """The registry's X25519 key, generated and stored on first use (so it survives restarts)."""
    repository = RegistryRepository(session)
    stored = await repository.key(ENCRYPTION_KEY)
    if stored is not None:
        return stored
    key = X25519PrivateKey.generate()
    return await repository.add_key_unless_present(
        ENCRYPTION_KEY,
        private_key=encryption_private_key_b64(key),
        public_key=encryption_public_key_b64(key.public_key()),
    )
