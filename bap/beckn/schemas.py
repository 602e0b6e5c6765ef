"""The generic client's request: a partial context (we fill in who we are) and any message body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PartialContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str | None = Field(default=None, max_length=255)
    bpp_id: str | None = Field(default=None, max_length=255)
    bpp_uri: str | None = Field(default=None, max_length=2048)
    transaction_id: str | None = Field(default=None, max_length=255)
    ttl: str | None = Field(default=None, description="ISO 8601, e.g. PT30S")
    country: str | None = None
    city: str | None = None


class BecknRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context: PartialContext = Field(default_factory=PartialContext)
    message: dict[str, Any]
    target_url: str | None = Field(default=None, description="send here instead of the context's bpp_uri")
