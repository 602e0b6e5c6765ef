"""Who may use the operator API (`/api/…`) of a BAP or a BPP, and with which role.

Operators present `Authorization: Bearer <token>`. Tokens are configured as a list of
`{name, role, token}` or `{name, role, token_sha256}` entries (the hash form keeps secrets out of
configuration files); the resulting `OperatorRegistry` is placed on `app.state.operators`, so the
dependencies below work whatever app factory built the app.

Example file (YAML or JSON)::

    operators:
      - {name: grid-desk, role: operator, token_sha256: 5e884898da28047151d0e56f8dc62927…}
      - {name: auditor, role: viewer, token: a-long-random-token-of-16+-chars}
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from participant.errors import ConfigurationError

MIN_TOKEN_LENGTH = 16


class OperatorRole(IntEnum):
    """Ordered so that a check is `role >= required`: VIEWER < OPERATOR < ADMIN."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: object) -> OperatorRole:
        """Accept a role by name in any case (`"admin"`, `"ADMIN"`) or the role itself."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        raise ValueError(f"role must be one of {', '.join(m.name.lower() for m in cls)}, not {value!r}")

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Operator:
    """The authenticated caller of an operator endpoint."""

    name: str
    role: OperatorRole


class OperatorCredential(BaseModel):
    """One configured operator: exactly one of `token` (a secret) or `token_sha256` (its hex digest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    role: OperatorRole
    token: SecretStr | None = None
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> OperatorRole:
        return OperatorRole.parse(value)

    @field_validator("token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"token must be at least {MIN_TOKEN_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> Self:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token or token_sha256")
        return self

    @property
    def digest(self) -> bytes:
        if self.token_sha256 is not None:
            return bytes.fromhex(self.token_sha256)
        assert self.token is not None
        return token_digest(self.token.get_secret_value())


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class OperatorRegistry:
    """The configured operators; authenticates a bearer token in time independent of its value."""

    def __init__(self, credentials: Iterable[OperatorCredential] = ()) -> None:
        self._entries: list[tuple[bytes, Operator]] = []
        names: set[str] = set()
        digests: set[bytes] = set()
        for credential in credentials:
            if credential.name in names:
                raise ConfigurationError(f"operator {credential.name!r} is configured twice")
            if credential.digest in digests:
                raise ConfigurationError(f"operator {credential.name!r} shares a token with another operator")
            names.add(credential.name)
            digests.add(credential.digest)
            self._entries.append((credential.digest, Operator(credential.name, credential.role)))

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]], *, source: str = "operators") -> Self:
        """Build from plain mappings (a settings value, a parsed file); errors name the entry and field."""
        credentials: list[OperatorCredential] = []
        for index, entry in enumerate(entries):
            try:
                credentials.append(OperatorCredential.model_validate(entry))
            except ValidationError as exc:
                problems = "; ".join(_problem(error) for error in exc.errors())
                raise ConfigurationError(f"{source}: entry {index}: {problems}") from None
        return cls(credentials)

    @classmethod
    def from_file(cls, path: Path) -> Self:
        """Read `{operators: [...]}` (or a bare list) from a YAML or JSON file."""
        try:
            text = path.read_text()
            data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"{path}: cannot read operators: {exc}") from None
        if isinstance(data, dict):
            data = data.get("operators")
        if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
            raise ConfigurationError(f"{path}: expected a list of operators under `operators:`")
        return cls.from_entries(data, source=str(path))

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Operator | None:
        """The operator holding `token`, or None; every entry is compared, in constant time."""
        presented = token_digest(token)
        found: Operator | None = None
        for digest, operator in self._entries:
            if hmac.compare_digest(presented, digest):
                found = operator
        return found


def _problem(error: ErrorDetails) -> str:
    field = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


_bearer = HTTPBearer(auto_error=False, description="An operator token configured for this participant.")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def require_operator(min_role: OperatorRole) -> Callable[..., Awaitable[Operator]]:
    """A FastAPI dependency: the caller's Operator when its role is at least `min_role`."""

    async def operator_dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Operator:
        registry = getattr(request.app.state, "operators", None)
        if not isinstance(registry, OperatorRegistry):
            raise HTTPException(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="the operator API is not configured on this participant",
            )
        if credentials is None:
            raise _unauthorized("missing bearer token")
        operator = registry.authenticate(credentials.credentials)
        if operator is None:
            raise _unauthorized("unknown bearer token")
        if operator.role < min_role:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"operator {operator.name!r} is a {operator.role.label}; "
                f"this needs the {min_role.label} role",
            )
        return operator

    return operator_dependency


ViewerDep = Annotated[Operator, Depends(require_operator(OperatorRole.VIEWER))]
OperatorDep = Annotated[Operator, Depends(require_operator(OperatorRole.OPERATOR))]
AdminDep = Annotated[Operator, Depends(require_operator(OperatorRole.ADMIN))]
