"""Message log, outbox with delivery attempts, and the registry service's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "beckn_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("counterparty", sa.String(length=255), nullable=True),
        sa.Column("bap_id", sa.String(length=255), nullable=True),
        sa.Column("bpp_id", sa.String(length=255), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("signature_verdict", sa.String(length=255), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("ack_status", sa.String(length=8), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=511), nullable=True),
        sa.Column("processing_state", sa.String(length=16), nullable=True),
        sa.Column("processing_error", sa.Text(), nullable=True),
        _timestamp("processed_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beckn_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_beckn_messages_dedupe_key")),
    )
    op.create_index(op.f("ix_beckn_messages_transaction_id"), "beckn_messages", ["transaction_id"])
    op.create_index(op.f("ix_beckn_messages_created_at"), "beckn_messages", ["created_at"])
    op.create_index("ix_beckn_messages_direction_action", "beckn_messages", ["direction", "action"])
    op.create_index(
        "ix_beckn_messages_processing_state_created_at", "beckn_messages", ["processing_state", "created_at"]
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("message_record_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("counterparty", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at"),
        _timestamp("expires_at"),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        _timestamp("lease_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("ack_status", sa.String(length=8), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        _timestamp("delivered_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["message_record_id"],
            ["beckn_messages.id"],
            name=op.f("fk_outbox_message_record_id_beckn_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_record_id", name=op.f("uq_outbox_message_record_id")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "outbox_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("outbox_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("ack_status", sa.String(length=8), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("authorization", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_outbox_attempts_outbox_id_outbox"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempts")),
        sa.UniqueConstraint("outbox_id", "attempt", name="uq_outbox_attempts_outbox_id_attempt"),
    )

    op.create_table(
        "registry_subscribers",
        sa.Column("subscriber_id", sa.String(length=255), nullable=False),
        sa.Column("unique_key_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("signing_public_key", sa.Text(), nullable=False),
        sa.Column("encryption_public_key", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        _timestamp("valid_from"),
        _timestamp("valid_until"),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("challenge_error", sa.Text(), nullable=True),
        _timestamp("created"),
        _timestamp("updated"),
        sa.PrimaryKeyConstraint("subscriber_id", "unique_key_id", name=op.f("pk_registry_subscribers")),
    )

    op.create_table(
        "registry_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        _timestamp("created"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registry_keys")),
    )


def downgrade() -> None:
    op.drop_table("registry_keys")
    op.drop_table("registry_subscribers")
    op.drop_table("outbox_attempts")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_beckn_messages_processing_state_created_at", table_name="beckn_messages")
    op.drop_index("ix_beckn_messages_direction_action", table_name="beckn_messages")
    op.drop_index(op.f("ix_beckn_messages_created_at"), table_name="beckn_messages")
    op.drop_index(op.f("ix_beckn_messages_transaction_id"), table_name="beckn_messages")
    op.drop_table("beckn_messages")
