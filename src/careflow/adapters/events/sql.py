"""The outbox as a source of events and the inbox of in-process consumers, on SQL.

On PostgreSQL a claimed batch is locked ``FOR UPDATE SKIP LOCKED`` until it is marked
published, so several server processes dispatch different events. SQLite has one writer
at a time: a batch is read, delivered, then marked in a short write transaction (the
inbox still makes a double delivery take effect once).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from careflow.adapters.db.engine import WRITE_OPTION, is_postgres
from careflow.adapters.db.tables import inbox, outbox
from careflow.services.dispatch import RETRY, InboxRecord, OutboxEvent
from careflow.services.ports import Clock, UnitOfWork

__all__ = ["SqlInbox", "SqlOutbox", "inbox_of"]


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(int(row.id), str(row.type), str(row.aggregate_id), dict(row.payload or {}))


class SqlOutbox:
    """Unpublished outbox rows, in id order."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def _select(self, limit: int) -> Any:
        o = outbox.c
        return (select(o.id, o.type, o.aggregate_id, o.payload).where(o.published_at.is_(None))
                .order_by(o.id).limit(limit))

    def unpublished(self, limit: int) -> list[OutboxEvent]:
        with self._engine.connect() as conn:
            return [_event(r) for r in conn.execute(self._select(limit))]

    def mark_published(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            self._mark(conn, ids)

    def _mark(self, conn: Connection, ids: list[int]) -> None:
        o = outbox.c
        conn.execute(update(outbox).where(and_(o.id.in_(ids), o.published_at.is_(None)))
                     .values(published_at=self._clock()))

    @contextmanager
    def claim(self, limit: int) -> Iterator[list[OutboxEvent]]:
        if self._engine.dialect.name != "postgresql":
            events = self.unpublished(limit)
            yield events
            self.mark_published([e.id for e in events])
            return
        with self._engine.connect() as conn, conn.begin():
            rows = conn.execute(self._select(limit).with_for_update(skip_locked=True))
            events = [_event(r) for r in rows]
            yield events
            if events:
                self._mark(conn, [e.id for e in events])

    def load(self, ids: list[int]) -> list[OutboxEvent]:
        if not ids:
            return []
        o = outbox.c
        stmt = select(o.id, o.type, o.aggregate_id, o.payload).where(o.id.in_(ids)).order_by(o.id)
        with self._engine.connect() as conn:
            return [_event(r) for r in conn.execute(stmt)]

    def pending(self) -> int:
        """How many rows wait to be published."""
        from sqlalchemy import func

        with self._engine.connect() as conn:
            stmt = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            return int(conn.execute(stmt).scalar_one())


class SqlInbox:
    """The inbox on one unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, consumer: str, event_id: int) -> InboxRecord | None:
        i = inbox.c
        row = self._conn.execute(select(i.status, i.attempts).where(
            i.consumer == consumer, i.event_id == event_id)).first()
        return None if row is None else InboxRecord(str(row.status), int(row.attempts))

    def record(self, consumer: str, event_id: int, seen: InboxRecord | None, status: str,
               attempts: int, error: str | None, next_at: datetime | None, at: datetime) -> bool:
        values = {"status": status, "attempts": attempts, "last_error": error,
                  "next_attempt_at": next_at, "processed_at": at if status == "done" else None}
        if seen is None:
            insert = pg_insert if is_postgres(self._conn) else sqlite_insert
            stmt = insert(inbox).values(consumer=consumer, event_id=event_id, **values)
            done = stmt.on_conflict_do_nothing().returning(inbox.c.event_id)
            return self._conn.execute(done).first() is not None
        i = inbox.c
        stmt2 = update(inbox).where(i.consumer == consumer, i.event_id == event_id,
                                    i.status == seen.status, i.attempts == seen.attempts).values(**values)
        return self._conn.execute(stmt2.returning(i.event_id)).first() is not None

    def due(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        i = inbox.c
        stmt = (select(i.consumer, i.event_id).where(i.status == RETRY, i.next_attempt_at <= now)
                .order_by(i.event_id).limit(limit))
        return [(str(c), int(e)) for c, e in self._conn.execute(stmt)]


def inbox_of(uow: UnitOfWork) -> SqlInbox:
    """The inbox on a SQL unit of work's connection."""
    return SqlInbox(uow.connection)  # type: ignore[attr-defined]
