"""Registry onboarding: the challenge cipher, `/subscribe`, and the `/on_subscribe` endpoint."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from registry_client.errors import BadChallenge, KeyFormatError, LookupFailed, SubscribeFailed
from registry_client.lookup import SubscriberType
from registry_client.subscribe import (
    encrypt_challenge,
    on_subscribe_router,
    solve_challenge,
    subscribe,
    subscription_payload,
)
from tests.registry_client.conftest import RegistryStandIn
from tests.registry_client.factories import DOMAIN, identity
from tests.support.servers import free_port

PARTICIPANT = identity("bpp.example.com", "bpp-key-1")
REGISTRY = identity("registry.example.com", "reg-key-1")
STRANGER = identity("stranger.example.com")


@given(st.text(max_size=300))
def test_a_challenge_encrypted_for_us_decrypts(plaintext: str) -> None:
    challenge = encrypt_challenge(
        REGISTRY.encryption_private_key, PARTICIPANT.encryption_public_key, plaintext
    )
    assert (
        solve_challenge(PARTICIPANT.encryption_private_key, REGISTRY.encryption_public_key, challenge)
        == plaintext
    )


def test_a_challenge_encrypted_for_someone_else_is_bad(vectors: dict[str, Any]) -> None:
    ondc = vectors["ondc_x25519_aes256ecb_decrypt"]
    with pytest.raises(BadChallenge, match="does not decrypt"):
        solve_challenge(
            STRANGER.encryption_private_key, ondc["peer_public_key_spki_der_b64"], ondc["ciphertext_b64"]
        )


@pytest.mark.parametrize(
    ("challenge", "complaint"),
    [("***", "not base64"), (base64.b64encode(b"x" * 15).decode(), "15 bytes"), ("", "0 bytes")],
)
def test_challenges_that_are_not_ciphertext_are_bad(challenge: str, complaint: str) -> None:
    with pytest.raises(BadChallenge, match=complaint):
        solve_challenge(PARTICIPANT.encryption_private_key, REGISTRY.encryption_public_key, challenge)


def test_a_low_order_registry_key_is_a_bad_challenge() -> None:
    zero_point = base64.b64encode(bytes(32)).decode()
    with pytest.raises(BadChallenge, match="shared secret"):
        solve_challenge(PARTICIPANT.encryption_private_key, zero_point, "AAAAAAAAAAAAAAAAAAAAAA==")


def router_app(registry_public_key: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(
        on_subscribe_router(
            encryption_private_key_b64=PARTICIPANT.encryption_private_key,
            registry_public_key=registry_public_key,
        )
    )
    return app


async def post(app: FastAPI, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://participant"
    ) as client:
        return await client.post("/on_subscribe", **kwargs)


async def test_on_subscribe_answers_the_ondc_vector(vectors: dict[str, Any]) -> None:
    ondc = vectors["ondc_x25519_aes256ecb_decrypt"]
    app = FastAPI()
    app.include_router(
        on_subscribe_router(
            encryption_private_key_b64=ondc["encryption_private_key_pkcs8_der_b64"],
            registry_public_key=ondc["peer_public_key_spki_der_b64"],
        )
    )
    response = await post(app, json={"subscriber_id": "bpp.example.com", "challenge": ondc["ciphertext_b64"]})
    assert response.status_code == 200
    assert response.json() == {"answer": ondc["plaintext"]}


async def test_on_subscribe_can_fetch_the_registry_key_when_asked() -> None:
    async def registry_key() -> str:
        return REGISTRY.encryption_public_key

    challenge = encrypt_challenge(
        REGISTRY.encryption_private_key, PARTICIPANT.encryption_public_key, "nonce-42"
    )
    response = await post(router_app(registry_key), json={"challenge": challenge})
    assert response.json() == {"answer": "nonce-42"}


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {
            "json": {
                "challenge": encrypt_challenge(
                    STRANGER.encryption_private_key, PARTICIPANT.encryption_public_key, "x"
                )
            }
        },
        {"json": {"challenge": "***"}},
        {"json": {"challenge": 42}},
        {"json": {"subscriber_id": "bpp.example.com"}},
        {"json": ["challenge"]},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
    ],
    ids=["wrong-key", "not-base64", "not-a-string", "no-challenge", "not-an-object", "not-json", "not-utf8"],
)
async def test_a_bad_challenge_is_a_400_with_a_message(request_kwargs: dict[str, Any]) -> None:
    response = await post(router_app(REGISTRY.encryption_public_key), **request_kwargs)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]


async def test_an_unavailable_registry_key_is_a_503() -> None:
    async def registry_key() -> str:
        raise LookupFailed("registry down")

    challenge = encrypt_challenge(REGISTRY.encryption_private_key, PARTICIPANT.encryption_public_key, "x")
    response = await post(router_app(registry_key), json={"challenge": challenge})
    assert response.status_code == 503
    assert "registry down" in response.json()["detail"]


def test_the_router_refuses_bad_keys_at_start_up() -> None:
    with pytest.raises(KeyFormatError):
        on_subscribe_router(
            encryption_private_key_b64="short", registry_public_key=REGISTRY.encryption_public_key
        )
    with pytest.raises(KeyFormatError):
        on_subscribe_router(
            encryption_private_key_b64=PARTICIPANT.encryption_private_key, registry_public_key="AAAA"
        )


async def test_subscribe_posts_the_subscription_and_a_nonce(
    registry: RegistryStandIn, http_client: httpx.AsyncClient
) -> None:
    payload = subscription_payload(
        PARTICIPANT,
        type=SubscriberType.BPP,
        url="https://bpp.example.com/beckn",
        domain=DOMAIN,
        country="IND",
    )
    status = await subscribe(http_client, registry.url, payload, nonce="7f3c1f0e-0000-4000-8000-000000000001")
    assert status == "UNDER_SUBSCRIPTION"
    [sent] = registry.state.subscribe_requests
    assert sent["nonce"] == "7f3c1f0e-0000-4000-8000-000000000001"
    assert sent["subscriber_id"] == "bpp.example.com"
    assert sent["type"] == "BPP"
    assert sent["key_id"] == sent["unique_key_id"] == "bpp-key-1"
    assert sent["signing_public_key"] == PARTICIPANT.signing_public_key
    assert sent["encr_public_key"] == PARTICIPANT.encryption_public_key
    assert sent["location"] == {"country": {"code": "IND"}}
    assert "signing_private_key" not in sent and "encryption_private_key" not in sent


async def test_subscribe_makes_up_a_nonce(registry: RegistryStandIn, http_client: httpx.AsyncClient) -> None:
    await subscribe(http_client, registry.url, {"subscriber_id": "x"})
    await subscribe(http_client, registry.url, {"subscriber_id": "x"})
    first, second = registry.state.subscribe_requests
    assert first["nonce"] and first["nonce"] != second["nonce"]


@pytest.mark.parametrize("failure", ["status", "no-status"])
async def test_subscribe_failures(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, failure: str
) -> None:
    if failure == "status":
        registry.state.fail_with_status = 409
    else:
        registry.state.answer_garbage = True
    with pytest.raises(SubscribeFailed, match="409" if failure == "status" else "without a status"):
        await subscribe(http_client, registry.url, {"subscriber_id": "x"})


async def test_subscribe_to_nothing_listening_fails(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(SubscribeFailed):
        await subscribe(http_client, f"http://127.0.0.1:{free_port()}", {"subscriber_id": "x"}, timeout=2)
