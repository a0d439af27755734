"""Per-site settings (issues 5 and 6): one JSON value per (site, name), versioned, with who
changed it last and why; e.g. ``planning.weights`` (the admission plan's cost weights) and
``predict.overbooking`` (advisory or executable overbooking, and its caps). Every change is
also in the audit trail.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "site_setting",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "name", name="pk_site_setting"),
    )


def downgrade() -> None:
    op.drop_table("site_setting")
