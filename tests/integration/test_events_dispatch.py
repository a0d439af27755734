"""The outbox dispatched in process on SQLite and PostgreSQL: once per event and handler."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from careflow.adapters.db.tables import inbox, meta, outbox
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.adapters.events.sql import SqlOutbox, inbox_of
from careflow.domain.events import BookingCancelled
from careflow.services.dispatch import DEAD, Dispatcher, HandlerRegistry, drain


def now() -> datetime:
    return datetime.now(UTC)


def write_events(engine: Engine, count: int, start: int = 0) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    for i in range(start, start + count):
        with uow(write=True) as unit:
            unit.publish([BookingCancelled(f"b{i}", reason="test")])
            unit.commit()


def record_effect(payload: dict[str, Any], uow: Any) -> None:
    """Not idempotent by itself: a second run would add a second row."""
    key = f"fx-{payload['aggregate_id']}-{uuid.uuid4().hex[:8]}"
    uow.connection.execute(meta.insert().values(key=key, value="", number=0))


def effects(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        keys = conn.execute(select(meta.c.key).where(meta.c.key.like("fx-%"))).scalars().all()
    return Counter(k.rsplit("-", 1)[0] for k in keys)


def dispatcher(engine: Engine, registry: HandlerRegistry, **kw: Any) -> Dispatcher:
    return Dispatcher(SqlUnitOfWorkFactory(engine), inbox_of, registry, now, **kw)


def test_each_event_reaches_each_handler_once_and_is_marked_published(engine: Engine) -> None:
    write_events(engine, 25)
    registry = HandlerRegistry()
    registry.register("BookingCancelled", "effects", record_effect)
    d, source = dispatcher(engine, registry), SqlOutbox(engine, now)
    reports = list(drain(d, source, limit=10))
    assert sum(r.done for r in reports) == 25, reports
    assert effects(engine) == Counter({f"fx-b{i}": 1 for i in range(25)})
    assert source.pending() == 0
    for event in source.load(list(range(1, 100))):  # redelivery: skipped by the inbox
        assert d.deliver(event).skipped == 1
    assert sum(effects(engine).values()) == 25


def test_a_failing_handler_is_retried_then_dead_lettered_visibly(engine: Engine) -> None:
    write_events(engine, 2)

    def broken(payload: dict[str, Any], uow: Any) -> None:
        record_effect(payload, uow)
        raise RuntimeError("no")

    registry = HandlerRegistry()
    registry.register("BookingCancelled", "broken", broken)
    registry.register("BookingCancelled", "effects", record_effect)
    d, source = dispatcher(engine, registry, max_attempts=2, backoff_seconds=0.001), SqlOutbox(engine, now)
    first = d.dispatch_once(source)
    assert (first.done, first.failed) == (2, 2)
    import time

    time.sleep(0.01)
    assert d.retry_due(source).dead == 2
    with engine.connect() as conn:
        rows = conn.execute(select(inbox.c.status, inbox.c.attempts, inbox.c.last_error)
                            .where(inbox.c.consumer == "broken")).all()
    assert [(r.status, r.attempts) for r in rows] == [(DEAD, 2), (DEAD, 2)]
    assert all("RuntimeError: no" in r.last_error for r in rows)
    assert effects(engine) == Counter({"fx-b0": 1, "fx-b1": 1})  # the broken one's rolled back
    assert source.pending() == 0


@pytest.mark.postgres
def test_two_dispatchers_at_once_on_postgres_deliver_each_event_once(postgres_url: str) -> None:
    from careflow.adapters.db import make_engine, migrate

    migrate(postgres_url)
    engine = make_engine(postgres_url)
    try:
        write_events(engine, 120)
        registry = HandlerRegistry()
        registry.register("BookingCancelled", "effects", record_effect)
        claimed: list[list[int]] = [[], []]
        errors: list[BaseException] = []

        def run(slot: int) -> None:
            try:
                d, source = dispatcher(engine, registry), SqlOutbox(engine, now)
                for report in drain(d, source, limit=7):
                    claimed[slot].append(report.events)
                # and the same events again, straight, racing the other thread: the inbox decides
                for event in source.load(list(range(1, 200))):
                    d.deliver(event)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sum(sum(c) for c in claimed) == 120  # SKIP LOCKED: no event claimed twice
        assert effects(engine) == Counter({f"fx-b{i}": 1 for i in range(120)})
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 120
            unpublished = conn.execute(select(func.count()).select_from(outbox)
                                       .where(outbox.c.published_at.is_(None))).scalar_one()
            assert unpublished == 0
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
