"""The audit trail is append-only and tamper-evident on SQLite and PostgreSQL: every
entry is chained, ``verify`` passes on an honest log and names the first broken link
after an update, a delete, a reorder or a truncation; the application cannot edit it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from careflow.adapters.db.audit import GENESIS, chain_hash, verify
from careflow.adapters.db.engine import WRITE_OPTION
from careflow.adapters.db.grants import grant_application_role
from careflow.adapters.db.tables import audit_head, audit_log
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.services.ports import AuditEntry


def write(engine: Engine, n: int, actor: str = "u-1") -> None:
    uow = SqlUnitOfWorkFactory(engine)
    for i in range(n):
        with uow(write=True) as unit:
            unit.audit(AuditEntry(actor, "booking.book", "booking", f"b-{i}", "ok", "why",
                                  "rules-1", {"n": i, "ids": ["a", "b"]}))
            unit.commit()


@contextmanager
def tampering(engine: Engine) -> Iterator[Connection]:
    """A connection that gets past the append-only guards, as a database owner could:
    triggers off (PostgreSQL: replica mode; SQLite: the triggers dropped and put back)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        if engine.dialect.name == "postgresql":
            with conn.begin():
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                yield conn
        else:
            saved = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                      "AND tbl_name IN ('audit_log', 'audit_head')")).scalars().all()
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                      "AND tbl_name IN ('audit_log', 'audit_head')")).scalars().all()
            conn.rollback()
            with conn.begin():
                for name in names:
                    conn.execute(text(f"DROP TRIGGER {name}"))
                yield conn
                for sql in saved:
                    conn.execute(text(sql))


def test_an_honest_log_verifies_and_each_entry_links_to_the_previous(engine: Engine) -> None:
    write(engine, 5)
    report = verify(engine)
    assert report.ok, report
    assert (report.entries, report.head_seq) == (5, 5)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        assert row.seq == expected_seq
        assert row.prev_hash == prev
        assert row.hash == chain_hash(prev, row.seq, row.body)
        prev = row.hash


def test_the_application_cannot_update_or_delete_audit_rows(engine: Engine) -> None:
    write(engine, 2)
    for statement in ("UPDATE audit_log SET outcome = 'denied'", "DELETE FROM audit_log"):
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement))
    assert verify(engine).ok


TAMPERS: dict[str, tuple[str, Callable[[Connection], None]]] = {
    "update a column": ("column 'outcome'", lambda c: c.execute(
        text("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3"))),
    "update the body and its hash": ("prev_hash", lambda c: c.execute(text(
        "UPDATE audit_log SET body = replace(body, 'b-2', 'b-9') WHERE seq = 3")) and _rehash(c, 3)),
    "edit the body only": ("hash does not match", lambda c: c.execute(text(
        "UPDATE audit_log SET body = replace(body, 'b-2', 'b-9'), entity_id = 'b-9' WHERE seq = 3"))),
    "delete an entry": ("missing", lambda c: c.execute(text("DELETE FROM audit_log WHERE seq = 3"))),
    "reorder two entries": ("prev_hash", lambda c: _swap(c, 2, 3)),
    "truncate the tail": ("truncated", lambda c: c.execute(text("DELETE FROM audit_log WHERE seq >= 4"))),
}


def _rehash(conn: Connection, seq: int) -> None:
    """Recompute one entry's hash (a careful forger): the next entry's link then breaks."""
    row = conn.execute(select(audit_log.c.prev_hash, audit_log.c.body).where(audit_log.c.seq == seq)).one()
    conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(
        hash=chain_hash(row.prev_hash, seq, row.body), entity_id="b-9"))


def _swap(conn: Connection, a: int, b: int) -> None:
    """Swap the contents of two entries (everything but seq): a reordering."""
    cols = [c for c in audit_log.c if c.name not in ("id", "seq")]
    rows = {r.seq: r for r in conn.execute(select(audit_log).where(audit_log.c.seq.in_([a, b])))}
    for mine, theirs in ((a, b), (b, a)):
        conn.execute(audit_log.update().where(audit_log.c.seq == mine).values(
            {c.name: getattr(rows[theirs], c.name) for c in cols}))


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_verify_names_the_first_broken_link_after_tampering(engine: Engine, tamper: str) -> None:
    write(engine, 5)
    expected, act = TAMPERS[tamper]
    with tampering(engine) as conn:
        act(conn)
    report = verify(engine)
    assert not report.ok
    assert expected in report.problem
    assert report.broken_seq in (2, 3, 4), report


def test_a_missing_head_or_an_entry_outside_the_chain_is_reported(engine: Engine) -> None:
    write(engine, 2)
    with tampering(engine) as conn:
        conn.execute(text("INSERT INTO audit_log (at, actor, action, entity_type, entity_id, outcome, "
                          "reason, rule_version, detail) SELECT at, actor, action, entity_type, entity_id, "
                          "outcome, reason, rule_version, detail FROM audit_log WHERE seq = 1"))
    report = verify(engine)
    assert not report.ok and "outside the chain" in report.problem


@pytest.mark.postgres
def test_concurrent_appends_on_postgres_form_one_unbroken_chain(postgres_url: str) -> None:
    from careflow.adapters.db import make_engine, migrate

    migrate(postgres_url)
    engine = make_engine(postgres_url)
    try:
        threads = [threading.Thread(target=write, args=(engine, 25, f"u-{i}")) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = verify(engine)
        assert report.ok, report
        assert report.entries == 200
        with engine.connect() as conn:
            assert conn.execute(select(audit_head.c.seq)).scalar_one() == 200
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_on_postgres_the_application_role_may_only_read_and_append_the_audit_log(postgres_url: str) -> None:
    from careflow.adapters.db import make_engine, migrate

    migrate(postgres_url)
    engine = make_engine(postgres_url)
    role = f"cf_app_{uuid.uuid4().hex[:8]}"
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        grant_application_role(engine, role)
        write(engine, 1)
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})

            def as_app(statement: str, params: dict[str, Any] | None = None) -> None:
                with conn.begin():
                    conn.execute(text(f'SET LOCAL ROLE "{role}"'))
                    conn.execute(text(statement), params or {})

            as_app("INSERT INTO audit_log (at, actor, action, entity_type, entity_id, outcome, detail, body) "
                   "VALUES (now(), 'app', 'x', 'y', 'z', 'ok', '{}', :b)", {"b": "{}"})
            for statement in ("UPDATE audit_log SET outcome = 'denied'", "DELETE FROM audit_log",
                              "TRUNCATE audit_log", "UPDATE audit_head SET seq = 0"):
                with pytest.raises(DBAPIError) as caught:
                    as_app(statement)
                assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege), statement
            count = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        assert count == 2
    finally:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
        engine.dispose()
