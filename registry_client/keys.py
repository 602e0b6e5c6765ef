"""Network identity keys: ed25519 for signing, X25519 for the registry's subscribe challenge.

Real networks pass keys around as base64 in several shapes (64-byte libsodium secret keys, 32-byte
seeds, DER-wrapped X25519 keys); everything here accepts all of them and emits one canonical form.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm as CryptoUnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from nacl.signing import SigningKey, VerifyKey

from registry_client.errors import KeyFormatError

SEED_BYTES = 32
LIBSODIUM_SECRET_BYTES = 64
PUBLIC_KEY_BYTES = 32
X25519_KEY_BYTES = 32

# DER prefix of an ed25519 SubjectPublicKeyInfo; some tools export signing public keys this way.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")

PrivateKeyForm = Literal["libsodium", "seed"]


def decode_b64(value: str, what: str) -> bytes:
    """Strict base64 (standard alphabet, padding optional); KeyFormatError names `what` on failure."""
    text = "".join(value.split())
    if not text:
        raise KeyFormatError(f"{what} is empty")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"{what} is not base64: {exc}") from None


def encode_b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def load_signing_key(b64: str) -> SigningKey:
    """A 32-byte seed, or a 64-byte libsodium secret key whose public half must match its seed."""
    raw = decode_b64(b64, "signing private key")
    if len(raw) == SEED_BYTES:
        return SigningKey(raw)
    if len(raw) == LIBSODIUM_SECRET_BYTES:
        key = SigningKey(raw[:SEED_BYTES])
        if key.verify_key.encode() != raw[SEED_BYTES:]:
            raise KeyFormatError(
                "signing private key: the public half of the 64-byte libsodium key does not match its seed"
            )
        return key
    raise KeyFormatError(
        f"signing private key is {len(raw)} bytes; expected a 32-byte ed25519 seed "
        "or a 64-byte libsodium secret key"
    )


def load_verify_key(b64: str) -> VerifyKey:
    """A raw 32-byte ed25519 public key (a DER SubjectPublicKeyInfo is unwrapped)."""
    raw = decode_b64(b64, "signing public key")
    if len(raw) == len(_ED25519_SPKI_PREFIX) + PUBLIC_KEY_BYTES and raw.startswith(_ED25519_SPKI_PREFIX):
        raw = raw[len(_ED25519_SPKI_PREFIX) :]
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyFormatError(f"signing public key is {len(raw)} bytes; expected 32 (ed25519)")
    return VerifyKey(raw)


def signing_private_key_b64(key: SigningKey, *, form: PrivateKeyForm = "libsodium") -> str:
    """Base64 of the 64-byte libsodium secret key (seed + public), or of the bare 32-byte seed."""
    seed = key.encode()
    if form == "seed":
        return encode_b64(seed)
    return encode_b64(seed + key.verify_key.encode())


def signing_public_key_b64(key: SigningKey | VerifyKey) -> str:
    verify_key = key.verify_key if isinstance(key, SigningKey) else key
    return encode_b64(verify_key.encode())


def load_encryption_private_key(b64: str) -> X25519PrivateKey:
    """A raw 32-byte X25519 private key or a PKCS#8 DER one (ONDC's habit)."""
    raw = decode_b64(b64, "encryption private key")
    if len(raw) == X25519_KEY_BYTES:
        return X25519PrivateKey.from_private_bytes(raw)
    try:
        key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, CryptoUnsupportedAlgorithm) as exc:
        raise KeyFormatError(
            f"encryption private key is neither 32 raw bytes nor PKCS#8 DER: {exc}"
        ) from None
    if not isinstance(key, X25519PrivateKey):
        raise KeyFormatError(f"encryption private key is a {type(key).__name__}, not X25519")
    return key


def load_encryption_public_key(b64: str) -> X25519PublicKey:
    """A raw 32-byte X25519 public key or a SubjectPublicKeyInfo DER one."""
    raw = decode_b64(b64, "encryption public key")
    if len(raw) == X25519_KEY_BYTES:
        return X25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError, CryptoUnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"encryption public key is neither 32 raw bytes nor DER: {exc}") from None
    if not isinstance(key, X25519PublicKey):
        raise KeyFormatError(f"encryption public key is a {type(key).__name__}, not X25519")
    return key


def encryption_private_key_b64(key: X25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return encode_b64(raw)


def encryption_public_key_b64(key: X25519PublicKey) -> str:
    return encode_b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


@dataclass(frozen=True)
class Identity:
    """Everything a participant needs to sign and to subscribe, as base64 strings ready for settings."""

    subscriber_id: str
    unique_key_id: str
    signing_public_key: str
    signing_private_key: str
    encryption_public_key: str
    encryption_private_key: str


def generate_identity(subscriber_id: str, unique_key_id: str | None = None) -> Identity:
    """Fresh keys; the signing key in libsodium form and X25519 keys raw, as most networks expect."""
    signing_key = SigningKey.generate()
    encryption_key = X25519PrivateKey.generate()
    return Identity(
        subscriber_id=subscriber_id,
        unique_key_id=unique_key_id or str(uuid.uuid4()),
        signing_public_key=signing_public_key_b64(signing_key),
        signing_private_key=signing_private_key_b64(signing_key),
        encryption_public_key=encryption_public_key_b64(encryption_key.public_key()),
        encryption_private_key=encryption_private_key_b64(encryption_key),
    )
