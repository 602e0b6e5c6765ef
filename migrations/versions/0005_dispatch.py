"""Aggregator BPP dispatch: plans, device commands (the outbox towards NATS), acks, telemetry buckets,
each device's part in an order, and device participation for rotation.

Revision ID: 0005_dispatch
Revises: 0004_bap
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_dispatch"
down_revision: str | Sequence[str] | None = "0004_bap"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bpp_device_participation",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("last_called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opt_outs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_bpp_device_participation")),
    )
    op.create_table(
        "bpp_device_readings",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("sum_kw", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("min_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("max_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("soc", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "bucket_start", name=op.f("pk_bpp_device_readings")),
    )
    op.create_index("ix_bpp_device_readings_bucket_start", "bpp_device_readings", ["bucket_start"])

    op.create_table(
        "bpp_device_commands",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("setpoint_type", sa.String(length=32), nullable=True),
        sa.Column("setpoint_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("spare", sa.Boolean(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stream_seq", sa.BigInteger(), nullable=True),
        sa.Column("publish_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ack_status", sa.String(length=16), nullable=True),
        sa.Column("last_ack_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["bpp_orders.id"],
            name=op.f("fk_bpp_device_commands_order_id_bpp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bpp_device_commands")),
        sa.UniqueConstraint("command_id", name=op.f("uq_bpp_device_commands_command_id")),
    )
    op.create_index("ix_bpp_device_commands_device_id_end", "bpp_device_commands", ["device_id", "end"])
    op.create_index(
        "ix_bpp_device_commands_order_id_device_id_id", "bpp_device_commands", ["order_id", "device_id", "id"]
    )
    op.create_index(
        "ix_bpp_device_commands_status_publish_at", "bpp_device_commands", ["status", "publish_at"]
    )

    op.create_table(
        "bpp_dispatch_plans",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("needs_allocation", sa.Boolean(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("last_task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_report_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pokes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shortfall_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("performance", sa.JSON(), nullable=True),
        sa.Column("settlement", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["bpp_orders.id"],
            name=op.f("fk_bpp_dispatch_plans_order_id_bpp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_bpp_dispatch_plans")),
    )
    op.create_index(
        "ix_bpp_dispatch_plans_phase_next_check_at", "bpp_dispatch_plans", ["phase", "next_check_at"]
    )

    op.create_table(
        "bpp_order_devices",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("baseline_method", sa.String(length=64), nullable=False),
        sa.Column("baseline_note", sa.Text(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("actual_kw", sa.JSON(), nullable=False),
        sa.Column("delivered_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("delivered_kwh", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("acked", sa.Boolean(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["bpp_orders.id"],
            name=op.f("fk_bpp_order_devices_order_id_bpp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "device_id", name=op.f("pk_bpp_order_devices")),
    )
    op.create_table(
        "bpp_command_acks",
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("delivered_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["bpp_device_commands.command_id"],
            name=op.f("fk_bpp_command_acks_command_id_bpp_device_commands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("command_id", "status", name=op.f("pk_bpp_command_acks")),
    )


def downgrade() -> None:
    op.drop_table("bpp_command_acks")
    op.drop_table("bpp_order_devices")
    op.drop_index("ix_bpp_dispatch_plans_phase_next_check_at", table_name="bpp_dispatch_plans")
    op.drop_table("bpp_dispatch_plans")
    op.drop_index("ix_bpp_device_commands_status_publish_at", table_name="bpp_device_commands")
    op.drop_index("ix_bpp_device_commands_order_id_device_id_id", table_name="bpp_device_commands")
    op.drop_index("ix_bpp_device_commands_device_id_end", table_name="bpp_device_commands")
    op.drop_table("bpp_device_commands")
    op.drop_index("ix_bpp_device_readings_bucket_start", table_name="bpp_device_readings")
    op.drop_table("bpp_device_readings")
    op.drop_table("bpp_device_participation")
