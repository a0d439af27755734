"""The migrations build the schema on SQLite and PostgreSQL, and running them again is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, inspect, select, text

from careflow.adapters.db import make_engine, migrate
from careflow.adapters.db.engine import normalize_url
from careflow.adapters.db.tables import metadata, outbox

EXPECTED = {t.name for t in metadata.sorted_tables}


def test_migrations_create_every_table_and_are_idempotent(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        names = set(inspect(engine).get_table_names())
        assert names >= EXPECTED
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0008"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_schema_has_the_exclusion_guards(postgres_url: str) -> None:
    migrate(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            guards = set(conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE contype = 'x'")).scalars())
            during = conn.execute(text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'allocation' AND column_name = 'during'")).scalar()
            start_type = conn.execute(text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'booking' AND column_name = 'start_at'")).scalar()
        assert {"ex_allocation_no_overlap", "ex_booking_patient_overlap"} <= guards
        assert during == "tstzrange"
        assert start_type == "timestamp with time zone"
    finally:
        engine.dispose()


def test_sqlite_schema_has_the_overlap_triggers(sqlite_url: str) -> None:
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            triggers = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
            fks = conn.execute(text("PRAGMA foreign_keys")).scalar()
            busy = conn.execute(text("PRAGMA busy_timeout")).scalar()
        assert {"trg_allocation_no_overlap_ins", "trg_booking_patient_overlap_ins"} <= triggers
        assert (mode, fks, busy) == ("wal", 1, 30000)
    finally:
        engine.dispose()


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(engine: Engine) -> None:
    local = datetime(2030, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    with engine.begin() as conn:
        conn.execute(outbox.insert(), {"occurred_at": local, "type": "T", "aggregate_id": "a",
                                       "payload": {"k": [1, "x"]}})
        row = conn.execute(select(outbox.c.occurred_at, outbox.c.payload)).one()
    assert row.occurred_at == local
    assert row.occurred_at.tzinfo is UTC
    assert row.payload == {"k": [1, "x"]}
    with pytest.raises(Exception, match="naive"), engine.begin() as conn:
        conn.execute(outbox.insert(), {"occurred_at": datetime(2030, 1, 1), "type": "T",
                                       "aggregate_id": "a", "payload": {}})


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
