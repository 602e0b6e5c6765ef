"""Aggregator holds expire: `bpp_reservations.expires_at` is when a HELD reservation (placed by init for
the buyer's confirm) stops counting against its grid node; null for commitments and for holds that never
expire. Holds placed before this revision keep a null expiry.

Revision ID: 0007_bpp_reservation_expiry
Revises: 0006_bap_order_outcome
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_bpp_reservation_expiry"
down_revision: str | Sequence[str] | None = "0006_bap_order_outcome"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bpp_reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bpp_reservations", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
