"""The dispatcher's tables: one plan per order, one row per device command, the acks heard, telemetry
in interval buckets, each device's part in each order, and how often each device has been called.

Everything the dispatcher knows is here, so a restarted BPP (or another replica) carries on from these
rows alone. `bpp_device_commands` doubles as the outbox towards NATS: a command is PENDING until
JetStream has stored it under `Nats-Msg-Id` = `command_id`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bpp.fleet.models import KW_TYPE, FlexDirection, string_enum
from bpp.orders.models import SEQUENCE_TYPE, Order
from participant.db import Base, UTCDateTime, utcnow
from schemas.devices import AckStatus, CommandKind

# Sums of many readings: room for a day of one-second samples of a large device.
SUM_TYPE = Numeric(18, 4)


class PlanPhase(StrEnum):
    """The dispatcher's own progress with an order; the order's fulfillment state is what the utility sees."""

    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    DONE = "DONE"


class CommandStatus(StrEnum):
    """A command's life as the BPP knows it: the device's ack statuses plus the BPP's own words.

    PENDING: not yet stored by JetStream. PUBLISHED: stored, nothing heard yet. TIMED_OUT: the device
    stayed silent past the ack timeout. The rest are the device's IEEE 2030.5 statuses; a command the BPP
    replaced or cancelled before publishing it ends SUPERSEDED or CANCELLED with no `published_at`.
    """

    PENDING = "PENDING"
    PUBLISHED = "PUBLISHED"
    RECEIVED = "RECEIVED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    OPTED_OUT = "OPTED_OUT"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        return self not in _OPEN

    @property
    def is_live(self) -> bool:
        """Still expected to deliver its setpoint (or did deliver it)."""
        return self in _LIVE

    @property
    def is_failure(self) -> bool:
        """Lost before delivering: its kW must come from another device."""
        return self in _FAILED


_OPEN = frozenset(
    {CommandStatus.PENDING, CommandStatus.PUBLISHED, CommandStatus.RECEIVED, CommandStatus.STARTED}
)
_LIVE = _OPEN | {CommandStatus.COMPLETED, CommandStatus.PARTIAL}
_FAILED = frozenset(
    {CommandStatus.OPTED_OUT, CommandStatus.REJECTED, CommandStatus.EXPIRED, CommandStatus.TIMED_OUT}
)
LIVE_STATUSES = tuple(sorted(_LIVE))
OPEN_STATUSES = tuple(sorted(_OPEN))


class DispatchPlan(Base):
    """How the dispatcher stands with one confirmed order; claimed by one replica at a time (a lease)."""

    __tablename__ = "bpp_dispatch_plans"
    __table_args__ = (Index("ix_bpp_dispatch_plans_phase_next_check_at", "phase", "next_check_at"),)

    order_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(Order.id, ondelete="CASCADE"), primary_key=True
    )
    grid_node: Mapped[str] = mapped_column(String(128))
    direction: Mapped[FlexDirection] = mapped_column(string_enum(FlexDirection, 16))
    phase: Mapped[PlanPhase] = mapped_column(string_enum(PlanPhase, 16), default=PlanPhase.RUNNING)
    # Bumped by every reschedule; commands carry the version they were planned under.
    version: Mapped[int] = mapped_column(Integer, default=1)
    needs_allocation: Mapped[bool] = mapped_column(Boolean, default=True)
    # The metering interval the event is measured on, fixed when the plan is made.
    interval_s: Mapped[int] = mapped_column(Integer)
    last_task_id: Mapped[int] = mapped_column(SEQUENCE_TYPE, default=0)
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Incremented by whatever should make the dispatcher look again (an ack, a publish, a task).
    pokes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shortfall_kw: Mapped[Decimal] = mapped_column(KW_TYPE, default=Decimal(0))
    performance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    settlement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeviceCommand(Base):
    """One command to one device: its setpoint and window, whether JetStream has it, what the device said."""

    __tablename__ = "bpp_device_commands"
    __table_args__ = (
        Index("ix_bpp_device_commands_status_publish_at", "status", "publish_at"),
        Index("ix_bpp_device_commands_order_id_device_id_id", "order_id", "device_id", "id"),
        Index("ix_bpp_device_commands_device_id_end", "device_id", "end"),
    )

    id: Mapped[int] = mapped_column(SEQUENCE_TYPE, primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(String(36), ForeignKey(Order.id, ondelete="CASCADE"))
    plan_version: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[CommandKind] = mapped_column(string_enum(CommandKind, 16))
    setpoint_type: Mapped[str | None] = mapped_column(String(32))
    setpoint_kw: Mapped[Decimal | None] = mapped_column(KW_TYPE)
    spare: Mapped[bool] = mapped_column(Boolean, default=False)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[CommandStatus] = mapped_column(
        string_enum(CommandStatus, 16), default=CommandStatus.PENDING
    )
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stream_seq: Mapped[int | None] = mapped_column(BigInteger)
    publish_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ack_status: Mapped[AckStatus | None] = mapped_column(string_enum(AckStatus, 16))
    last_ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_kw: Mapped[Decimal | None] = mapped_column(KW_TYPE)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return (
            f"DeviceCommand(command_id={self.command_id!r}, device_id={self.device_id!r}, "
            f"kind={self.kind!s}, setpoint_kw={self.setpoint_kw}, status={self.status!s})"
        )


class CommandAck(Base):
    """Each (command, status) a device said, once: the key that makes ack handling idempotent."""

    __tablename__ = "bpp_command_acks"

    command_id: Mapped[str] = mapped_column(
        String(64), ForeignKey(DeviceCommand.command_id, ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[AckStatus] = mapped_column(string_enum(AckStatus, 16), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stream_seq: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    delivered_kw: Mapped[Decimal | None] = mapped_column(KW_TYPE)


class DeviceReading(Base):
    """A device's telemetry over one metering interval: enough to average it, never every sample."""

    __tablename__ = "bpp_device_readings"
    __table_args__ = (Index("ix_bpp_device_readings_bucket_start", "bucket_start"),)

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer)
    sum_kw: Mapped[Decimal] = mapped_column(SUM_TYPE)
    min_kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    max_kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    # The newest sample counted: a redelivered reading is recognised and not counted twice.
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    soc: Mapped[float | None] = mapped_column(Float)


