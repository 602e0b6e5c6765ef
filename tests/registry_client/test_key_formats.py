"""Key strings in every form real networks use, and the forms degflex emits."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from nacl.signing import SigningKey

from registry_client.errors import KeyFormatError
from registry_client.keys import (
    generate_identity,
    load_encryption_private_key,
    load_encryption_public_key,
    load_signing_key,
    load_verify_key,
    signing_private_key_b64,
)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_seed_and_libsodium_forms_load_the_same_key() -> None:
    key = SigningKey.generate()
    seed = signing_private_key_b64(key, form="seed")
    libsodium = signing_private_key_b64(key, form="libsodium")
    assert len(base64.b64decode(seed)) == 32
    assert len(base64.b64decode(libsodium)) == 64
    assert load_signing_key(seed).encode() == load_signing_key(libsodium).encode() == key.encode()


def test_a_libsodium_key_whose_public_half_does_not_match_is_refused() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    mixed = b64(key.encode() + other.verify_key.encode())
    with pytest.raises(KeyFormatError, match="does not match"):
        load_signing_key(mixed)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "empty"),
        ("not base64!", "not base64"),
        (b64(b"x" * 31), "31 bytes"),
        (b64(b"x" * 48), "48 bytes"),
    ],
)
def test_signing_keys_of_the_wrong_shape_are_refused(value: str, complaint: str) -> None:
    with pytest.raises(KeyFormatError, match=complaint):
        load_signing_key(value)


def test_unpadded_and_wrapped_base64_is_accepted() -> None:
    key = SigningKey.generate()
    text = signing_private_key_b64(key, form="seed").rstrip("=")
    assert load_signing_key(text[:20] + "\n" + text[20:]).encode() == key.encode()


def test_verify_keys_load_raw_or_from_der() -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_verify_key(b64(raw)).encode() == load_verify_key(b64(der)).encode() == raw
    with pytest.raises(KeyFormatError, match="expected 32"):
        load_verify_key(b64(raw + b"\0"))


def test_encryption_keys_load_raw_or_der_and_agree() -> None:
    mine, theirs = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    raw_private = mine.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    der_private = mine.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = theirs.public_key()
    raw_public = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    der_public = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secrets = {
        load_encryption_private_key(b64(private)).exchange(load_encryption_public_key(b64(peer)))
        for private in (raw_private, der_private)
        for peer in (raw_public, der_public)
    }
    assert secrets == {mine.exchange(public)}


def test_der_keys_of_another_kind_are_refused() -> None:
    ed25519 = Ed25519PrivateKey.generate()
    der_private = ed25519.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der_public = ed25519.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError, match="not X25519"):
        load_encryption_private_key(b64(der_private))
    with pytest.raises(KeyFormatError, match="not X25519"):
        load_encryption_public_key(b64(der_public))
    with pytest.raises(KeyFormatError, match="neither"):
        load_encryption_public_key(b64(b"\x30" * 40))


def test_generate_identity_emits_matching_pairs_in_canonical_forms() -> None:
    identity = generate_identity("bpp.example.com")
    assert identity.subscriber_id == "bpp.example.com"
    assert uuid.UUID(identity.unique_key_id).version == 4
    signing_private = base64.b64decode(identity.signing_private_key)
    assert len(signing_private) == 64
    assert load_signing_key(identity.signing_private_key).verify_key.encode() == base64.b64decode(
        identity.signing_public_key
    )
    assert len(base64.b64decode(identity.encryption_public_key)) == 32
    assert len(base64.b64decode(identity.encryption_private_key)) == 32
    derived = load_encryption_private_key(identity.encryption_private_key).public_key()
    assert derived.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == base64.b64decode(identity.encryption_public_key)


def test_generate_identity_keeps_a_given_key_id_and_never_repeats_keys() -> None:
    first, second = generate_identity("a", "key-1"), generate_identity("a", "key-1")
    assert first.unique_key_id == second.unique_key_id == "key-1"
    assert first.signing_private_key != second.signing_private_key
    assert first.encryption_private_key != second.encryption_private_key
