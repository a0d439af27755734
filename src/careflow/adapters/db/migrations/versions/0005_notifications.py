"""Notifications: the send log, and the patient's e-mail address.

``notification`` is keyed by the notification key, so claiming a key is an insert that
the primary key decides (see adapters/notify/send_log.py); ``channels`` records each
channel's outcome, so a retry sends only through the channels that failed.
``patient.email`` is an optional contact for the e-mail channel.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=True),
        sa.Column("channels", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_notification"),
        sa.CheckConstraint("status IN ('sending', 'sent', 'failed')", name="ck_notification_status_known"),
    )
    op.create_index("ix_notification_created_at", "notification", ["created_at"])
    op.create_index("ix_notification_booking_id", "notification", ["booking_id"])
    op.create_index("ix_notification_status", "notification", ["status"])
    op.add_column("patient", sa.Column("email", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("email")
    op.drop_table("notification")