class OrderDevice(Base):
    """One device's part in one order: its baseline (and how it was made) and what it delivered."""

    __tablename__ = "bpp_order_devices"

    order_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(Order.id, ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    baseline_method: Mapped[str] = mapped_column(String(64))
    baseline_note: Mapped[str] = mapped_column(Text)
    # `bpp.performance.baseline.BaselineResult` as JSON, over every interval of the event.
    baseline: Mapped[dict[str, Any]] = mapped_column(JSON)
    actual_kw: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    delivered_kw: Mapped[Decimal | None] = mapped_column(KW_TYPE)
    delivered_kwh: Mapped[Decimal | None] = mapped_column(KW_TYPE)
    acked: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeviceParticipation(Base):
    """How often and how recently a device was called: what rotation spreads the events by."""

    __tablename__ = "bpp_device_participation"

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opt_outs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)


_PROGRESS = {
    CommandStatus.PENDING: 0,
    CommandStatus.PUBLISHED: 1,
    CommandStatus.RECEIVED: 2,
    CommandStatus.STARTED: 3,
}


def status_after(current: CommandStatus, ack: AckStatus) -> CommandStatus:
    """A command's status once the device said `ack`: only ever forwards, and a final word is final.

    The BPP's own final words (TIMED_OUT, a SUPERSEDED or CANCELLED before publishing) are kept: the
    ack is still recorded, but what the dispatcher already acted on is not undone.
    """
    if current.is_terminal:
        return current
    said = CommandStatus(ack.value)
    if said.is_terminal or _PROGRESS[said] > _PROGRESS[current]:
        return said
    return current
