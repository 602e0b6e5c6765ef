"""BECKN-006 and ONDC published vectors, reproduced byte for byte."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from registry_client.errors import BadSignature
from registry_client.keys import load_signing_key, load_verify_key, signing_private_key_b64
from registry_client.signing import SignatureHeader, body_digest, sign_body, signing_string, verify_signature
from registry_client.subscribe import solve_challenge

# The vector's keyId names a different subscriber than its body's bap_id; the header is what matters.
VECTOR_SUBSCRIBER = "example-bap.com"
VECTOR_KEY_ID = "ae3ea24b-cfec-495e-81f8-044aaef164ac"


@pytest.fixture
def search(vectors: dict[str, Any]) -> dict[str, Any]:
    vector: dict[str, Any] = vectors["beckn006_bap_search"]
    return vector


def test_blake2b_512_of_the_fox(vectors: dict[str, Any]) -> None:
    fox = vectors["blake2b_512_fox"]
    digest = body_digest(fox["input_utf8"].encode())
    assert digest == fox["base64"]
    assert base64.b64decode(digest).hex() == fox["hex"]


def test_digest_and_signing_string_of_the_search_body(search: dict[str, Any]) -> None:
    digest = body_digest(search["body"].encode())
    assert digest == search["digest_base64"]
    assert signing_string(search["created"], search["expires"], digest) == search["signing_string"]


@pytest.mark.parametrize("form", ["libsodium", "seed"])
def test_both_private_key_forms_reproduce_the_authorization_header(search: dict[str, Any], form: str) -> None:
    key = load_signing_key(search["signing_private_key_64byte_seed_plus_pub"])
    private_key = signing_private_key_b64(key, form="seed" if form == "seed" else "libsodium")
    header = sign_body(
        search["body"].encode(),
        signing_key=private_key,
        subscriber_id=VECTOR_SUBSCRIBER,
        unique_key_id=VECTOR_KEY_ID,
        created=search["created"],
        expires=search["expires"],
    )
    assert header == search["authorization"]
    assert SignatureHeader.parse(header).signature == search["signature"]


def test_the_published_header_verifies_inside_its_window(search: dict[str, Any]) -> None:
    parsed = verify_signature(
        search["body"].encode(),
        search["authorization"],
        search["signing_public_key"],
        now=search["created"] + 60,
    )
    assert (parsed.subscriber_id, parsed.unique_key_id) == (VECTOR_SUBSCRIBER, VECTOR_KEY_ID)
    assert parsed.format() == search["authorization"]


def test_the_public_half_of_the_libsodium_key_is_the_published_public_key(search: dict[str, Any]) -> None:
    key = load_signing_key(search["signing_private_key_64byte_seed_plus_pub"])
    assert key.verify_key.encode() == load_verify_key(search["signing_public_key"]).encode()


def test_gateway_forward_signature_is_derived_from_the_same_body(vectors: dict[str, Any]) -> None:
    forward = vectors["beckn006_bg_forward"]
    body = vectors[forward["same_body_and_digest_as"]]["body"].encode()
    header = sign_body(
        body,
        signing_key=forward["signing_private_key_64byte_seed_plus_pub"],
        subscriber_id="example-bg.com",
        unique_key_id="bg-key-1",
        created=forward["created"],
        expires=forward["expires"],
    )
    assert SignatureHeader.parse(header).signature == forward["signature_derived_not_published"]
    verify_signature(body, header, forward["signing_public_key"], now=forward["created"])


def test_the_gateway_signature_does_not_verify_with_the_bap_key(vectors: dict[str, Any]) -> None:
    forward = vectors["beckn006_bg_forward"]
    search = vectors["beckn006_bap_search"]
    header = sign_body(
        search["body"].encode(),
        signing_key=forward["signing_private_key_64byte_seed_plus_pub"],
        subscriber_id="example-bg.com",
        unique_key_id="bg-key-1",
        created=forward["created"],
        expires=forward["expires"],
    )
    with pytest.raises(BadSignature):
        verify_signature(
            search["body"].encode(), header, search["signing_public_key"], now=forward["created"]
        )


def test_ondc_x25519_aes256_ecb_challenge(vectors: dict[str, Any]) -> None:
    ondc = vectors["ondc_x25519_aes256ecb_decrypt"]
    answer = solve_challenge(
        ondc["encryption_private_key_pkcs8_der_b64"],
        ondc["peer_public_key_spki_der_b64"],
        ondc["ciphertext_b64"],
    )
    assert answer == ondc["plaintext"]
