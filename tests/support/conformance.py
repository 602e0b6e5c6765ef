"""Conformance with the official Beckn core 1.1.1 spec (`transaction.yaml` in the shared reference data).

Every test that builds a message checks it here, against the spec itself rather than our own models.
Formats are checked too: jsonschema leaves `date-time` and `uri` unchecked unless optional packages
are installed, so this module brings its own strict RFC 3339 and URI checks.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    FormatChecker,
)
from jsonschema.protocols import Validator  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:beckn:core:1.1.1:transaction"
SPEC_PATH = Path("beckn", "spec", "core-1.1.1", "transaction.yaml")

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")

FORMAT_CHECKER = FormatChecker(["uuid", "email", "date"])


def _is_rfc3339(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if _RFC3339.fullmatch(instance) is None:
        return False
    datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    return True


def _is_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if any(char.isspace() for char in instance):
        return False
    parts = urlsplit(instance)
    return bool(_URI_SCHEME.fullmatch(parts.scheme)) and bool(parts.netloc or parts.path)


FORMAT_CHECKER.checks("date-time", raises=ValueError)(_is_rfc3339)
FORMAT_CHECKER.checks("uri")(_is_uri)


def shared_dir() -> Path | None:
    """The shared reference data: `$DEGFLEX_SHARED`, or the `shared` folder beside the repository."""
    configured = os.environ.get("DEGFLEX_SHARED")
    path = Path(configured) if configured else Path(__file__).parents[3] / "shared"
    return path if path.is_dir() else None


def spec_file() -> Path:
    """`transaction.yaml`, or a skipped test when the reference data is not on this machine."""
    shared = shared_dir()
    if shared is None or not (shared / SPEC_PATH).is_file():
        pytest.skip("Beckn spec not found: set DEGFLEX_SHARED or put shared/ beside the repository")
    return shared / SPEC_PATH


@cache
def _registry(path: Path) -> Registry[Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    resource: Resource[Any] = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@cache
def _validator(path: Path, pointer: str) -> Validator:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{SPEC_URI}#{pointer}"}
    return Draft202012Validator(schema, registry=_registry(path), format_checker=FORMAT_CHECKER)


def spec_actions() -> frozenset[str]:
    """Every action the spec defines an endpoint for."""
    document: dict[str, Any] = _registry(spec_file()).contents(SPEC_URI)
    return frozenset(path.lstrip("/") for path in document["paths"])


def spec_validator(action: str) -> Validator:
    """The request body schema of `POST /<action>`, `#/components/...` refs resolved in the spec."""
    return _validator(spec_file(), f"/paths/~1{action}/post/requestBody/content/application~1json/schema")


def ack_validator() -> Validator:
    """The schema of the synchronous ACK / NACK reply (every endpoint shares `/init`'s)."""
    return _validator(spec_file(), "/paths/~1init/post/responses/default/content/application~1json/schema")


def _errors(validator: Validator, body: dict[str, Any]) -> list[str]:
    found = sorted(validator.iter_errors(body), key=lambda error: list(map(str, error.absolute_path)))
    return [f"{error.json_path}: {error.message}" for error in found]


def assert_conforms(body: dict[str, Any], action: str | None = None) -> None:
    """Fail with every error path when `body` is not a valid request/callback for `action`
    (default: `context.action`)."""
    name = action or body.get("context", {}).get("action")
    assert isinstance(name, str), "no action given and none in context.action"
    errors = _errors(spec_validator(name), body)
    assert not errors, f"{name} body violates transaction.yaml:\n" + "\n".join(errors)


def assert_ack_conforms(body: dict[str, Any]) -> None:
    """Fail with every error path when `body` is not a valid ACK / NACK reply."""
    errors = _errors(ack_validator(), body)
    assert not errors, "reply violates transaction.yaml:\n" + "\n".join(errors)
