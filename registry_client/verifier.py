"""Who sent this request: the inbound half of BECKN-006, from raw body and headers to a trusted sender.

Cheap checks (header syntax, algorithm, validity window) run before any registry lookup, so junk
requests never cost a round trip to the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from registry_client.errors import (
    BadSignature,
    KeyFormatError,
    MissingSignature,
    NotAGateway,
    SignerMismatch,
    UnknownKey,
)
from registry_client.lookup import KeyStore
from registry_client.signing import DEFAULT_SKEW, SignatureHeader, check_header, verify_signature
from registry_client.subscribers import Subscriber, SubscriberType


@dataclass(frozen=True)
class VerifiedSender:
    """The registry entry whose key signed the body and, when a gateway forwarded it, the gateway's."""

    subscriber: Subscriber
    header: SignatureHeader
    gateway: Subscriber | None = None


class RequestVerifier:
    """Verifies `Authorization` (and `X-Gateway-Authorization`) against keys from a KeyStore."""

    def __init__(
        self, keystore: KeyStore, *, skew: float = DEFAULT_SKEW, clock: Callable[[], float] = time.time
    ) -> None:
        self.keystore = keystore
        self._skew = skew
        self._clock = clock

    async def verify(
        self,
        body: bytes,
        authorization: str | None,
        gateway_authorization: str | None = None,
        *,
        digest_header: str | None = None,
    ) -> VerifiedSender:
        """Raises a SignatureError subclass for anything short of a valid signature by a usable key."""
        if authorization is None or not authorization.strip():
            raise MissingSignature("the request has no Authorization header")
        now = self._clock()
        header, subscriber = await self._verify_one(body, authorization, now, digest_header)
        gateway: Subscriber | None = None
        if gateway_authorization is not None and gateway_authorization.strip():
            _, gateway = await self._verify_one(body, gateway_authorization, now, digest_header)
            if gateway.type is not SubscriberType.BG:
                raise NotAGateway(
                    f"X-Gateway-Authorization is signed by {gateway.subscriber_id}, a {gateway.type.value}"
                )
        return VerifiedSender(subscriber=subscriber, header=header, gateway=gateway)

    async def _verify_one(
        self, body: bytes, value: str, now: float, digest_header: str | None
    ) -> tuple[SignatureHeader, Subscriber]:
        header = SignatureHeader.parse(value)
        check_header(header, now=now, skew=self._skew)
        try:
            subscriber = await self.keystore.get(header.subscriber_id, header.unique_key_id)
        except UnknownKey:
            # The signer may have rotated to a key we cached as missing moments ago.
            subscriber = await self.keystore.get(header.subscriber_id, header.unique_key_id, refresh=True)
        try:
            self._check(body, header, subscriber, now, digest_header)
        except BadSignature:
            # A peer that rotated its key but kept the key id: ask the registry once more (the key
            # store rate-limits refreshes, so junk signatures cannot turn into a lookup flood).
            fresh = await self.keystore.get(header.subscriber_id, header.unique_key_id, refresh=True)
            if fresh.signing_public_key == subscriber.signing_public_key:
                raise
            self._check(body, header, fresh, now, digest_header)
            subscriber = fresh
        return header, subscriber

    def _check(
        self, body: bytes, header: SignatureHeader, subscriber: Subscriber, now: float, digest: str | None
    ) -> None:
        try:
            key = subscriber.verify_key
        except KeyFormatError as exc:
            raise UnknownKey(f"the registry's key for {header.key_id} is unusable: {exc}") from None
        verify_signature(body, header, key, now=now, skew=self._skew, digest_header=digest)


def check_signer(verified: VerifiedSender, expected_subscriber_id: str) -> None:
    """The signer must be the participant the message says it is from (context.bap_id or bpp_id)."""
    if verified.subscriber.subscriber_id != expected_subscriber_id:
        raise SignerMismatch(
            f"signed by {verified.subscriber.subscriber_id!r}, "
            f"but the message's context names {expected_subscriber_id!r}"
        )
