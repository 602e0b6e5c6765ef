"""Aggregator BPP orders: contracts, their event history, and the dispatcher's work queue.

Revision ID: 0003_bpp_orders
Revises: 0002_bpp
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_bpp_orders"
down_revision: str | Sequence[str] | None = "0002_bpp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _sequence() -> sa.Column[int]:
    """An increasing integer key (BIGSERIAL on PostgreSQL, the rowid on SQLite)."""
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "bpp_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("bap_id", sa.String(length=255), nullable=False),
        sa.Column("bap_uri", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("kw", sa.Numeric(precision=12, scale=3), nullable=False),
        _timestamp("window_start"),
        _timestamp("window_end"),
        sa.Column("price_per_kwh", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        _timestamp("quote_expires_at"),
        sa.Column("billing", sa.JSON(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fulfillment_state", sa.String(length=16), nullable=True),
        sa.Column("reservation_id", sa.String(length=36), nullable=True),
        sa.Column("committed_devices", sa.Integer(), nullable=True),
        sa.Column("cancellation", sa.JSON(), nullable=True),
        _timestamp("confirmed_at", nullable=True),
        _timestamp("cancelled_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("kw > 0", name=op.f("ck_bpp_orders_kw_positive")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_bpp_orders_window_not_empty")),
        sa.CheckConstraint("price_per_kwh >= 0", name=op.f("ck_bpp_orders_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["bpp_reservations.id"],
            name=op.f("fk_bpp_orders_reservation_id_bpp_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bpp_orders")),
        sa.UniqueConstraint("bap_id", "transaction_id", name="uq_bpp_orders_bap_id_transaction_id"),
    )
    op.create_index(op.f("ix_bpp_orders_created_at"), "bpp_orders", ["created_at"])
    op.create_index(
        "ix_bpp_orders_grid_node_direction_window", "bpp_orders", ["grid_node", "direction", "window_start"]
    )
    op.create_index("ix_bpp_orders_status_fulfillment_state", "bpp_orders", ["status", "fulfillment_state"])

    op.create_table(
        "bpp_order_events",
        _sequence(),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        _timestamp("at"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["bpp_orders.id"],
            name=op.f("fk_bpp_order_events_order_id_bpp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bpp_order_events")),
    )
    op.create_index("ix_bpp_order_events_order_id_id", "bpp_order_events", ["order_id", "id"])

    op.create_table(
        "bpp_dispatch_queue",
        _sequence(),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("dispatched_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["bpp_orders.id"],
            name=op.f("fk_bpp_dispatch_queue_order_id_bpp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bpp_dispatch_queue")),
    )
    op.create_index(op.f("ix_bpp_dispatch_queue_order_id"), "bpp_dispatch_queue", ["order_id"])
    op.create_index(
        "ix_bpp_dispatch_queue_dispatched_at_id",
        "bpp_dispatch_queue",
        ["dispatched_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_bpp_dispatch_queue_dispatched_at_id", table_name="bpp_dispatch_queue")
    op.drop_index(op.f("ix_bpp_dispatch_queue_order_id"), table_name="bpp_dispatch_queue")
    op.drop_table("bpp_dispatch_queue")
    op.drop_index("ix_bpp_order_events_order_id_id", table_name="bpp_order_events")
    op.drop_table("bpp_order_events")
    op.drop_index("ix_bpp_orders_status_fulfillment_state", table_name="bpp_orders")
    op.drop_index("ix_bpp_orders_grid_node_direction_window", table_name="bpp_orders")
    op.drop_index(op.f("ix_bpp_orders_created_at"), table_name="bpp_orders")
    op.drop_table("bpp_orders")
