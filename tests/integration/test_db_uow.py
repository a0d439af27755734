"""The SQL unit of work: one transaction for the change, its events and its audit entry."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text

from careflow.adapters.db import SqlUnitOfWorkFactory, make_engine, migrate
from careflow.adapters.db.tables import audit_log, meta, outbox
from careflow.domain.events import BookingCancelled, HoldPlaced
from careflow.services.ports import AuditEntry

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(outbox)).scalar_one(),
                conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_events_and_audit_are_written_with_the_commit(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine, lambda: NOW)
    with uow(write=True) as u:
        u.publish([HoldPlaced("bk1", "p1", "svc", "s1", NOW, NOW, ("or1", "dr1")),
                   BookingCancelled("bk1", "asked", "u1", ("or1",))])
        u.audit(AuditEntry("u1", "cancel", "booking", "bk1", "success", "asked", "rules/1",
                           {"status": "cancelled"}))
        u.commit()
    with engine.connect() as conn:
        events = conn.execute(select(outbox).order_by(outbox.c.id)).mappings().all()
        audit = conn.execute(select(audit_log)).mappings().one()
    assert [(e["type"], e["aggregate_id"], e["published_at"]) for e in events] == [
        ("HoldPlaced", "bk1", None), ("BookingCancelled", "bk1", None)]
    assert events[0]["payload"]["resource_ids"] == ["or1", "dr1"]
    assert events[0]["payload"]["start"] == NOW.isoformat()
    assert events[0]["occurred_at"] == NOW
    assert events[0]["id"] < events[1]["id"]
    assert (audit["actor"], audit["action"], audit["entity_id"], audit["rule_version"],
            audit["detail"], audit["at"]) == ("u1", "cancel", "bk1", "rules/1",
                                              {"status": "cancelled"}, NOW)


def test_nothing_is_written_without_a_commit(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine, lambda: NOW)
    with uow(write=True) as u:
        u.publish([BookingCancelled("bk1", "asked", "u1")])
        u.audit(AuditEntry("u1", "cancel", "booking", "bk1", "success"))

    def fail_half_way() -> None:
        with uow(write=True) as u:
            u.publish([BookingCancelled("bk2", "asked", "u1")])
            raise RuntimeError("the use case failed half way")

    with pytest.raises(RuntimeError):
        fail_half_way()
    with uow(write=True) as u:
        u.publish([BookingCancelled("bk3", "asked", "u1")])
        u.rollback()
    assert counts(engine) == (0, 0)


def test_sqlite_write_units_are_serialized(sqlite_url: str) -> None:
    """Read-modify-write in 8 threads: BEGIN IMMEDIATE queues them, none is lost or locked out."""
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(meta.insert(), {"key": "counter", "value": "", "number": 0})
    uow = SqlUnitOfWorkFactory(engine)
    errors: list[BaseException] = []
    threads = 8

    def bump() -> None:
        try:
            with uow(write=True) as u:
                now = u.connection.execute(select(meta.c.number).where(meta.c.key == "counter")).scalar_one()
                time.sleep(0.05)  # widen the window a deferred transaction would lose in
                u.connection.execute(meta.update().where(meta.c.key == "counter").values(number=now + 1))
                u.commit()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    with engine.connect() as conn:
        final = conn.execute(select(meta.c.number).where(meta.c.key == "counter")).scalar_one()
    engine.dispose()
    assert errors == []
    assert final == threads
    assert elapsed >= threads * 0.05


def test_sqlite_readers_are_not_blocked_by_a_writer(sqlite_url: str) -> None:
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    uow = SqlUnitOfWorkFactory(engine)
    with uow(write=True) as writer:
        writer.publish([BookingCancelled("bk1", "asked", "u1")])
        with uow() as reader:  # WAL: a reader sees the last commit while the writer works
            assert reader.connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 0
        writer.commit()
    engine.dispose()
