"""Re-coordination runs and the waitlist (issue 4).

``recoordination_run``: one row per capacity event handled, with its figures and the
outcome per affected booking (``detail``), keyed by the outbox event id so a redelivered
event finds its run. ``waitlist_entry``: patients who want an earlier time, offered freed
slots by priority then age; ``offer_booking_id`` is the hold placed for the offer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recoordination_run",
        sa.Column("event_id", BIG, primary_key=True, autoincrement=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("affected", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("auto_resolved", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
    )
    op.create_index("ix_recoordination_run_finished_at", "recoordination_run", ["finished_at"])
    op.create_index("ix_recoordination_run_started_at", "recoordination_run", ["started_at"])
    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("site_ids", JSON, nullable=False),
        sa.Column("earliest", WHEN, nullable=False),
        sa.Column("latest", WHEN, nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=True),
        sa.Column("offer_booking_id", sa.String(64), nullable=True),
        sa.Column("offered_at", WHEN, nullable=True),
        sa.Column("offer_expires_at", WHEN, nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_waitlist_entry_status_service", "waitlist_entry", ["status", "service_id"])
    op.create_index("ix_waitlist_entry_offer_booking_id", "waitlist_entry", ["offer_booking_id"])
    op.create_index("ix_waitlist_entry_patient_id", "waitlist_entry", ["patient_id"])
    op.create_index("ix_exception_item_booking_id", "exception_item", ["booking_id"])


def downgrade() -> None:
    op.drop_index("ix_exception_item_booking_id", "exception_item")
    op.drop_table("waitlist_entry")
    op.drop_table("recoordination_run")
