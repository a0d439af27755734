"""Initial schema: master data, bookings, allocations, stock, outbox, audit.

On PostgreSQL the exclusion constraints make overlapping active allocations of one
resource lane, and overlapping active bookings of one patient, impossible whatever the
application does; on SQLite (one writer at a time) triggers give the same guarantee.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACTIVE = "('held', 'booked', 'arrived', 'fulfilled')"


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _master() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False, server_default=""),
        sa.Column("number", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_site"),
    )
    op.create_table(
        "resource",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("profile", JSON, nullable=False),
        sa.Column("availability", JSON, nullable=False),
        sa.CheckConstraint("capacity >= 1", name="ck_resource_capacity"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name="fk_resource_site_id_site"),
        sa.PrimaryKeyConstraint("id", name="pk_resource"),
    )
    op.create_index("ix_resource_site_id", "resource", ["site_id"])
    op.create_table(
        "service",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("card", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_service"),
        sa.UniqueConstraint("code", name="uq_service_code"),
    )
    op.create_table(
        "stock_item",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reorder_threshold", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lead_time_days", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand",
                           name="ck_stock_item_reserved_within_on_hand"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name="fk_stock_item_site_id_site"),
        sa.PrimaryKeyConstraint("site_id", "sku", name="pk_stock_item"),
    )


def _patients() -> None:
    op.create_table(
        "patient",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("mrn", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("needs_interpreter", sa.Boolean(), nullable=False),
        sa.Column("isolation_required", sa.Boolean(), nullable=False),
        sa.Column("home", JSON, nullable=True),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("completed_prep", JSON, nullable=False),
        sa.Column("usual_clinicians", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patient"),
    )
    op.create_index("ix_patient_mrn", "patient", ["mrn"])
    op.create_table(
        "authorization",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("payer", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("reference", sa.String(200), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"],
                                name="fk_authorization_patient_id_patient"),
        sa.PrimaryKeyConstraint("id", name="pk_authorization"),
    )
    op.create_index("ix_authorization_patient_id", "authorization", ["patient_id"])


def _bookings() -> None:
    op.create_table(
        "booking",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("start_at"),
        _ts("end_at"),
        sa.Column("urgency", sa.String(16), nullable=False),
        _ts("expires_at", nullable=True),
        _ts("created_at", nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("overrides", JSON, nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=False, server_default=""),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("end_at > start_at", name="ck_booking_ends_after_start"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name="fk_booking_patient_id_patient"),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name="fk_booking_service_id_service"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name="fk_booking_site_id_site"),
        sa.PrimaryKeyConstraint("id", name="pk_booking"),
    )
    for column in ("patient_id", "site_id", "status", "start_at"):
        op.create_index(f"ix_booking_{column}", "booking", [column])
    op.create_index("ix_booking_status_expires_at", "booking", ["status", "expires_at"])
    op.create_table(
        "allocation",
        sa.Column("id", BIGID, nullable=False, autoincrement=True),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False, server_default="0"),
        _ts("start_at"),
        _ts("end_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("end_at > start_at", name="ck_allocation_ends_after_start"),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"], name="fk_allocation_booking_id_booking"),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"],
                                name="fk_allocation_resource_id_resource"),
        sa.PrimaryKeyConstraint("id", name="pk_allocation"),
    )
    op.create_index("ix_allocation_booking_id", "allocation", ["booking_id"])
    op.create_index("ix_allocation_resource_id_start_at", "allocation", ["resource_id", "start_at"])
    op.create_table(
        "stock_reservation",
        sa.Column("id", BIGID, nullable=False, autoincrement=True),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("quantity > 0", name="ck_stock_reservation_quantity_positive"),
        sa.CheckConstraint("state IN ('reserved', 'released', 'consumed')",
                           name="ck_stock_reservation_state_known"),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"],
                                name="fk_stock_reservation_booking_id_booking"),
        sa.ForeignKeyConstraint(["site_id", "sku"], ["stock_item.site_id", "stock_item.sku"],
                                name="fk_stock_reservation_site_id_stock_item"),
        sa.PrimaryKeyConstraint("id", name="pk_stock_reservation"),
    )
    op.create_index("ix_stock_reservation_booking_id", "stock_reservation", ["booking_id"])


def _journal() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BIGID, nullable=False, autoincrement=True),
        _ts("occurred_at"),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(128), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _ts("published_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["id"],
                    sqlite_where=sa.text("published_at IS NULL"),
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "audit_log",
        sa.Column("id", BIGID, nullable=False, autoincrement=True),
        _ts("at"),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("rule_version", sa.String(64), nullable=False, server_default=""),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])


def _postgres_guards() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("ALTER TABLE allocation ADD COLUMN during tstzrange "
               "GENERATED ALWAYS AS (tstzrange(start_at, end_at, '[)')) STORED")
    op.execute("ALTER TABLE allocation ADD CONSTRAINT ex_allocation_no_overlap "
               "EXCLUDE USING gist (resource_id WITH =, lane WITH =, during WITH &&) WHERE (active)")
    op.execute("ALTER TABLE booking ADD CONSTRAINT ex_booking_patient_overlap "
               "EXCLUDE USING gist (patient_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
               f"WHERE (status IN {ACTIVE})")


_ALLOCATION_CLASH = """
    SELECT RAISE(ABORT, 'ex_allocation_no_overlap: the resource lane is allocated then')
    WHERE EXISTS (SELECT 1 FROM allocation a
                  WHERE a.resource_id = NEW.resource_id AND a.lane = NEW.lane AND a.active
                    AND a.start_at < NEW.end_at AND a.end_at > NEW.start_at AND a.id != NEW.id);
