"""Settings read from the environment (`DEGFLEX_<ROLE>_…`) and optional files, validated at start-up.

Each role has its own prefix so that a BAP and a BPP on one host never read each other's keys.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "test"}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class CommonSettings(BaseSettings):
    """What every degflex process needs: storage, logging, where it listens."""

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./degflex.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.JSON

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("sqlite:"):
            return "sqlite+aiosqlite:" + value.removeprefix("sqlite:")
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
            raise ValueError("database_url must be a sqlite or postgresql URL")
        return value


class ParticipantSettings(CommonSettings):
    """A Beckn network participant's identity, keys and network addresses."""

    subscriber_id: str = Field(min_length=1)
    subscriber_url: str = Field(min_length=1, description="public base URL; actions live at <url>/<action>")
    unique_key_id: str = Field(min_length=1)
    signing_private_key: SecretStr = Field(description="ed25519, base64: 32-byte seed or 64-byte seed+pub")
    encryption_private_key: SecretStr | None = Field(default=None, description="X25519, base64")
    domain: str = "deg:demand-flex"
    extra_domains: list[str] = Field(default_factory=list)
    core_version: str = "1.1.0"
    country: str = "IND"
    city: str = "*"

    registry_url: str | None = None
    registry_file: Path | None = Field(default=None, description="static subscriber list (JSON/YAML)")
    gateway_url: str | None = None

    signature_validity_seconds: int = Field(default=300, gt=0)
    clock_skew_seconds: int = Field(default=5, ge=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    message_ttl_seconds: int = Field(default=30, gt=0)
    key_cache_seconds: int = Field(default=3600, gt=0)
    negative_cache_seconds: int = Field(default=10, ge=0)

    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=50, gt=0)
    outbox_backoff_base_seconds: float = Field(default=0.5, gt=0)
    outbox_backoff_max_seconds: float = Field(default=60.0, gt=0)
    outbox_lease_seconds: float = Field(default=30.0, gt=0)
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("subscriber_url", "registry_url", "gateway_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.registry_url is None and self.registry_file is None:
            raise ValueError("set registry_url or registry_file: peers' keys must come from somewhere")
        if self.environment is Environment.PRODUCTION:
            for name in ("signing_private_key", "encryption_private_key"):
                secret = getattr(self, name)
                if secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name} is a placeholder; generate keys with `degflex keys new`")
        return self

    @property
    def domains(self) -> list[str]:
        return [self.domain, *self.extra_domains]


class RegistrySettings(CommonSettings):
    """`degflex registry`: a small SQL-backed lookup service for networks on one machine."""

    model_config = SettingsConfigDict(env_prefix="DEGFLEX_REGISTRY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./degflex-registry.db"
    port: int = Field(default=8100, ge=0, le=65535)
    admin_token: SecretStr | None = None
    public_url: str | None = None
    challenge_subscribers: bool = True
