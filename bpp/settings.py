"""`degflex bpp` settings: the participant's identity and network (`ParticipantSettings`), plus the
aggregator's catalog, operators and order rules. Read from `DEGFLEX_BPP_…` variables, then an optional
YAML/JSON config file (`config_file`, or `--config`), then the defaults; the environment wins over the file.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bpp.offers.models import DEFAULT_HEADROOM
from bpp.orders.service import OrderRules
from participant.errors import ConfigurationError
from participant.settings import ParticipantSettings


class BppSettings(ParticipantSettings):
    model_config = SettingsConfigDict(env_prefix="DEGFLEX_BPP_", extra="ignore", env_nested_delimiter="__")

    config_file: Path | None = Field(default=None, description="YAML or JSON file with any of these settings")
    database_url: str = "sqlite+aiosqlite:///./degflex-bpp.db"
    port: int = Field(default=8200, ge=0, le=65535)

    provider_id: str | None = Field(default=None, description="the aggregator's provider id; subscriber_id")
    provider_name: str = Field(default="degflex aggregator", min_length=1)
    provider_short_desc: str | None = None
    provider_long_desc: str | None = None

    offers_file: Path | None = Field(default=None, description="offer terms loaded at start (YAML)")
    operators_file: Path | None = Field(default=None, description="operator tokens (YAML or JSON)")
    operators: list[dict[str, Any]] = Field(default_factory=list, description="operator tokens, inline")

    callback_on_empty_search: bool = Field(
        default=False, description="answer a search that matches nothing with an empty catalog"
    )
    default_reliability_headroom: Decimal = Field(
        default=DEFAULT_HEADROOM,
        ge=0,
        le=Decimal("0.5"),
        description="for offers-file entries without their own reliability_headroom",
    )
    quote_ttl_seconds: int = Field(default=900, gt=0, description="how long a quote (and a draft) holds")
    update_cutoff_seconds: int | None = Field(
        default=None, ge=0, description="updates close this long before the event; default: its min notice"
    )

    @property
    def provider(self) -> str:
        return self.provider_id or self.subscriber_id

    @property
    def order_rules(self) -> OrderRules:
        cutoff = self.update_cutoff_seconds
        return OrderRules(
            quote_ttl=timedelta(seconds=self.quote_ttl_seconds),
            update_cutoff=timedelta(seconds=cutoff) if cutoff is not None else None,
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            ConfigFileSource(settings_cls),
            file_secret_settings,
        )


class ConfigFileSource(PydanticBaseSettingsSource):
    """The file named by `config_file` (given as an argument or in the environment): below the
    environment, above the defaults."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = self.current_state.get("config_file")
        if path is None:
            return {}
        return read_config_file(Path(path))


def read_config_file(path: Path) -> dict[str, Any]:
    """`{setting: value}` from a YAML or JSON file; ConfigurationError says what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"the config file {path} is not valid YAML/JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"the config file {path} must hold a mapping of settings")
    return {str(key): value for key, value in data.items()}
