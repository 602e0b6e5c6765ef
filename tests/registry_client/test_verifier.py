"""RequestVerifier: from raw body and headers to a sender the pipeline can trust."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest

from registry_client.errors import (
    BadSignature,
    DigestMismatch,
    KeyNotSubscribed,
    MalformedSignature,
    MissingSignature,
    NotAGateway,
    SignatureExpired,
    SignerMismatch,
    UnknownKey,
)
from registry_client.keys import Identity
from registry_client.lookup import HttpRegistry, KeyStore, StaticRegistry, SubscriberStatus, SubscriberType
from registry_client.signing import body_digest, sign_body
from registry_client.verifier import RequestVerifier, check_signer
from tests.registry_client.conftest import FakeClock, RegistryStandIn
from tests.registry_client.factories import identity, registry_entry, subscriber

BAP = identity("bap.example.com", "bap-key-1")
BPP = identity("bpp.example.com", "bpp-key-1")
GATEWAY = identity("bg.example.com", "bg-key-1")
BODY = b'{"context":{"action":"search","bap_id":"bap.example.com"},"message":{"intent":{}}}'


def sign(
    who: Identity, clock: FakeClock, body: bytes = BODY, *, created_offset: int = 0, validity: int = 300
) -> str:
    created = int(clock.unix()) + created_offset
    return sign_body(
        body,
        signing_key=who.signing_private_key,
        subscriber_id=who.subscriber_id,
        unique_key_id=who.unique_key_id,
        created=created,
        expires=created + validity,
    )


def verifier(clock: FakeClock, registry: StaticRegistry) -> RequestVerifier:
    keys = KeyStore(registry, clock=clock.monotonic, utcnow=clock.utcnow)
    return RequestVerifier(keys, skew=5, clock=clock.unix)


@pytest.fixture
def network() -> StaticRegistry:
    return StaticRegistry(
        [
            subscriber(BAP),
            subscriber(BPP, type=SubscriberType.BPP),
            subscriber(GATEWAY, type=SubscriberType.BG),
        ]
    )


async def test_a_valid_request_names_its_sender(clock: FakeClock, network: StaticRegistry) -> None:
    verified = await verifier(clock, network).verify(
        BODY, sign(BAP, clock), digest_header=f"BLAKE-512={body_digest(BODY)}"
    )
    assert verified.subscriber.subscriber_id == BAP.subscriber_id
    assert verified.header.unique_key_id == BAP.unique_key_id
    assert verified.gateway is None
    check_signer(verified, "bap.example.com")


async def test_protocol_server_timing_is_accepted(clock: FakeClock, network: StaticRegistry) -> None:
    await verifier(clock, network).verify(BODY, sign(BAP, clock, created_offset=-60, validity=3600))


@pytest.mark.parametrize("value", [None, "", "   "])
async def test_no_authorization_is_a_missing_signature(
    clock: FakeClock, network: StaticRegistry, value: str | None
) -> None:
    with pytest.raises(MissingSignature) as caught:
        await verifier(clock, network).verify(BODY, value)
    assert caught.value.reason == "missing signature"


async def test_a_body_changed_after_signing_is_refused(clock: FakeClock, network: StaticRegistry) -> None:
    with pytest.raises(BadSignature):
        await verifier(clock, network).verify(BODY.replace(b"search", b"select"), sign(BAP, clock))


async def test_a_digest_header_for_another_body_is_refused(clock: FakeClock, network: StaticRegistry) -> None:
    with pytest.raises(DigestMismatch):
        await verifier(clock, network).verify(
            BODY, sign(BAP, clock), digest_header="BLAKE-512=" + body_digest(b"x")
        )


async def test_a_key_claimed_by_someone_else_is_refused(clock: FakeClock, network: StaticRegistry) -> None:
    impostor = dataclasses.replace(BPP, subscriber_id=BAP.subscriber_id, unique_key_id=BAP.unique_key_id)
    with pytest.raises(BadSignature):
        await verifier(clock, network).verify(BODY, sign(impostor, clock))


async def test_unknown_and_unsubscribed_keys_are_refused(clock: FakeClock) -> None:
    registry = StaticRegistry([subscriber(BAP, status=SubscriberStatus.UNSUBSCRIBED)])
    check = verifier(clock, registry)
    with pytest.raises(KeyNotSubscribed):
        await check.verify(BODY, sign(BAP, clock))
    with pytest.raises(UnknownKey):
        await check.verify(BODY, sign(BPP, clock))


async def test_a_rotated_key_is_found_despite_a_cached_miss(clock: FakeClock) -> None:
    rotated = identity(BAP.subscriber_id, "bap-key-2")
    registry = StaticRegistry([subscriber(BAP)])
    check = verifier(clock, registry)
    with pytest.raises(UnknownKey):
        await check.verify(BODY, sign(rotated, clock))
    registry.subscribers.append(subscriber(rotated))
    clock.advance(2)  # past the refresh interval, well inside the negative cache
    verified = await check.verify(BODY, sign(rotated, clock))
    assert verified.header.unique_key_id == "bap-key-2"


async def test_a_new_key_under_the_same_key_id_is_fetched_again(clock: FakeClock) -> None:
    """Rotation that keeps the key id: the cached key fails, one refresh finds the new one."""
    new_key = identity("bap.example.com", "bap-key-1")
    registry = StaticRegistry([subscriber(BAP)])
    check = verifier(clock, registry)
    await check.verify(BODY, sign(BAP, clock))  # caches the old key
    registry.subscribers[:] = [subscriber(new_key)]
    clock.advance(2)  # past the refresh interval, well inside the cache's ttl
    verified = await check.verify(BODY, sign(new_key, clock))
    assert verified.subscriber.signing_public_key == new_key.signing_public_key
    with pytest.raises(BadSignature):
        await check.verify(BODY, sign(BAP, clock))


async def test_a_gateway_signature_from_a_gateway_is_accepted(
    clock: FakeClock, network: StaticRegistry
) -> None:
    verified = await verifier(clock, network).verify(BODY, sign(BAP, clock), sign(GATEWAY, clock))
    assert verified.subscriber.subscriber_id == BAP.subscriber_id
    assert verified.gateway is not None and verified.gateway.type is SubscriberType.BG


async def test_a_gateway_signature_from_a_bpp_is_refused(clock: FakeClock, network: StaticRegistry) -> None:
    with pytest.raises(NotAGateway) as caught:
        await verifier(clock, network).verify(BODY, sign(BAP, clock), sign(BPP, clock))
    assert caught.value.reason == "not a gateway"


async def test_a_gateway_signature_over_another_body_is_refused(
    clock: FakeClock, network: StaticRegistry
) -> None:
    with pytest.raises(BadSignature):
        await verifier(clock, network).verify(BODY, sign(BAP, clock), sign(GATEWAY, clock, b"{}"))


async def test_check_signer_refuses_a_message_from_someone_else(
    clock: FakeClock, network: StaticRegistry
) -> None:
    verified = await verifier(clock, network).verify(BODY, sign(BAP, clock))
    with pytest.raises(SignerMismatch) as caught:
        check_signer(verified, "other-bap.example.com")
    assert caught.value.reason == "signer mismatch"


@pytest.mark.parametrize(
    ("header", "error"),
    [("Signature keyId=nonsense", MalformedSignature), ("expired", SignatureExpired)],
)
async def test_junk_is_refused_before_asking_the_registry(
    registry: RegistryStandIn,
    http_client: httpx.AsyncClient,
    clock: FakeClock,
    header: str,
    error: type[Exception],
) -> None:
    registry.state.entries.append(registry_entry(BAP))
    keys = KeyStore(HttpRegistry(registry.url, http_client), clock=clock.monotonic, utcnow=clock.utcnow)
    check = RequestVerifier(keys, clock=clock.unix)
    value = sign(BAP, clock, created_offset=-600) if header == "expired" else header
    with pytest.raises(error):
        await check.verify(BODY, value)
    assert registry.state.requests == []
    await check.verify(BODY, sign(BAP, clock))
    assert len(registry.state.requests) == 1


async def test_a_key_that_expires_while_cached_is_refused(clock: FakeClock) -> None:
    registry = StaticRegistry([subscriber(BAP, valid_until=clock.utcnow() + timedelta(seconds=60))])
    check = verifier(clock, registry)
    await check.verify(BODY, sign(BAP, clock))
    clock.advance(61)
    with pytest.raises(KeyNotSubscribed):
        await check.verify(BODY, sign(BAP, clock))
