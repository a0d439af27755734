"""Workflows (issue 4): bed placement's admissions and bed status; the surgical case
record (one row per case workflow, its id the DBOS workflow id) and its purchase requests.
DBOS keeps its own tables apart (a SQLite file beside careflow's, or the schema ``dbos``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


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


# --- surgical case workflow (services/workflows/surgical_case.py) -----------------------
def _surgical_case_upgrade() -> None:
    op.create_table(
        "surgical_case",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("surgeon_id", sa.String(64), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("waiting_for", JSON, nullable=False),
        sa.Column("steps", JSON, nullable=False),
        sa.Column("tasks", JSON, nullable=False),
        sa.Column("hold_id", sa.String(64), nullable=True),
        sa.Column("booking_id", sa.String(64), nullable=True),
        sa.Column("planned", JSON, nullable=True),
        sa.Column("prep_confirmed_by", sa.String(128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('requested', 'running', 'waiting', 'booked', 'needs_attention')",
                           name="ck_surgical_case_status_known"),
    )
    op.create_index("ix_surgical_case_status", "surgical_case", ["status"])
    op.create_index("ix_surgical_case_patient_service", "surgical_case", ["patient_id", "service_id"])
    op.create_table(
        "purchase_request",
        sa.Column("id", sa.String(96), primary_key=True),
        sa.Column("case_id", sa.String(64),
                  sa.ForeignKey("surgical_case.id", name="fk_purchase_request_case"), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("needed_by", WHEN, nullable=False),
        sa.Column("expected_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_purchase_request_quantity_positive"),
        sa.CheckConstraint("status IN ('open', 'received', 'cancelled')",
                           name="ck_purchase_request_status_known"),
    )
    op.create_index("ix_purchase_request_case_id", "purchase_request", ["case_id"])
    op.create_index("ix_purchase_request_site_sku_status", "purchase_request", ["site_id", "sku", "status"])


def _surgical_case_downgrade() -> None:
    op.drop_table("purchase_request")
    op.drop_table("surgical_case")
# --- end of the surgical case workflow's tables ------------------------------------------


# --- referral to appointment (services/referrals.py) ----------------------------------------
def _referral_upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("earliest", WHEN, nullable=True),
        sa.Column("latest", WHEN, nullable=True),
        sa.Column("site_ids", JSON, nullable=False),
        sa.Column("referring", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("recommendations", JSON, nullable=False),
        sa.Column("choice_due_at", WHEN, nullable=True),
        sa.Column("chosen_rank", sa.Integer(), nullable=True),
        sa.Column("chosen_by", sa.String(128), nullable=True),
        sa.Column("booking_id", sa.String(64), nullable=True),
        sa.Column("exception_id", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('received', 'awaiting_choice', 'chosen', 'booked', 'queued')",
                           name="ck_referral_status_known"),
    )
    op.create_index("ix_referral_patient_id", "referral", ["patient_id"])
    op.create_index("ix_referral_status_created_at", "referral", ["status", "created_at"])


def _referral_downgrade() -> None:
    op.drop_table("referral")
# --- end of the referral tables ----------------------------------------------------------


def upgrade() -> None:
    _bed_placement_upgrade()
    _surgical_case_upgrade()
    _referral_upgrade()


def downgrade() -> None:
    _referral_downgrade()
    _surgical_case_downgrade()
    _bed_placement_downgrade()
