"""What can go wrong between degflex and its devices over NATS; nats-py's exceptions never leak past here.

DeviceBusError
├── BusUnavailable      not connected, timed out, no JetStream: retry later (the outbox will)
├── BusPermissionDenied the server refused this user a subject (wrong or missing credentials)
├── BusRejected         JetStream answered with an error (bad stream config, wrong stream, …)
└── CredentialError     a credentials store or key file that cannot be used
"""

from __future__ import annotations


class DeviceBusError(Exception):
    """Base of every error of the device bus, agents and credentials."""


class BusUnavailable(DeviceBusError):
    """The message may not have reached JetStream; sending it again is safe (Nats-Msg-Id dedupes)."""


class BusPermissionDenied(DeviceBusError):
    """Authentication failed, or the server's permissions do not let this user use a subject."""


class BusRejected(DeviceBusError):
    """JetStream refused a request; retrying the same request will not help."""

    def __init__(self, message: str, *, code: int | None = None, err_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.err_code = err_code


class CredentialError(DeviceBusError):
    """A credentials store, seed file or principal that cannot be used; the message says which."""
