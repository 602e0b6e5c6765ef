"""What an operator sends to change or cancel a confirmed order."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class OrderChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    kw: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=3)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.start is None and self.end is None and self.kw is None:
            raise ValueError("give a new start, end or kw")
        return self


class OrderCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)
