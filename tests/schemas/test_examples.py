"""Real Beckn 1.1 DEG payloads (shared reference data) are read, and what we would send back is valid.

Only examples whose `context.version` is 1.x are Beckn 1.1: some folders named for DEG flexibility
carry the v2 wire format (`discover`, `beckn:` keys), which this package does not speak yet.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.core_v1 import BecknModel, Envelope, OrderType, format_timestamp, parse_envelope
from tests.support.conformance import assert_conforms, shared_dir

TEMPLATE = re.compile(r"\{\{\s*(\$?\w+)\s*\}\}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
POSTMAN_VARIABLES = {
    "bap_id": "bap.example.com",
    "bap_uri": "https://bap.example.com/beckn",
    "bpp_id": "bpp.example.com",
    "bpp_uri": "https://bpp.example.com/beckn",
}


def example_files() -> list[Path]:
    shared = shared_dir()
    if shared is None:
        return []
    return sorted((shared / "beckn" / "examples").glob("*/*.json"))


def render_postman(text: str) -> str:
    """Fill `{{var}}` the way Postman would: `$timestamp` is Unix seconds, `$randomUUID` a UUID."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "$randomUUID":
            return str(uuid.uuid4())
        if name == "$timestamp":
            return "1767225600"
        return POSTMAN_VARIABLES[name]

    return TEMPLATE.sub(value, text)


def load_example(path: Path) -> dict[str, Any] | None:
    """The example as a body, templates rendered; None when it is not Beckn 1.x."""
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError:
        if "{{" in text:
            pytest.skip(f"{path.name}: a template that is not JSON until rendered")
        raise
    body: dict[str, Any] = json.loads(render_postman(text))
    version = body.get("context", {}).get("version") or body.get("context", {}).get("core_version")
    return body if str(version).startswith("1.") else None


def beckn_1_examples() -> list[Any]:
    examples = [
        pytest.param(path, id=f"{path.parent.name}/{path.name}")
        for path in example_files()
        if '"version": "1.' in path.read_text(encoding="utf-8")
    ]
    return examples or [pytest.param(None, marks=pytest.mark.skip(reason="shared reference data not found"))]


def normalised(node: Any, key: str | None = None) -> Any:
    """Timestamps in one form, so a peer's `+05:30` (or Postman's Unix seconds) equals our UTC `Z`."""
    if isinstance(node, dict):
        return {name: normalised(value, name) for name, value in node.items()}
    if isinstance(node, list):
        return [normalised(value) for value in node]
    if isinstance(node, str) and TIMESTAMP.fullmatch(node):
        return format_timestamp(datetime.fromisoformat(node.replace("Z", "+00:00")))
    if key == "timestamp" and isinstance(node, str) and node.isdigit():
        return format_timestamp(datetime.fromtimestamp(int(node), UTC))
    return node


def without_off_spec_values(body: dict[str, Any]) -> dict[str, Any]:
    """What we send back of a peer's body: order types the spec does not list are left out."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    order = copy.get("message", {}).get("order")
    if isinstance(order, dict) and order.get("type") not in (None, *OrderType):
        del order["type"]
    return copy


def test_the_reference_examples_include_beckn_1_flexibility_flows() -> None:
    if shared_dir() is None:
        pytest.skip(
            "shared reference data not found: set DEGFLEX_SHARED or put shared/ beside the repository"
        )
    assert len(beckn_1_examples()) >= 20


@pytest.mark.parametrize("path", beckn_1_examples())
def test_real_example_is_read_and_written_back_unchanged(path: Path) -> None:
    body = load_example(path)
    assert body is not None
    envelope = parse_envelope(body["context"]["action"], body)
    assert envelope.message is not None

    assert normalised(envelope.dump()) == normalised(without_off_spec_values(body))
    again = parse_envelope(body["context"]["action"], envelope.dump())
    assert again.dump() == envelope.dump()


@pytest.mark.parametrize("path", beckn_1_examples())
def test_what_we_write_back_of_a_real_example_conforms(path: Path) -> None:
    body = load_example(path)
    assert body is not None
    envelope: Envelope[BecknModel] = parse_envelope(body["context"]["action"], body)
    # Real networks use ids like "df-txn-1003"; we echo ids as given, so only those may differ from the spec.
    envelope.context.transaction_id = str(uuid.uuid4())
    envelope.context.message_id = str(uuid.uuid4())
    assert_conforms(envelope.dump())


def test_a_postman_unix_timestamp_is_sent_back_as_rfc_3339() -> None:
    paths = [path for path in example_files() if path.parent.name == "deg-agents-sandbox-dfp-v1.1"]
    if not paths:
        pytest.skip(
            "shared reference data not found: set DEGFLEX_SHARED or put shared/ beside the repository"
        )
    body = load_example(paths[0])
    assert body is not None and body["context"]["timestamp"] == "1767225600"
    envelope = parse_envelope(body["context"]["action"], body)
    assert envelope.dump()["context"]["timestamp"] == "2026-01-01T00:00:00.000Z"
