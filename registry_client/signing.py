"""BECKN-006 message signing: BLAKE2b-512 digest of the raw body, ed25519 over a three-line signing string.

The exact bytes sent are the bytes signed, and the raw bytes received are verified before any parsing;
`BecknAuth` signs in httpx's auth flow so that nothing can change the body after it was signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from registry_client.errors import (
    BadSignature,
    DigestMismatch,
    MalformedSignature,
    SignatureExpired,
    SignatureNotYetValid,
    UnsupportedAlgorithm,
)
from registry_client.keys import load_signing_key, load_verify_key

ALGORITHM = "ed25519"
DIGEST_ALGORITHM = "BLAKE-512"
SIGNED_HEADERS = ("(created)", "(expires)", "digest")
DEFAULT_VALIDITY = 300
DEFAULT_SKEW = 5

# One `name=value` or `name="value"` parameter, then a comma or the end; values may hold commas when quoted.
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([^",\s]*))\s*(?:,|$)')
# Exactly what `SignatureHeader.format` writes (and what most peers send), read in one match. It reads
# the same values as `_PARAM` would, parameter by parameter; anything else goes through `_PARAM`.
_CANONICAL = re.compile(
    r'(?:[Ss][Ii][Gg][Nn][Aa][Tt][Uu][Rr][Ee] )?keyId="([^"]*)",algorithm="([^"]*)",created="([^"]*)",'
    r'expires="([^"]*)",headers="([^"]*)",signature="([^"]*)"'
)
_CANONICAL_NAMES = ("keyid", "algorithm", "created", "expires", "headers", "signature")
_INTEGER = re.compile(r"[0-9]{1,15}")


def body_digest(body: bytes) -> str:
    """Base64 of the BLAKE2b-512 hash of the raw body."""
    return base64.b64encode(hashlib.blake2b(body, digest_size=64).digest()).decode("ascii")


def signing_string(created: int, expires: int, digest_b64: str) -> str:
    return f"(created): {created}\n(expires): {expires}\ndigest: {DIGEST_ALGORITHM}={digest_b64}"


@dataclass(frozen=True)
class SignatureHeader:
    """The `Authorization` (or `X-Gateway-Authorization`) value, parsed."""

    subscriber_id: str
    unique_key_id: str
    algorithm: str
    created: int
    expires: int
    headers: tuple[str, ...]
    signature: str

    def __post_init__(self) -> None:
        if not self.subscriber_id or "|" in self.subscriber_id or '"' in self.subscriber_id:
            raise ValueError(f"subscriber id {self.subscriber_id!r} cannot be put in a keyId")
        if not self.unique_key_id or '"' in self.unique_key_id:
            raise ValueError(f"unique key id {self.unique_key_id!r} cannot be put in a keyId")
        if not self.algorithm or "|" in self.algorithm or '"' in self.algorithm:
            raise ValueError(f"algorithm {self.algorithm!r} cannot be put in a keyId")
        if '"' in "".join(self.headers) or '"' in self.signature:
            raise ValueError("header values cannot contain double quotes")

    @property
    def key_id(self) -> str:
        return f"{self.subscriber_id}|{self.unique_key_id}|{self.algorithm}"

    def format(self) -> str:
        return (
            f'Signature keyId="{self.key_id}",algorithm="{self.algorithm}",'
            f'created="{self.created}",expires="{self.expires}",'
            f'headers="{" ".join(self.headers)}",signature="{self.signature}"'
        )

    @classmethod
    def parse(cls, value: str) -> SignatureHeader:
        """Liberal: any parameter order, spaces after commas, quoted or bare numbers, optional prefix."""
        params = _parse_params(value)
        for required in ("keyid", "created", "expires", "signature"):
            if required not in params:
                raise MalformedSignature(f"the signature header has no {required!r} parameter")
        subscriber_id, unique_key_id, key_algorithm = _split_key_id(params["keyid"])
        algorithm = params.get("algorithm") or key_algorithm
        if not algorithm:
            raise MalformedSignature("neither keyId nor an algorithm parameter names the algorithm")
        if key_algorithm and key_algorithm.lower() != algorithm.lower():
            raise MalformedSignature(
                f"keyId says algorithm {key_algorithm!r} but the algorithm parameter says {algorithm!r}"
            )
        listed = params.get("headers")
        headers = SIGNED_HEADERS if listed is None else tuple(listed.split())
        signature = params["signature"]
        try:
            base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedSignature("the signature parameter is not base64") from None
        try:
            return cls(
                subscriber_id=subscriber_id,
                unique_key_id=unique_key_id,
                algorithm=algorithm,
                created=_timestamp(params["created"], "created"),
                expires=_timestamp(params["expires"], "expires"),
                headers=headers,
                signature=signature,
            )
        except ValueError as exc:
            raise MalformedSignature(str(exc)) from None


def _parse_params(value: str) -> dict[str, str]:
    text = value.strip()
    canonical = _CANONICAL.fullmatch(text)
    if canonical is not None:
        return dict(zip(_CANONICAL_NAMES, canonical.groups(), strict=True))
    return _tokenize_params(text)


def _tokenize_params(text: str) -> dict[str, str]:
    """Any order, any case of names, spaces around `=` and `,`, quoted or bare values."""
    if text[:10].lower() == "signature ":
        text = text[10:]
    params: dict[str, str] = {}
    position = 0
    for match in _PARAM.finditer(text):
        if match.start() != position:
            break
        name, quoted, bare = match.groups()
        if name.lower() in params:
            raise MalformedSignature(f"the signature header repeats {name!r}")
        params[name.lower()] = quoted if quoted is not None else bare
        position = match.end()
    if position != len(text):
        raise MalformedSignature(f"cannot read the signature header at {text[position : position + 30]!r}")
    if not params:
        raise MalformedSignature("the signature header is empty")
    return params


def _split_key_id(key_id: str) -> tuple[str, str, str | None]:
    """`subscriber|ukid|alg`; subscriber ids hold no `|`, so any extra `|` belongs to the key id."""
    parts = key_id.split("|")
    if len(parts) == 2:
        subscriber_id, unique_key_id, algorithm = parts[0], parts[1], None
    else:
        subscriber_id, unique_key_id, algorithm = parts[0], "|".join(parts[1:-1]), parts[-1]
    if len(parts) < 2 or not subscriber_id or not unique_key_id or algorithm == "":
        raise MalformedSignature(f"keyId {key_id!r} is not 'subscriber_id|unique_key_id|algorithm'")
    return subscriber_id, unique_key_id, algorithm


def _timestamp(value: str, name: str) -> int:
    if not _INTEGER.fullmatch(value):
        raise MalformedSignature(f"{name} {value!r} is not a Unix timestamp in whole seconds")
    return int(value)


def sign_body(
    body: bytes,
    *,
    signing_key: SigningKey | str,
    subscriber_id: str,
    unique_key_id: str,
    created: int | None = None,
    expires: int | None = None,
    validity: int = DEFAULT_VALIDITY,
    now: float | None = None,
) -> str:
    """The `Authorization` value for `body`: created defaults to now, expires to created + validity."""
    key = load_signing_key(signing_key) if isinstance(signing_key, str) else signing_key
    if created is None:
        created = int(time.time() if now is None else now)
    if expires is None:
        expires = created + validity
    if expires < created:
        raise ValueError(f"expires {expires} is before created {created}")
    message = signing_string(created, expires, body_digest(body)).encode()
    signature = base64.b64encode(key.sign(message).signature).decode("ascii")
    return SignatureHeader(
        subscriber_id=subscriber_id,
        unique_key_id=unique_key_id,
        algorithm=ALGORITHM,
        created=created,
        expires=expires,
        headers=SIGNED_HEADERS,
        signature=signature,
    ).format()


def check_header(header: SignatureHeader, *, now: float | None = None, skew: float = DEFAULT_SKEW) -> None:
    """Everything that can be judged without the key: algorithm, signed headers, validity window."""
    if header.algorithm.lower() != ALGORITHM:
        raise UnsupportedAlgorithm(f"algorithm {header.algorithm!r}; only ed25519 is accepted")
    missing = [name for name in SIGNED_HEADERS if name not in header.headers]
    if missing:
        raise MalformedSignature(f"headers {' '.join(header.headers)!r} do not cover {' '.join(missing)}")
    if header.expires < header.created:
        raise MalformedSignature(f"expires {header.expires} is before created {header.created}")
    current = time.time() if now is None else now
    if header.created > current + skew:
        raise SignatureNotYetValid(
            f"created {header.created} is {header.created - current:.0f}s in the future (skew {skew}s)"
        )
    if header.expires < current:
        raise SignatureExpired(f"expired at {header.expires}, {current - header.expires:.0f}s ago")


def verify_signature(
    body: bytes,
    header: SignatureHeader | str,
    public_key: VerifyKey | str,
    *,
    now: float | None = None,
    skew: float = DEFAULT_SKEW,
    digest_header: str | None = None,
) -> SignatureHeader:
    """Check `header` against the raw `body` and the signer's public key; returns the parsed header."""
    parsed = SignatureHeader.parse(header) if isinstance(header, str) else header
    check_header(parsed, now=now, skew=skew)
    digest = body_digest(body)
    if digest_header is not None:
        _check_digest_header(digest_header, digest)
    key = load_verify_key(public_key) if isinstance(public_key, str) else public_key
    try:
        signature = base64.b64decode(parsed.signature, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature("the signature parameter is not base64") from None
    message = signing_string(parsed.created, parsed.expires, digest).encode()
    try:
        key.verify(message, signature)
    except (BadSignatureError, ValueError):
        raise BadSignature("signature does not verify for this body and key") from None
    return parsed


def _check_digest_header(value: str, digest: str) -> None:
    """A `Digest` header, when sent, must name this body; only its BLAKE-512 entry is checked."""
    for entry in value.split(","):
        name, _, claimed = entry.strip().partition("=")
        if name.strip().upper() != DIGEST_ALGORITHM:
            continue
        try:
            matches = base64.b64decode(claimed.strip(), validate=True) == base64.b64decode(digest)
        except (binascii.Error, ValueError):
            raise DigestMismatch(f"the Digest header's BLAKE-512 value {claimed!r} is not base64") from None
        if not matches:
            raise DigestMismatch("the Digest header does not match the BLAKE2b-512 hash of the body")


class BecknAuth(httpx.Auth):
    """Signs each request's final body bytes at send time (created = now), as `Authorization` by default."""

    requires_request_body = True

    def __init__(
        self,
        signing_key: SigningKey | str,
        subscriber_id: str,
        unique_key_id: str,
        *,
        validity: int = DEFAULT_VALIDITY,
        header_name: str = "Authorization",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_signing_key(signing_key) if isinstance(signing_key, str) else signing_key
        self._subscriber_id = subscriber_id
        self._unique_key_id = unique_key_id
        self._validity = validity
        self._header_name = header_name
        self._clock = clock
        self._sign(b"")  # ids that cannot go in a keyId fail here, at start-up, not on the first send

    def _sign(self, body: bytes) -> str:
        return sign_body(
            body,
            signing_key=self._key,
            subscriber_id=self._subscriber_id,
            unique_key_id=self._unique_key_id,
            validity=self._validity,
            now=self._clock(),
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        body = request.content
        request.headers[self._header_name] = self._sign(body)
        request.headers["Digest"] = f"{DIGEST_ALGORITHM}={body_digest(body)}"
        yield request
