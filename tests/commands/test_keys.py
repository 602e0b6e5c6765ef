"""`degflex keys new`, `degflex sign`, `degflex verify`: in-process and as a real process."""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from participant.cli import main
from registry_client.keys import load_encryption_private_key, load_signing_key, signing_private_key_b64
from registry_client.signing import sign_body

VECTOR_SUBSCRIBER = "example-bap.com"
VECTOR_KEY_ID = "ae3ea24b-cfec-495e-81f8-044aaef164ac"
DEGFLEX = Path(sys.executable).with_name("degflex")


def shared_dir() -> Path | None:
    try:
        conformance: Any = importlib.import_module("tests.support.conformance")
    except ModuleNotFoundError:
        conformance = None
    if conformance is not None and hasattr(conformance, "shared_dir"):
        found = conformance.shared_dir()
        return Path(found) if found is not None else None
    configured = os.environ.get("DEGFLEX_SHARED")
    path = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared"
    return path if path.is_dir() else None


@pytest.fixture(scope="module")
def search() -> dict[str, Any]:
    shared = shared_dir()
    path = shared / "beckn" / "spec" / "signing-vectors.json" if shared else None
    if path is None or not path.is_file():
        pytest.skip("signing vectors need the shared reference data (../shared or DEGFLEX_SHARED)")
    vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["beckn006_bap_search"]
    return vector