"""
_PATIENT_CLASH = f"""
    SELECT RAISE(ABORT, 'ex_booking_patient_overlap: the patient has another booking then')
    WHERE EXISTS (SELECT 1 FROM booking b
                  WHERE b.patient_id = NEW.patient_id AND b.status IN {ACTIVE}
                    AND b.start_at < NEW.end_at AND b.end_at > NEW.start_at AND b.id != NEW.id);
"""


def _sqlite_guards() -> None:
    # Serves the overlap check: on a lane, allocations ending after the new start are the
    # few near it (PostgreSQL's exclusion constraint has its own GiST index).
    op.create_index("ix_allocation_resource_id_lane_end_at", "allocation",
                    ["resource_id", "lane", "end_at"])
    op.execute("CREATE TRIGGER trg_allocation_no_overlap_ins BEFORE INSERT ON allocation "
               f"WHEN NEW.active BEGIN {_ALLOCATION_CLASH} END")
    op.execute("CREATE TRIGGER trg_allocation_no_overlap_upd "
               "BEFORE UPDATE OF resource_id, lane, start_at, end_at, active ON allocation "
               f"WHEN NEW.active BEGIN {_ALLOCATION_CLASH} END")
    op.execute("CREATE TRIGGER trg_booking_patient_overlap_ins BEFORE INSERT ON booking "
               f"WHEN NEW.status IN {ACTIVE} BEGIN {_PATIENT_CLASH} END")
    op.execute("CREATE TRIGGER trg_booking_patient_overlap_upd "
               "BEFORE UPDATE OF patient_id, status, start_at, end_at ON booking "
               f"WHEN NEW.status IN {ACTIVE} BEGIN {_PATIENT_CLASH} END")


def upgrade() -> None:
    _master()
    _patients()
    _bookings()
    _journal()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgres_guards()
    elif dialect == "sqlite":
        _sqlite_guards()


def downgrade() -> None:
    for table in ("audit_log", "outbox", "stock_reservation", "allocation", "booking",
                  "authorization", "patient", "stock_item", "service", "resource", "site", "meta"):
        op.drop_table(table)
