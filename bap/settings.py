"""`degflex bap` settings (`DEGFLEX_BAP_…`): identity and network from the participant, plus the desk's rules.

Operators come inline (`DEGFLEX_BAP_OPERATORS='[{"name": …, "role": …, "token_sha256": …}]'`) or from a
file (`DEGFLEX_BAP_OPERATORS_FILE`); a BAP without any operator could never approve anything, so start-up
refuses it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from participant.errors import ConfigurationError
from participant.operators import OperatorRegistry
from participant.settings import ParticipantSettings


class BapSettings(ParticipantSettings):
    """A utility's BAP: who may operate it, how it buys flexibility, and where grid alerts come from."""

    model_config = SettingsConfigDict(env_prefix="DEGFLEX_BAP_", extra="ignore", env_nested_delimiter="__")

    operators: list[dict[str, Any]] = Field(
        default_factory=list, description="{name, role, token|token_sha256}"
    )
    operators_file: Path | None = None

    auto_activate_critical: bool = Field(
        default=True, description="activate the recommendation of a critical event without waiting"
    )
    target_loading: Decimal = Field(default=Decimal("0.9"), gt=0, le=1, description="of a node's capacity")
    headroom: Decimal = Field(default=Decimal("1.1"), ge=1, description="reliable kW bought per kW needed")
    collection_seconds: float = Field(default=10.0, gt=0, description="how long on_search offers are taken")
    activation_timeout_seconds: float = Field(
        default=15.0, gt=0, description="wait for each on_select / on_init / on_confirm before moving on"
    )
    quote_tolerance: Decimal = Field(
        default=Decimal("0.02"), ge=0, description="a quote this much above the offer counts as changed"
    )
    min_notice_seconds: int = Field(default=0, ge=0, description="sent as flex_need.min_notice when > 0")
    scheduler_poll_seconds: float = Field(default=1.0, gt=0)
    websocket_queue_size: int = Field(default=1000, ge=10, description="a slower console is disconnected")

    nats_url: str | None = Field(default=None, description="subscribe to degflex.grid.alerts when set")
    grid_alert_subject: str = "degflex.grid.alerts"

    billing_name: str = "Utility"
    billing_email: str | None = None
    currency: str = Field(default="INR", pattern=r"^[A-Z]{3}$")

    @field_validator("nats_url")
    @classmethod
    def _nats_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("nats://", "tls://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not a NATS URL (nats://host:4222)")
        return value

    @model_validator(mode="after")
    def _some_operator(self) -> Self:
        if not self.operators and self.operators_file is None:
            raise ValueError(
                "no operators: set operators (a list of {name, role, token_sha256}) or operators_file"
            )
        return self

    def operator_registry(self) -> OperatorRegistry:
        """Every configured operator, inline and from the file; raises ConfigurationError naming the entry."""
        registry = OperatorRegistry.from_entries(self.operators, source="DEGFLEX_BAP_OPERATORS")
        if self.operators_file is None:
            return registry
        from_file = OperatorRegistry.from_file(self.operators_file)
        if len(registry) and len(from_file):
            raise ConfigurationError("set operators inline or in operators_file, not both")
        return from_file if len(from_file) else registry