def run(args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """`degflex ARGS` in this process with `stdin` as a binary buffer; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def sign_args(vector: dict[str, Any], private_key: str | None = None) -> list[str]:
    return [
        "sign",
        "--private-key",
        private_key or vector["signing_private_key_64byte_seed_plus_pub"],
        "--subscriber-id",
        VECTOR_SUBSCRIBER,
        "--unique-key-id",
        VECTOR_KEY_ID,
        "--created",
        str(vector["created"]),
        "--expires",
        str(vector["expires"]),
    ]


def verify_args(vector: dict[str, Any], at: int, *extra: str) -> list[str]:
    return [
        "verify",
        "--public-key",
        vector["signing_public_key"],
        "--authorization",
        vector["authorization"],
        "--at",
        str(at),
        *extra,
    ]


def test_keys_new_prints_a_usable_identity() -> None:
    code, out, _ = run(["keys", "new", "--subscriber-id", "bpp.example.com", "--unique-key-id", "k1"])
    assert code == 0
    identity = json.loads(out)
    assert set(identity) == {
        "subscriber_id",
        "unique_key_id",
        "signing_public_key",
        "signing_private_key",
        "encryption_public_key",
        "encryption_private_key",
    }
    assert (identity["subscriber_id"], identity["unique_key_id"]) == ("bpp.example.com", "k1")
    signing_key = load_signing_key(identity["signing_private_key"])
    assert base64.b64encode(signing_key.verify_key.encode()).decode() == identity["signing_public_key"]
    load_encryption_private_key(identity["encryption_private_key"])


def test_keys_without_a_subcommand_shows_help() -> None:
    code, out, _ = run(["keys"])
    assert code == 2 and "new" in out


@pytest.mark.parametrize("form", ["libsodium", "seed"])
def test_sign_reproduces_the_published_header(search: dict[str, Any], form: str) -> None:
    key = load_signing_key(search["signing_private_key_64byte_seed_plus_pub"])
    private_key = signing_private_key_b64(key, form="seed" if form == "seed" else "libsodium")
    code, out, err = run(sign_args(search, private_key), search["body"].encode())
    assert (code, err) == (0, "")
    assert out == search["authorization"] + "\n"


def test_sign_keeps_every_byte_of_stdin(search: dict[str, Any]) -> None:
    body = search["body"].encode() + b"\n"
    _, out, _ = run(sign_args(search), body)
    expected = sign_body(
        body,
        signing_key=search["signing_private_key_64byte_seed_plus_pub"],
        subscriber_id=VECTOR_SUBSCRIBER,
        unique_key_id=VECTOR_KEY_ID,
        created=search["created"],
        expires=search["expires"],
    )
    assert out.strip() == expected != search["authorization"]


def test_sign_as_a_real_process(search: dict[str, Any]) -> None:
    if not DEGFLEX.exists():
        pytest.skip(f"{DEGFLEX} is not installed (pip install -e .)")
    result = subprocess.run(
        [str(DEGFLEX), *sign_args(search)],
        input=search["body"].encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == search["authorization"].encode() + b"\n"


def test_sign_defaults_to_now_plus_validity(search: dict[str, Any]) -> None:
    args = sign_args(search)[:7] + ["--created", "1700000000", "--validity", "60"]
    _, out, _ = run(args, b"{}")
    assert 'created="1700000000",expires="1700000060"' in out


@pytest.mark.parametrize("offset", ["created", "middle", "expires"])
def test_verify_accepts_inside_the_window(search: dict[str, Any], offset: str) -> None:
    at = {"created": search["created"], "middle": search["created"] + 1800, "expires": search["expires"]}[
        offset
    ]
    assert run(verify_args(search, at), search["body"].encode()) == (0, "valid\n", "")


def test_verify_rejects_an_expired_signature(search: dict[str, Any]) -> None:
    code, out, _ = run(verify_args(search, search["expires"] + 1), search["body"].encode())
    assert code == 1
    assert out.startswith("invalid: expired: ")


def test_verify_rejects_a_signature_not_yet_valid(search: dict[str, Any]) -> None:
    code, out, _ = run(verify_args(search, search["created"] - 6, "--skew", "5"), search["body"].encode())
    assert code == 1
    assert out.startswith("invalid: not yet valid: ")
    assert run(verify_args(search, search["created"] - 5, "--skew", "5"), search["body"].encode())[0] == 0


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_verify_rejects_any_one_byte_change(search: dict[str, Any], data: st.DataObject) -> None:
    body = search["body"].encode()
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="position")
    replacement = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != body[position]))
    tampered = body[:position] + bytes([replacement]) + body[position + 1 :]
    code, out, _ = run(verify_args(search, search["created"]), tampered)
    assert code == 1
    assert out == "invalid: bad signature: signature does not verify for this body and key\n"


def test_verify_rejects_the_wrong_key(search: dict[str, Any]) -> None:
    args = verify_args(search, search["created"])
    args[2] = "7YRZXVeIJ0/Va56vYgzT1Uirg6mnq3FY0MBZY9DJft0="  # the gateway's key from the same document
    code, out, _ = run(args, search["body"].encode())
    assert (code, out.split(":")[:2]) == (1, ["invalid", " bad signature"])


def test_verify_checks_a_digest_header(search: dict[str, Any]) -> None:
    good = f"BLAKE-512={search['digest_base64']}"
    assert run(verify_args(search, search["created"], "--digest", good), search["body"].encode())[0] == 0
    code, out, _ = run(
        verify_args(search, search["created"], "--digest", "BLAKE-512=AAAA"), search["body"].encode()
    )
    assert code == 1 and out.startswith("invalid: digest mismatch: ")


def test_verify_reports_a_malformed_header(search: dict[str, Any]) -> None:
    args = verify_args(search, search["created"])
    args[4] = "Signature nonsense"
    code, out, _ = run(args, search["body"].encode())
    assert code == 1 and out.startswith("invalid: malformed signature header: ")


@pytest.mark.parametrize(
    ("command", "key", "complaint"),
    [
        ("sign", "not base64!", "invalid --private-key"),
        ("sign", base64.b64encode(b"x" * 40).decode(), "40 bytes"),
        ("sign", base64.b64encode(bytes(32) + bytes(32)).decode(), "does not match"),
        ("verify", "AAAA", "invalid --public-key"),
    ],
)
def test_bad_keys_exit_2_with_a_message(
    search: dict[str, Any], command: str, key: str, complaint: str
) -> None:
    args = sign_args(search, key) if command == "sign" else verify_args(search, search["created"])
    if command == "verify":
        args[2] = key
    code, out, err = run(args, search["body"].encode())
    assert code == 2
    assert out == ""
    assert complaint in err and f"degflex {command}: error:" in err
    assert "Traceback" not in err


def test_bad_keys_exit_2_as_a_real_process() -> None:
    if not DEGFLEX.exists():
        pytest.skip(f"{DEGFLEX} is not installed (pip install -e .)")
    result = subprocess.run(
        [str(DEGFLEX), "verify", "--public-key", "nope", "--authorization", "Signature x"],
        input=b"{}",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"invalid --public-key" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["keys", "new"], ["sign"], ["verify"]])
def test_every_command_has_help(command: list[str]) -> None:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "stdin" in out.getvalue() or "identity" in out.getvalue()
