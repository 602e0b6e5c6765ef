"""BECKN-006 rules: what a valid signature is, and every way one is refused."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_client.errors import (
    BadSignature,
    DigestMismatch,
    MalformedSignature,
    SignatureExpired,
    SignatureNotYetValid,
    UnsupportedAlgorithm,
)
from registry_client.keys import generate_identity, load_signing_key
from registry_client.signing import (
    SIGNED_HEADERS,
    BecknAuth,
    SignatureHeader,
    body_digest,
    sign_body,
    verify_signature,
)

ME = generate_identity("bap.example.com", "k1")
SOMEONE_ELSE = generate_identity("bpp.example.com", "k9")
NOW = 1_700_000_000
BODY = b'{"context":{"action":"search"},"message":{}}'


def signed(body: bytes = BODY, **kwargs: int) -> str:
    return sign_body(
        body,
        signing_key=ME.signing_private_key,
        subscriber_id=ME.subscriber_id,
        unique_key_id=ME.unique_key_id,
        **kwargs,
    )


def test_sign_body_defaults_to_created_now_and_five_minutes() -> None:
    header = SignatureHeader.parse(signed(now=NOW))
    assert (header.created, header.expires) == (NOW, NOW + 300)
    assert header.key_id == "bap.example.com|k1|ed25519"
    assert header.headers == SIGNED_HEADERS


def test_sign_body_refuses_expires_before_created() -> None:
    with pytest.raises(ValueError, match="before created"):
        signed(created=NOW, expires=NOW - 1)


@given(st.binary(max_size=2048))
def test_signed_bodies_verify(body: bytes) -> None:
    header = signed(body, now=NOW)
    assert verify_signature(body, header, ME.signing_public_key, now=NOW).subscriber_id == ME.subscriber_id


@given(st.binary(min_size=1, max_size=512), st.data())
def test_any_one_byte_change_is_a_bad_signature(body: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="position")
    replacement = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != body[position]))
    tampered = body[:position] + bytes([replacement]) + body[position + 1 :]
    header = signed(body, now=NOW)
    with pytest.raises(BadSignature) as caught:
        verify_signature(tampered, header, ME.signing_public_key, now=NOW)
    assert caught.value.reason == "bad signature"
    assert "does not verify for this body and key" in str(caught.value)


@given(st.binary(max_size=256), st.binary(min_size=1, max_size=8))
def test_appended_bytes_are_a_bad_signature(body: bytes, extra: bytes) -> None:
    with pytest.raises(BadSignature):
        verify_signature(body + extra, signed(body, now=NOW), ME.signing_public_key, now=NOW)


def test_another_participants_key_is_a_bad_signature() -> None:
    with pytest.raises(BadSignature):
        verify_signature(BODY, signed(now=NOW), SOMEONE_ELSE.signing_public_key, now=NOW)


def test_a_signature_of_the_wrong_length_is_a_bad_signature() -> None:
    header = SignatureHeader.parse(signed(now=NOW))
    short = dataclasses.replace(header, signature="AAAA")
    with pytest.raises(BadSignature):
        verify_signature(BODY, short, ME.signing_public_key, now=NOW)


@pytest.mark.parametrize(
    ("created", "expires", "at"),
    [
        (NOW, NOW + 300, NOW),  # beckn-onix: created = now, 5 minutes
        (NOW - 60, NOW - 60 + 3600, NOW),  # protocol-server: created = now - 60 s, 1 hour
        (NOW, NOW + 300, NOW + 300),  # the last second of the window
        (NOW + 5, NOW + 300, NOW),  # within the clock skew
    ],
    ids=["beckn-onix", "protocol-server", "at-expiry", "within-skew"],
)
def test_real_network_windows_are_accepted(created: int, expires: int, at: int) -> None:
    verify_signature(BODY, signed(created=created, expires=expires), ME.signing_public_key, now=at, skew=5)


def test_expired_signatures_are_refused() -> None:
    with pytest.raises(SignatureExpired) as caught:
        verify_signature(BODY, signed(created=NOW, expires=NOW + 300), ME.signing_public_key, now=NOW + 301)
    assert caught.value.reason == "expired"


def test_signatures_from_the_future_are_refused() -> None:
    with pytest.raises(SignatureNotYetValid) as caught:
        verify_signature(
            BODY, signed(created=NOW + 6, expires=NOW + 300), ME.signing_public_key, now=NOW, skew=5
        )
    assert caught.value.reason == "not yet valid"


def test_a_constructed_header_with_a_signature_that_is_not_base64_is_malformed() -> None:
    header = dataclasses.replace(SignatureHeader.parse(signed(now=NOW)), signature="***")
    with pytest.raises(MalformedSignature, match="not base64"):
        verify_signature(BODY, header, ME.signing_public_key, now=NOW)


def test_expires_before_created_is_malformed() -> None:
    header = SignatureHeader.parse(signed(now=NOW))
    backwards = dataclasses.replace(header, created=NOW + 10, expires=NOW)
    with pytest.raises(MalformedSignature, match="before created"):
        verify_signature(BODY, backwards, ME.signing_public_key, now=NOW)


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "hs2019", "ed448"])
def test_only_ed25519_is_accepted(algorithm: str) -> None:
    header = signed(now=NOW).replace("ed25519", algorithm)
    with pytest.raises(UnsupportedAlgorithm) as caught:
        verify_signature(BODY, header, ME.signing_public_key, now=NOW)
    assert caught.value.reason == "unsupported algorithm"


def test_algorithm_names_are_case_insensitive() -> None:
    verify_signature(BODY, signed(now=NOW).replace("ed25519", "Ed25519"), ME.signing_public_key, now=NOW)


def test_signed_headers_must_cover_created_expires_and_digest() -> None:
    header = signed(now=NOW).replace('headers="(created) (expires) digest"', 'headers="(created) digest"')
    with pytest.raises(MalformedSignature, match=r"\(expires\)"):
        verify_signature(BODY, header, ME.signing_public_key, now=NOW)


def test_a_matching_digest_header_is_accepted() -> None:
    digest = f"BLAKE-512={body_digest(BODY)}"
    verify_signature(BODY, signed(now=NOW), ME.signing_public_key, now=NOW, digest_header=digest)
    verify_signature(
        BODY,
        signed(now=NOW),
        ME.signing_public_key,
        now=NOW,
        digest_header=f"SHA-256=abc, blake-512={body_digest(BODY)}",
    )


@pytest.mark.parametrize("digest", [f"BLAKE-512={body_digest(b'other')}", "BLAKE-512=***"])
def test_a_digest_header_for_another_body_is_refused(digest: str) -> None:
    with pytest.raises(DigestMismatch) as caught:
        verify_signature(BODY, signed(now=NOW), ME.signing_public_key, now=NOW, digest_header=digest)
    assert caught.value.reason == "digest mismatch"


async def test_beckn_auth_signs_the_exact_bytes_sent() -> None:
    seen: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message": {"ack": {"status": "ACK"}}})

    auth = BecknAuth(ME.signing_private_key, ME.subscriber_id, ME.unique_key_id, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(peer), auth=auth) as client:
        await client.post("https://bpp.example.com/search", json={"context": {"action": "search"}, "ü": 1})
    request = seen[0]
    header = verify_signature(
        request.content,
        request.headers["Authorization"],
        ME.signing_public_key,
        now=NOW,
        digest_header=request.headers["Digest"],
    )
    assert (header.created, header.expires) == (NOW, NOW + 300)
    assert json.loads(request.content)["ü"] == 1


def test_beckn_auth_can_sign_as_a_gateway() -> None:
    seen: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    gateway = generate_identity("bg.example.com")
    auth = BecknAuth(
        load_signing_key(gateway.signing_private_key),
        gateway.subscriber_id,
        gateway.unique_key_id,
        header_name="X-Gateway-Authorization",
        validity=60,
        clock=lambda: NOW,
    )
    with httpx.Client(transport=httpx.MockTransport(peer), auth=auth) as client:
        client.post(
            "https://bpp.example.com/search", content=BODY, headers={"Authorization": signed(now=NOW)}
        )
    request = seen[0]
    verify_signature(BODY, request.headers["Authorization"], ME.signing_public_key, now=NOW)
    header = verify_signature(
        BODY, request.headers["X-Gateway-Authorization"], gateway.signing_public_key, now=NOW
    )
    assert header.expires == NOW + 60


def test_beckn_auth_refuses_ids_that_cannot_go_in_a_key_id() -> None:
    with pytest.raises(ValueError, match="keyId"):
        BecknAuth(ME.signing_private_key, "bap|example", ME.unique_key_id)
