"""Registry onboarding: `/subscribe`, and answering the registry's encrypted `/on_subscribe` challenge.

The challenge scheme is the one deployed networks (ONDC) use: the raw X25519 shared secret of the two
encryption keys is the AES-256 key, in ECB mode with PKCS7 padding. ECB is weak, but it is the wire format.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi import APIRouter, HTTPException, Request

from registry_client.errors import BadChallenge, RegistryClientError, SubscribeFailed
from registry_client.keys import Identity, load_encryption_private_key, load_encryption_public_key
from registry_client.subscribers import SubscriberType

_AES_BLOCK_BITS = 128


def _shared_key(private_key_b64: str, public_key_b64: str) -> bytes:
    private_key = load_encryption_private_key(private_key_b64)
    public_key = load_encryption_public_key(public_key_b64)
    try:
        return private_key.exchange(public_key)
    except ValueError as exc:  # a low-order public key gives an all-zero secret
        raise BadChallenge(f"no usable X25519 shared secret: {exc}") from None


def solve_challenge(encryption_private_key_b64: str, registry_public_key_b64: str, challenge_b64: str) -> str:
    """Decrypt the registry's challenge; BadChallenge when it is not ours to decrypt."""
    key = _shared_key(encryption_private_key_b64, registry_public_key_b64)
    try:
        ciphertext = base64.b64decode("".join(challenge_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadChallenge("the challenge is not base64") from None
    if not ciphertext or len(ciphertext) % (_AES_BLOCK_BITS // 8):
        raise BadChallenge(f"the challenge is {len(ciphertext)} bytes, not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(_AES_BLOCK_BITS).unpadder()
    try:
        plaintext = unpadder.update(padded) + unpadder.finalize()
        return plaintext.decode("utf-8")
    except ValueError:
        raise BadChallenge("the challenge does not decrypt with our key and the registry's") from None


def encrypt_challenge(registry_private_key_b64: str, subscriber_public_key_b64: str, plaintext: str) -> str:
    """The registry's side of `solve_challenge`, for degflex's own registry."""
    key = _shared_key(registry_private_key_b64, subscriber_public_key_b64)
    padder = padding.PKCS7(_AES_BLOCK_BITS).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def subscription_payload(
    identity: Identity,
    *,
    type: SubscriberType,
    url: str,
    domain: str,
    city: str | None = None,
    country: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """registry.yaml's Subscription for this identity (public keys only), with `unique_key_id` beside
    `key_id` and `subscriber_url` beside `url` for deployed registries."""
    payload: dict[str, Any] = {
        "subscriber_id": identity.subscriber_id,
        "url": url,
        "subscriber_url": url,
        "type": type.value,
        "domain": domain,
        "key_id": identity.unique_key_id,
        "unique_key_id": identity.unique_key_id,
        "signing_public_key": identity.signing_public_key,
        "encr_public_key": identity.encryption_public_key,
    }
    location: dict[str, Any] = {}
    for name, value in (("city", city), ("country", country)):
        if value is not None:
            payload[name] = value
            location[name] = {"code": value}
    if location:
        payload["location"] = location
    for name, moment in (("valid_from", valid_from), ("valid_until", valid_until)):
        if moment is not None:
            payload[name] = moment.isoformat().replace("+00:00", "Z")
    return payload


async def subscribe(
    client: httpx.AsyncClient,
    registry_url: str,
    subscription: Mapping[str, Any],
    *,
    nonce: str | None = None,
    auth: httpx.Auth | None = None,
    timeout: float = 10,
) -> str:
    """POST `{registry}/subscribe` with the subscription and a nonce; returns the registry's status."""
    endpoint = f"{registry_url.rstrip('/')}/subscribe"
    body = {**subscription, "nonce": nonce or str(uuid.uuid4())}
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        response = await client.post(
            endpoint,
            content=content,
            headers={"Content-Type": "application/json"},
            timeout=timeout,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SubscribeFailed(f"subscribe at {endpoint} failed: {exc!r}") from None
    if not response.is_success:
        raise SubscribeFailed(
            f"subscribe at {endpoint} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        answer = response.json()
    except ValueError:
        raise SubscribeFailed(f"subscribe at {endpoint} answered non-JSON") from None
    status = answer.get("status") if isinstance(answer, dict) else None
    if not isinstance(status, str) or not status:
        raise SubscribeFailed(f"subscribe at {endpoint} answered without a status: {str(answer)[:200]}")
    return status


def on_subscribe_router(
    *, encryption_private_key_b64: str, registry_public_key: Callable[[], Awaitable[str]] | str
) -> APIRouter:
    """`POST /on_subscribe {challenge}` → `{"answer": plaintext}`; a challenge we cannot solve is a 400.

    Keys are checked here, at start-up, so a misconfigured participant fails before the registry calls.
    """
    load_encryption_private_key(encryption_private_key_b64)
    if isinstance(registry_public_key, str):
        load_encryption_public_key(registry_public_key)
    router = APIRouter()

    @router.post("/on_subscribe")
    async def on_subscribe(request: Request) -> dict[str, str]:
        try:
            data = json.loads(await request.body())
        except ValueError:
            raise HTTPException(400, detail="the body is not JSON") from None
        challenge = data.get("challenge") if isinstance(data, dict) else None
        if not isinstance(challenge, str) or not challenge:
            raise HTTPException(400, detail="the body has no challenge string")
        try:
            peer_key = (
                registry_public_key if isinstance(registry_public_key, str) else await registry_public_key()
            )
            load_encryption_public_key(peer_key)
        except RegistryClientError as exc:
            raise HTTPException(503, detail=f"the registry's public key is unavailable: {exc}") from None
        try:
            answer = solve_challenge(encryption_private_key_b64, peer_key, challenge)
        except RegistryClientError as exc:
            raise HTTPException(400, detail=f"cannot solve the challenge: {exc}") from None
        return {"answer": answer}

    return router
