"""Security and audit: local users, break-glass, idempotency records, the audit hash chain.

The audit log becomes append-only and tamper-evident. Each entry gets a gapless ``seq``,
its canonical JSON ``body`` and ``hash = sha256(prev_hash | seq | body)``; ``audit_head``
holds the last seq and hash, so a truncated tail is detected too.

On PostgreSQL a trigger assigns seq and hashes (a ``SECURITY DEFINER`` function, so the
application role needs no right on ``audit_head``), and other triggers refuse UPDATE,
DELETE and TRUNCATE of ``audit_log``; ``UPDATE, DELETE, TRUNCATE`` are revoked from PUBLIC
and ``careflow db grant-app ROLE`` grants an application role only SELECT and INSERT. On
SQLite (one writer at a time) the unit of work assigns them and triggers refuse
UPDATE and DELETE.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tables() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_audit_log_seq", ["seq"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False, server_default=GENESIS),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")
    op.create_table(
        "user_account",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("sites", JSON, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_user_account"),
    )
    op.create_table(
        "break_glass",
        sa.Column("id", BIGID, nullable=False, autoincrement=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        _ts("started_at"),
        _ts("expires_at"),
        _ts("ended_at", nullable=True),
        sa.Column("ended_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_break_glass"),
    )
    op.create_index("ix_break_glass_user_id_expires_at", "break_glass", ["user_id", "expires_at"])
    op.create_table(
        "idempotency_record",
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", JSON, nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("actor", "key", name="pk_idempotency_record"),
    )


_PG_CHAIN = """
CREATE OR REPLACE FUNCTION careflow_audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.body IS NULL THEN
        RAISE EXCEPTION 'audit_log: an entry needs its canonical body';
    END IF;
    -- The row lock on the head orders concurrent appends; it is held until commit.
    -- One UPDATE (its SET sees the head as it was): fewer row versions of the hot head row.
    UPDATE audit_head
       SET seq = seq + 1, prev_hash = hash,
           hash = encode(sha256(convert_to(hash || '|' || (seq + 1)::text || '|' || NEW.body, 'UTF8')), 'hex')
     WHERE id = 1
    RETURNING seq, prev_hash, hash INTO NEW.seq, NEW.prev_hash, NEW.hash;
    RETURN NEW;
END $$;
"""
_PG_REFUSE = """
CREATE OR REPLACE FUNCTION careflow_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def _postgres() -> None:
    op.execute(_PG_CHAIN)
    op.execute(_PG_REFUSE)
    op.execute("CREATE TRIGGER trg_audit_log_chain BEFORE INSERT ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION careflow_audit_chain()")
    op.execute("CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION careflow_audit_append_only()")
    op.execute("CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION careflow_audit_append_only()")
    op.execute("CREATE TRIGGER trg_audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head "
               "FOR EACH STATEMENT EXECUTE FUNCTION careflow_audit_append_only()")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")
    op.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_head FROM PUBLIC")


def _sqlite() -> None:
    for event in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER trg_audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {event} refused'); END")
    op.execute("CREATE TRIGGER trg_audit_head_no_delete BEFORE DELETE ON audit_head "
               "BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END")


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgres()
    elif dialect == "sqlite":
        _sqlite()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_audit_log_chain ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS trg_audit_log_no_update ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS trg_audit_log_no_truncate ON audit_log")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS trg_audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS trg_audit_log_no_delete")
    for table in ("idempotency_record", "break_glass", "user_account", "audit_head"):
        op.drop_table(table)
    op.drop_index("ix_audit_log_actor", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("uq_audit_log_seq", type_="unique")
        for column in ("hash", "prev_hash", "body", "seq"):
            batch.drop_column(column)
