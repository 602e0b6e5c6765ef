"""Operator tokens: configuration errors, constant-set authentication and role order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from participant.errors import ConfigurationError
from participant.operators import Operator, OperatorRegistry, OperatorRole


def test_roles_are_ordered_and_parsed_by_name() -> None:
    assert OperatorRole.VIEWER < OperatorRole.OPERATOR < OperatorRole.ADMIN
    assert OperatorRole.parse("Admin") is OperatorRole.ADMIN
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        OperatorRole.parse("root")


def test_tokens_and_hashes_authenticate_their_operator() -> None:
    registry = OperatorRegistry.from_entries(
        [
            {"name": "desk", "role": "operator", "token": "x" * 16},
            {
                "name": "audit",
                "role": "viewer",
                "token_sha256": hashlib.sha256(b"y" * 20).hexdigest().upper(),
            },
        ]
    )
    assert len(registry) == 2
    assert registry.authenticate("x" * 16) == Operator("desk", OperatorRole.OPERATOR)
    assert registry.authenticate("y" * 20) == Operator("audit", OperatorRole.VIEWER)
    assert registry.authenticate("x" * 15) is None
    assert registry.authenticate("") is None
    assert OperatorRegistry().authenticate("x" * 16) is None


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([{"name": "a", "role": "admin"}], "entry 0: give exactly one of token or token_sha256"),
        ([{"name": "a", "role": "admin", "token": "short"}], "entry 0: token: token must be at least 16"),
        ([{"name": "a", "role": "king", "token": "x" * 16}], "entry 0: role:"),
        ([{"name": "a", "role": "admin", "token_sha256": "abc"}], "entry 0: token_sha256:"),
        ([{"name": "a", "role": "admin", "token": "x" * 16, "tokn": 1}], "entry 0: tokn: Extra inputs"),
        (
            [
                {"name": "a", "role": "admin", "token": "x" * 16},
                {"name": "a", "role": "viewer", "token": "y" * 16},
            ],
            "operator 'a' is configured twice",
        ),
        (
            [
                {"name": "a", "role": "admin", "token": "x" * 16},
                {"name": "b", "role": "viewer", "token": "x" * 16},
            ],
            "operator 'b' shares a token",
        ),
    ],
)
def test_configuration_errors_name_the_entry(entries: list[dict[str, object]], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words.replace("(", r"\(")):
        OperatorRegistry.from_entries(entries)


def test_operators_load_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "operators.yaml"
    digest = hashlib.sha256(b"a-long-enough-token").hexdigest()
    path.write_text(f"operators:\n  - {{name: desk, role: admin, token_sha256: {digest}}}\n")
    registry = OperatorRegistry.from_file(path)
    assert registry.authenticate("a-long-enough-token") == Operator("desk", OperatorRole.ADMIN)

    path.write_text("operators:\n  - {name: desk, role: admin}\n")
    with pytest.raises(ConfigurationError, match=f"{path}: entry 0"):
        OperatorRegistry.from_file(path)
    path.write_text("operators: 3\n")
    with pytest.raises(ConfigurationError, match="expected a list of operators"):
        OperatorRegistry.from_file(path)
    with pytest.raises(ConfigurationError, match="cannot read operators"):
        OperatorRegistry.from_file(tmp_path / "absent.yaml")
