"""`degflex bpp` settings: the participant's identity and network (`ParticipantSettings`), plus the
aggregator's catalog, operators and order rules. Read from `DEGFLEX_BPP_…` variables, then an optional
YAML/JSON config file (`config_file`, or `--config`), then the defaults; the environment wins over the file.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bpp.devices.connection import BusCredentials
from bpp.dispatch.policy import DispatchPolicy
from bpp.offers.models import DEFAULT_HEADROOM
from bpp.orders.service import OrderRules
from participant.errors import ConfigurationError
from participant.settings import ParticipantSettings
from schemas.devices import InvalidSubject, check_aggregator


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
    quote_ttl_seconds: int = Field(
        default=900,
        gt=0,
        description="how long a quote is good for: a confirm after it gets 40003 "
        "(its kW are held for hold_ttl_seconds)",
    )
    hold_ttl_seconds: int = Field(
        default=600,
        gt=0,
        description=(
            "how long init holds the quoted kW for the buyer's confirm (on_init's quote ttl), at most "
            "quote_ttl_seconds; an expired hold frees its kW"
        ),
    )
    update_cutoff_seconds: int | None = Field(
        default=None, ge=0, description="updates close this long before the event; default: its min notice"
    )

    # -- devices over NATS and dispatch (docs/dispatch.md) ------------------------------------------------
    nats_url: str | None = Field(
        default=None,
        description="NATS server(s) of the devices, comma-separated; none: the BPP does not dispatch",
    )
    nats_aggregator: str | None = Field(
        default=None,
        description="the aggregator's id in NATS subjects and streams; default from subscriber_id",
    )
    nats_nkey_seed: SecretStr | None = Field(
        default=None, description="the BPP's service user nkey seed (SU…)"
    )
    nats_nkey_seed_file: Path | None = Field(default=None, description="a file holding that seed")
    nats_creds_file: Path | None = Field(default=None, description="a NATS .creds file instead")
    nats_user: str | None = Field(default=None, description="a NATS user instead (with nats_password)")
    nats_password: SecretStr | None = None
    dispatch_lead_time: timedelta = Field(
        default=timedelta(minutes=5), description="commands are published this long before an event starts"
    )
    ack_timeout: timedelta = Field(
        default=timedelta(seconds=60), description="a device silent this long is replaced by a spare"
    )
    dispatch_settle_grace: timedelta = Field(
        default=timedelta(minutes=2),
        description=(
            "after an event ends, wait this long (while hearing NATS) for devices' final acks before "
            "measuring and settling; sooner once every commanded device has sent one"
        ),
    )
    report_interval: timedelta = Field(
        default=timedelta(minutes=15), description="progress on_status while an event runs"
    )
    metering_interval: timedelta | None = Field(
        default=None, description="telemetry bucket and measurement interval; default: report_interval"
    )
    opt_out_headroom: Decimal = Field(
        default=Decimal("0.1"), ge=0, le=1, description="allocate committed × (1 + this) when spares exist"
    )
    device_stale_after: timedelta = Field(
        default=timedelta(minutes=15), description="devices not heard from this long are called last"
    )
    telemetry_retention: timedelta = Field(
        default=timedelta(days=46),
        description="telemetry buckets are kept this long (X-of-Y looks back 45 days)",
    )
    dispatch_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often the dispatcher looks for work"
    )
    dispatch_lease_seconds: float = Field(
        default=30.0, gt=0, description="a crashed replica's plans and commands are taken over after this"
    )

    @model_validator(mode="after")
    def _dispatch_settings(self) -> Self:
        self.dispatch_policy  # noqa: B018 - raises ValueError on inconsistent timings
        if self.nats_aggregator is not None:
            try:
                check_aggregator(self.nats_aggregator)
            except InvalidSubject as exc:
                raise ValueError(f"nats_aggregator: {exc}") from None
        return self

    @property
    def provider(self) -> str:
        return self.provider_id or self.subscriber_id

    @property
    def aggregator(self) -> str:
        """The aggregator's NATS id: `nats_aggregator`, else the subscriber id made into one subject token."""
        if self.nats_aggregator is not None:
            return self.nats_aggregator
        token = re.sub(r"[^A-Za-z0-9_-]+", "-", self.subscriber_id).strip("-_")[:64]
        return token or "degflex"

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in (self.nats_url or "").split(",") if url.strip()]

    def bus_credentials(self) -> BusCredentials:
        """The BPP's NATS identity; CredentialError when the settings give more than one."""
        return BusCredentials(
            nkey_seed_file=self.nats_nkey_seed_file,
            nkey_seed=self.nats_nkey_seed.get_secret_value() if self.nats_nkey_seed is not None else None,
            user=self.nats_user,
            password=self.nats_password.get_secret_value() if self.nats_password is not None else None,
            creds_file=self.nats_creds_file,
        )

    @property
    def dispatch_policy(self) -> DispatchPolicy:
        return DispatchPolicy(
            lead_time=self.dispatch_lead_time,
            ack_timeout=self.ack_timeout,
            settle_grace=self.dispatch_settle_grace,
            report_interval=self.report_interval,
            metering_interval=self.metering_interval or self.report_interval,
            opt_out_headroom=self.opt_out_headroom,
            device_stale_after=self.device_stale_after,
            telemetry_retention=self.telemetry_retention,
        )

    @property
    def order_rules(self) -> OrderRules:
        cutoff = self.update_cutoff_seconds
        return OrderRules(
            quote_ttl=timedelta(seconds=self.quote_ttl_seconds),
            hold_ttl=timedelta(seconds=self.hold_ttl_seconds),
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
