"""The exceptions `registry_client` raises; foreign ones (httpx, nacl, cryptography) never leave the package.

`SignatureError`s carry a short `reason` for people and for NACK messages, and a `detail` that says
exactly what was wrong, so a 401 can be explained without leaking a stack trace.
"""

from __future__ import annotations


class RegistryClientError(Exception):
    """Base of every error raised by `registry_client`."""


class SignatureError(RegistryClientError):
    """A request's signature cannot be trusted; answered with HTTP 401 and a NACK."""

    reason = "invalid signature"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class MissingSignature(SignatureError):
    reason = "missing signature"


class MalformedSignature(SignatureError):
    reason = "malformed signature header"


class UnsupportedAlgorithm(SignatureError):
    reason = "unsupported algorithm"


class SignatureExpired(SignatureError):
    reason = "expired"


class SignatureNotYetValid(SignatureError):
    reason = "not yet valid"


class DigestMismatch(SignatureError):
    reason = "digest mismatch"


class BadSignature(SignatureError):
    reason = "bad signature"


class UnknownKey(SignatureError):
    reason = "unknown key"


class KeyNotSubscribed(SignatureError):
    reason = "key not subscribed"


class SignerMismatch(SignatureError):
    reason = "signer mismatch"


class NotAGateway(SignatureError):
    reason = "not a gateway"


class LookupFailed(RegistryClientError):
    """The registry (or subscriber file) could not be asked; says nothing about whether a key exists."""


class SubscribeFailed(RegistryClientError):
    """Onboarding with a registry did not complete."""


class BadChallenge(SubscribeFailed):
    """A registry's `/on_subscribe` challenge cannot be decrypted with our key and the registry's."""


class KeyFormatError(RegistryClientError):
    """A key string is not a key of the expected kind and size."""
