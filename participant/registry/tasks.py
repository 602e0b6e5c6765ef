"""The subscribe challenge, run after `/subscribe` has answered: prove the subscriber holds its keys.

The registry encrypts a random string for the subscriber's X25519 key and POSTs it to
`<url>/on_subscribe`; only the holder of the private key can send it back. Failures are stored on the
subscription (it stays INITIATED) rather than raised, since nobody is waiting for this task.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets

import httpx

from participant.registry.dependencies import RegistryState
from participant.registry.repository import RegistryRepository
from registry_client.errors import RegistryClientError
from registry_client.subscribe import encrypt_challenge

log = logging.getLogger(__name__)

CHALLENGE_TIMEOUT_SECONDS = 10.0


async def challenge_subscriber(
    state: RegistryState, subscriber_id: str, unique_key_id: str, nonce: str | None
) -> None:
    try:
        error = await _ask(state, subscriber_id, unique_key_id)
        async with state.session_factory() as session, session.begin():
            recorded = await RegistryRepository(session).record_challenge(
                subscriber_id, unique_key_id, nonce=nonce, error=error
            )
    except Exception:
        log.exception("subscribe challenge of %s|%s failed inside the registry", subscriber_id, unique_key_id)
        return
    if not recorded:
        log.info("subscription %s|%s changed while it was challenged", subscriber_id, unique_key_id)
    elif error is None:
        log.info("subscription %s|%s is SUBSCRIBED", subscriber_id, unique_key_id)
    else:
        log.warning("subscription %s|%s stays INITIATED: %s", subscriber_id, unique_key_id, error)


async def _ask(state: RegistryState, subscriber_id: str, unique_key_id: str) -> str | None:
    """None when the subscriber answered the challenge, else why not."""
    async with state.session_factory() as session:
        row = await RegistryRepository(session).get(subscriber_id, unique_key_id)
    if row is None or row.encryption_public_key is None:
        return "the subscription or its encryption key is gone"
    url, public_key = row.url, row.encryption_public_key
    plaintext = secrets.token_urlsafe(24)
    try:
        challenge = encrypt_challenge(state.encryption_private_key, public_key, plaintext)
    except RegistryClientError as exc:
        return f"cannot encrypt a challenge for encr_public_key: {exc}"
    endpoint = f"{url.rstrip('/')}/on_subscribe"
    body = json.dumps(
        {"subscriber_id": subscriber_id, "challenge": challenge}, separators=(",", ":")
    ).encode()
    try:
        response = await state.client.post(
            endpoint,
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=CHALLENGE_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        return f"{endpoint} could not be reached: {type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"{endpoint} answered HTTP {response.status_code}: {response.text[:200]}"
    try:
        answer = response.json().get("answer")
    except (ValueError, AttributeError):
        return f"{endpoint} answered without a JSON answer"
    if not isinstance(answer, str) or not hmac.compare_digest(answer.encode(), plaintext.encode()):
        return f"{endpoint} answered the challenge wrongly"
    return None
