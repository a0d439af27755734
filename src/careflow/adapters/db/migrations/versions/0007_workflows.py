"""Placeholder for issue 4's workflows tables (filled in by its owner).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


# --- bed placement (services/beds): admissions and the beds' housekeeping status ---------
def _bed_placement_upgrade() -> None:
    op.create_table(
        "admission",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("wanted_from", WHEN, nullable=False),
        sa.Column("los_hours", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(64), nullable=True),
        sa.Column("bed_type", sa.String(64), nullable=True),
        sa.Column("isolation", sa.Boolean(), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("urgency_rank", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("bed_id", sa.String(64), nullable=True),
        sa.Column("booking_id", sa.String(64), nullable=True),
        sa.Column("placed_at", WHEN, nullable=True),
        sa.Column("exception_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("los_hours > 0", name="ck_admission_los_positive"),
        sa.CheckConstraint("status IN ('waiting', 'placed', 'cancelled')",
                           name="ck_admission_admission_status_known"),
        sa.PrimaryKeyConstraint("id", name="pk_admission"),
    )
    op.create_index("ix_admission_patient_id", "admission", ["patient_id"])
    op.create_index("ix_admission_booking_id", "admission", ["booking_id"])
    op.create_index("ix_admission_site_id_status", "admission",
                    ["site_id", "status", "urgency_rank", "requested_at"])
    op.create_table(
        "bed_status",
        sa.Column("bed_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", WHEN, nullable=False),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('clean', 'dirty', 'out_of_service')",
                           name="ck_bed_status_bed_status_known"),
        sa.PrimaryKeyConstraint("bed_id", name="pk_bed_status"),
    )
    op.create_index("ix_bed_status_site_id", "bed_status", ["site_id"])


def _bed_placement_downgrade() -> None:
    op.drop_table("bed_status")
    op.drop_table("admission")
# --- end of the bed placement tables -----------------------------------------------------


def upgrade() -> None:
    _bed_placement_upgrade()


def downgrade() -> None:
    _bed_placement_downgrade()
