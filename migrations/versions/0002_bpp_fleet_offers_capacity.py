"""Aggregator BPP: fleet of DERs, offer terms, capacity reservations and per-grid-node lock rows.

Revision ID: 0002_bpp
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0002_bpp"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _kw(name: str, *, nullable: bool = False) -> sa.Column[Decimal]:
    return sa.Column(name, sa.Numeric(precision=12, scale=3), nullable=nullable)


def _money(name: str, *, nullable: bool = False) -> sa.Column[Decimal]:
    return sa.Column(name, sa.Numeric(precision=14, scale=4), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "bpp_ders",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=True),
        sa.Column("meter_id", sa.String(length=128), nullable=True),
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("area_code", sa.String(length=32), nullable=True),
        _kw("rated_kw"),
        _kw("flex_kw"),
        _kw("battery_capacity_kwh", nullable=True),
        sa.Column("state_of_charge", sa.Float(), nullable=True),
        sa.Column("owner_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reliability", sa.Float(), nullable=False),
        _timestamp("last_seen_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("rated_kw > 0", name=op.f("ck_bpp_ders_rated_kw_positive")),
        sa.CheckConstraint(
            "flex_kw >= 0 AND flex_kw <= rated_kw", name=op.f("ck_bpp_ders_flex_kw_within_rated")
        ),
        sa.CheckConstraint(
            "battery_capacity_kwh IS NULL OR battery_capacity_kwh > 0",
            name=op.f("ck_bpp_ders_battery_capacity"),
        ),
        sa.CheckConstraint(
            "state_of_charge IS NULL OR (state_of_charge >= 0 AND state_of_charge <= 1)",
            name=op.f("ck_bpp_ders_state_of_charge_fraction"),
        ),
        sa.CheckConstraint(
            "reliability >= 0 AND reliability <= 1", name=op.f("ck_bpp_ders_reliability_fraction")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_bpp_ders")),
    )
    op.create_index("ix_bpp_ders_grid_node_status", "bpp_ders", ["grid_node", "status"])
    op.create_index(op.f("ix_bpp_ders_owner_id"), "bpp_ders", ["owner_id"])

    op.create_table(
        "bpp_offer_terms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        _money("price_per_kwh"),
        _money("reservation_price_per_kw", nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _kw("min_kw"),
        _kw("max_kw"),
        sa.Column("response_time_s", sa.Integer(), nullable=False),
        sa.Column("min_notice_s", sa.Integer(), nullable=False),
        sa.Column("max_duration_s", sa.Integer(), nullable=False),
        sa.Column("max_events_per_day", sa.Integer(), nullable=False),
        sa.Column("baseline_method", sa.String(length=32), nullable=False),
        sa.Column("cancel_before_s", sa.Integer(), nullable=False),
        _money("cancellation_fee"),
        sa.Column("reliability_headroom", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("price_per_kwh >= 0", name=op.f("ck_bpp_offer_terms_price_not_negative")),
        sa.CheckConstraint("min_kw > 0 AND max_kw >= min_kw", name=op.f("ck_bpp_offer_terms_kw_range")),
        sa.CheckConstraint(
            "reliability_headroom >= 0 AND reliability_headroom <= 0.5",
            name=op.f("ck_bpp_offer_terms_headroom_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bpp_offer_terms")),
        sa.UniqueConstraint("grid_node", "direction", name="uq_bpp_offer_terms_grid_node_direction"),
    )

    op.create_table(
        "bpp_reservations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        _kw("kw"),
        _timestamp("window_start"),
        _timestamp("window_end"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=True),
        sa.Column("holder", sa.String(length=255), nullable=False),
        _timestamp("created_at"),
        _timestamp("released_at", nullable=True),
        sa.CheckConstraint("kw > 0", name=op.f("ck_bpp_reservations_kw_positive")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_bpp_reservations_window_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bpp_reservations")),
    )
    op.create_index(
        "ix_bpp_reservations_grid_node_direction_window",
        "bpp_reservations",
        ["grid_node", "direction", "window_start"],
    )
    op.create_index(op.f("ix_bpp_reservations_order_id"), "bpp_reservations", ["order_id"])

    op.create_table(
        "bpp_grid_node_locks",
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("grid_node", name=op.f("pk_bpp_grid_node_locks")),
    )


def downgrade() -> None:
    op.drop_table("bpp_grid_node_locks")
    op.drop_index(op.f("ix_bpp_reservations_order_id"), table_name="bpp_reservations")
    op.drop_index("ix_bpp_reservations_grid_node_direction_window", table_name="bpp_reservations")
    op.drop_table("bpp_reservations")
    op.drop_table("bpp_offer_terms")
    op.drop_index(op.f("ix_bpp_ders_owner_id"), table_name="bpp_ders")
    op.drop_index("ix_bpp_ders_grid_node_status", table_name="bpp_ders")
    op.drop_table("bpp_ders")
