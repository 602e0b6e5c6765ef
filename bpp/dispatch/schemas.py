"""The operator's view of an order's dispatch: the plan, every command, each device's figures."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from bpp.dispatch.models import CommandStatus, PlanPhase
from schemas.devices import AckStatus, CommandKind


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
    phase: PlanPhase
    version: int
    interval_s: int
    shortfall_kw: Decimal
    next_check_at: datetime
    next_report_at: datetime | None
    performance: dict[str, Any] | None
    settlement: dict[str, Any] | None


class CommandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    command_id: str
    device_id: str
    kind: CommandKind
    setpoint_kw: Decimal | None
    spare: bool
    plan_version: int
    start: datetime
    end: datetime
    status: CommandStatus
    publish_at: datetime
    published_at: datetime | None
    publish_attempts: int
    last_ack_status: AckStatus | None
    last_ack_at: datetime | None
    delivered_kw: Decimal | None
    reason: str | None


class DeviceFiguresRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str
    baseline_method: str
    baseline_note: str
    actual_kw: list[str | None]
    delivered_kw: Decimal | None
    delivered_kwh: Decimal | None
    acked: bool
    opted_out: bool


class DispatchRead(BaseModel):
    plan: PlanRead | None
    commands: list[CommandRead]
    devices: list[DeviceFiguresRead]
