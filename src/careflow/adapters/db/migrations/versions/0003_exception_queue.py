"""The exception queue: one table of items, with JSON comments, alternatives and resolution.

Indexes serve the queue's reads: ``(status, sla_due_at)`` for the open queue in due order
and the breach count, ``owner_team`` for a team's view, ``resolved_at`` for the figures
over a period.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "exception_item",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("owner_team", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=True),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(128), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("sla_due_at"),
        _ts("resolved_at", nullable=True),
        sa.Column("comments", JSON, nullable=False),
        sa.Column("alternatives", JSON, nullable=False),
        sa.Column("resolution", JSON, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exception_item"),
    )
    op.create_index("ix_exception_item_status_sla_due_at", "exception_item", ["status", "sla_due_at"])
    op.create_index("ix_exception_item_owner_team", "exception_item", ["owner_team"])
    op.create_index("ix_exception_item_resolved_at", "exception_item", ["resolved_at"])


def downgrade() -> None:
    op.drop_table("exception_item")
