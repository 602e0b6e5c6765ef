"""`degflex keys new`, `degflex sign`, `degflex verify`: identity keys and BECKN-006 signatures by hand.

For onboarding (generate keys to register) and for debugging a peer's 401 (sign or verify a body
exactly as it went over the wire: bodies are read from stdin as bytes, never re-encoded).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TypeAlias

from registry_client.errors import KeyFormatError, SignatureError
from registry_client.keys import generate_identity, load_signing_key, load_verify_key
from registry_client.signing import DEFAULT_SKEW, DEFAULT_VALIDITY, sign_body, verify_signature

# A string: argparse._SubParsersAction is generic only to type checkers.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Subparsers) -> None:
    _register_keys(subparsers)
    _register_sign(subparsers)
    _register_verify(subparsers)


def _register_keys(subparsers: Subparsers) -> None:
    keys = subparsers.add_parser(
        "keys",
        help="generate network identity keys",
        description="Generate the ed25519 signing and X25519 encryption keys a participant registers.",
    )
    commands = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND")

    def show_help(args: argparse.Namespace) -> int:
        keys.print_help()
        return 2

    keys.set_defaults(func=show_help)
    new = commands.add_parser(
        "new",
        help="print a new identity as JSON",
        description="Print a new identity as JSON: base64 keys (signing private key in 64-byte libsodium "
        "form, X25519 keys raw 32 bytes) ready for DEGFLEX_*_SIGNING_PRIVATE_KEY and the registry.",
    )
    new.add_argument(
        "--subscriber-id", required=True, help="the participant's subscriber id (usually its FQDN)"
    )
    new.add_argument("--unique-key-id", help="the key's id in the registry (default: a new UUID)")
    new.set_defaults(func=keys_new)


def _register_sign(subparsers: Subparsers) -> None:
    sign = subparsers.add_parser(
        "sign",
        help="sign a body read from stdin; print the Authorization header",
        description="Read a request body from stdin (bytes, exactly as sent) and print its BECKN-006 "
        "Authorization header value.",
    )
    sign.add_argument(
        "--private-key", required=True, help="ed25519 private key, base64 (32-byte seed or 64-byte)"
    )
    sign.add_argument("--subscriber-id", required=True, help="the signer's subscriber id")
    sign.add_argument("--unique-key-id", required=True, help="the signer's unique key id in the registry")
    sign.add_argument("--created", type=int, help="created, Unix seconds (default: now)")
    sign.add_argument("--expires", type=int, help="expires, Unix seconds (default: created + validity)")
    sign.add_argument(
        "--validity",
        type=int,
        default=DEFAULT_VALIDITY,
        help=f"seconds from created to expires when --expires is not given (default {DEFAULT_VALIDITY})",
    )
    sign.set_defaults(func=sign_command)


def _register_verify(subparsers: Subparsers) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="verify an Authorization header for a body read from stdin",
        description="Read a request body from stdin (bytes, exactly as received) and check its BECKN-006 "
        "signature. Prints 'valid' (exit 0) or 'invalid: <reason>: <detail>' (exit 1).",
    )
    verify.add_argument("--public-key", required=True, help="the signer's ed25519 public key, base64")
    verify.add_argument("--authorization", required=True, help="the header value, 'Signature keyId=…'")
    verify.add_argument("--at", type=float, help="judge the validity window at this Unix time (default: now)")
    verify.add_argument(
        "--skew",
        type=float,
        default=DEFAULT_SKEW,
        help=f"seconds 'created' may lie in the future (default {DEFAULT_SKEW})",
    )
    verify.add_argument("--digest", help="the request's Digest header, 'BLAKE-512=…', to check as well")
    verify.set_defaults(func=verify_command)


def keys_new(args: argparse.Namespace) -> int:
    identity = generate_identity(args.subscriber_id, args.unique_key_id)
    print(json.dumps(dataclasses.asdict(identity), indent=2))
    return 0


def sign_command(args: argparse.Namespace) -> int:
    try:
        signing_key = load_signing_key(args.private_key)
    except KeyFormatError as exc:
        return _usage_error("sign", f"invalid --private-key: {exc}")
    body = _read_body()
    try:
        header = sign_body(
            body,
            signing_key=signing_key,
            subscriber_id=args.subscriber_id,
            unique_key_id=args.unique_key_id,
            created=args.created,
            expires=args.expires,
            validity=args.validity,
        )
    except ValueError as exc:
        return _usage_error("sign", str(exc))
    print(header)
    return 0


def verify_command(args: argparse.Namespace) -> int:
    try:
        public_key = load_verify_key(args.public_key)
    except KeyFormatError as exc:
        return _usage_error("verify", f"invalid --public-key: {exc}")
    body = _read_body()
    try:
        verify_signature(
            body, args.authorization, public_key, now=args.at, skew=args.skew, digest_header=args.digest
        )
    except SignatureError as exc:
        print(f"invalid: {exc.reason}: {exc.detail}")
        return 1
    print("valid")
    return 0


def _read_body() -> bytes:
    """stdin as bytes, byte for byte: a trailing newline is part of the body if it was sent."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        raw: bytes = buffer.read()
        return raw
    data: str | bytes = sys.stdin.read()
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _usage_error(command: str, message: str) -> int:
    print(f"degflex {command}: error: {message}", file=sys.stderr)
    return 2
