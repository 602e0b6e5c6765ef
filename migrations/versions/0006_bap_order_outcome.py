"""Utility BAP orders keep the aggregator's verdict (`outcome`, COMPLETED or PARTIAL) after SETTLED replaces
it as the fulfillment state, and the timestamp of the newest progress report applied (`reported_at`), so a
late or redelivered report cannot take an order backwards.

Revision ID: 0006_bap_order_outcome
Revises: 0005_dispatch
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_bap_order_outcome"
down_revision: str | Sequence[str] | None = "0005_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bap_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE bap_orders SET outcome = fulfillment_state "
        "WHERE fulfillment_state IN ('COMPLETED', 'PARTIAL')"
    )


def downgrade() -> None:
    with op.batch_alter_table("bap_orders", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
        batch_op.drop_column("outcome")
