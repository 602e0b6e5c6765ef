"""Utility BAP: flexibility events and their offers, orders with aggregators, alerts, the audit trail, and
transactions started through the generic Beckn client.

Revision ID: 0004_bap
Revises: 0003_bpp_orders
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_bap"
down_revision: str | Sequence[str] | None = "0003_bpp_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bap_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("aggregator_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bap_alerts")),
    )
    with op.batch_alter_table("bap_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bap_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bap_alerts_event_id"), ["event_id"], unique=False)

    op.create_table(
        "bap_audit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bap_audit")),
    )
    with op.batch_alter_table("bap_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bap_audit_created_at"), ["created_at"], unique=False)

    op.create_table(
        "bap_client_transactions",
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("started_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_bap_client_transactions")),
    )
    op.create_table(
        "bap_flex_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("grid_node", sa.String(length=128), nullable=False),
        sa.Column("location", sa.JSON(), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("required_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_price_per_kwh", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("headroom", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("search_message_id", sa.String(length=255), nullable=False),
        sa.Column("searched_bpps", sa.JSON(), nullable=True),
        sa.Column("collect_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recommendation", sa.JSON(), nullable=True),
        sa.Column("recommended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grid_alert", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bap_flex_events")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_bap_flex_events_transaction_id")),
    )
    with op.batch_alter_table("bap_flex_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bap_flex_events_grid_node_window_start", ["grid_node", "window_start"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bap_flex_events_state"), ["state"], unique=False)

    op.create_table(
        "bap_flex_offers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("aggregator_id", sa.String(length=255), nullable=False),
        sa.Column("bpp_uri", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=True),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("item_name", sa.String(length=255), nullable=True),
        sa.Column("fulfillment_id", sa.String(length=255), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("grid_node", sa.String(length=128), nullable=True),
        sa.Column("available_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("min_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("max_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("offer_reliability", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("reliability", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["bap_flex_events.id"],
            name=op.f("fk_bap_flex_offers_event_id_bap_flex_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bap_flex_offers")),
        sa.UniqueConstraint(
            "event_id", "aggregator_id", "provider_id", "item_id", name="uq_bap_flex_offers_item"
        ),
    )
    with op.batch_alter_table("bap_flex_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bap_flex_offers_event_id"), ["event_id"], unique=False)

    op.create_table(
        "bap_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("aggregator_id", sa.String(length=255), nullable=False),
        sa.Column("bpp_uri", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=True),
        sa.Column("step_message_id", sa.String(length=255), nullable=True),
        sa.Column("step_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_change", sa.JSON(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("expected_kw", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("expected_cost", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("quoted_cost", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("quote", sa.JSON(), nullable=True),
        sa.Column("bpp_order_id", sa.String(length=255), nullable=True),
        sa.Column("committed_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=True),
        sa.Column("fulfillment_state", sa.String(length=32), nullable=True),
        sa.Column("baseline_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("actual_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("delivered_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("delivered_kwh", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("devices_acked", sa.Integer(), nullable=True),
        sa.Column("devices_opted_out", sa.Integer(), nullable=True),
        sa.Column("settlement", sa.JSON(), nullable=True),
        sa.Column("net_amount", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["bap_flex_events.id"],
            name=op.f("fk_bap_orders_event_id_bap_flex_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bap_orders")),
    )
    with op.batch_alter_table("bap_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bap_orders_aggregator_id_bpp_order_id", ["aggregator_id", "bpp_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bap_orders_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bap_orders_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_bap_orders_step_deadline"), ["step_deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_bap_orders_step_message_id"), ["step_message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bap_orders_transaction_id"), ["transaction_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bap_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bap_orders_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_bap_orders_step_message_id"))
        batch_op.drop_index(batch_op.f("ix_bap_orders_step_deadline"))
        batch_op.drop_index(batch_op.f("ix_bap_orders_state"))
        batch_op.drop_index(batch_op.f("ix_bap_orders_event_id"))
        batch_op.drop_index("ix_bap_orders_aggregator_id_bpp_order_id")

    op.drop_table("bap_orders")
    with op.batch_alter_table("bap_flex_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bap_flex_offers_event_id"))

    op.drop_table("bap_flex_offers")
    with op.batch_alter_table("bap_flex_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bap_flex_events_state"))
        batch_op.drop_index("ix_bap_flex_events_grid_node_window_start")

    op.drop_table("bap_flex_events")
    op.drop_table("bap_client_transactions")
    with op.batch_alter_table("bap_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bap_audit_created_at"))

    op.drop_table("bap_audit")
    with op.batch_alter_table("bap_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bap_alerts_event_id"))
        batch_op.drop_index(batch_op.f("ix_bap_alerts_created_at"))

    op.drop_table("bap_alerts")
