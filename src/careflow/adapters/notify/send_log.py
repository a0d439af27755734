"""Durable send logs: who claimed which notification key, and what came of it.

``claim`` decides who sends a key. The first caller inserts the row (status ``sending``):
the primary key decides across threads and processes, on SQLite and PostgreSQL alike.
A key whose row is ``failed`` is claimed again by a conditional update (``failed`` →
``sending``), so one retrier wins. A row that is ``sent``, or still ``sending``, is not
claimed: the caller is told it was sent before.

``sending`` left behind by a crash between delivering and ``finish`` stays ``sending``:
the message may or may not have gone out, and careflow does not send it again (at most
once for that window, never a duplicate). The listing shows such rows (``status=sending``
with an old ``created_at``) for a person to check.

Each outcome is audited (``notification.send`` by ``system``, ids and channel outcomes).
``MemorySendLog`` is the same contract in memory, for a careflow built without a database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, and_, func, insert, or_, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.adapters.db.engine import WRITE_OPTION
from careflow.adapters.db.tables import booking
from careflow.adapters.db.tables import notification as table
from careflow.adapters.db.uow import SqlUnitOfWork
from careflow.adapters.notify.records import (
    FAILED,
    SENDING,
    SENT,
    NotificationFilter,
    NotificationRecord,
)
from careflow.domain.access import SYSTEM
from careflow.services.ports import AuditEntry, Notification

__all__ = ["MemorySendLog", "SendLog", "SqlSendLog", "audit_entry"]


class SendLog(Protocol):
    def claim(self, notification: Notification, now: datetime) -> dict[str, str] | None:
        """The outcomes of earlier attempts (empty when new) if this caller now owns the
        key, else None (sent before, or being sent)."""
        ...

    def finish(self, key: str, channels: dict[str, str], error: str | None, now: datetime) -> None:
        """Record the outcome, ``sent`` without an error, else ``failed`` with it, and audit
        it (actor ``system``, ids only) in the same transaction."""
        ...

    def find(self, flt: NotificationFilter, offset: int, limit: int) -> tuple[list[NotificationRecord], int]:
        """A page of records, newest first, and the total matching."""
        ...

    def get(self, key: str) -> NotificationRecord | None: ...


def audit_entry(row: NotificationRecord) -> AuditEntry:
    """The audit row of an attempt's outcome: ids and outcomes, never subject or body."""
    return AuditEntry(SYSTEM.id, "notification.send", "notification", row.key,
                      "ok" if row.status == SENT else "failed", reason=row.last_error or "",
                      detail={"topic": row.topic, "audience": row.audience, "recipient": row.recipient,
                              "booking_id": row.booking_id, "channels": dict(row.channels),
                              "attempts": row.attempts})


def _new(n: Notification, now: datetime) -> NotificationRecord:
    return NotificationRecord(n.key, n.audience, n.recipient, n.topic, n.booking_id, {}, SENDING, 1, now,
                              None, None, n.subject, n.body, dict(n.data))


class MemorySendLog:
    """The send log in memory (lost on restart: only for a careflow without a database).
    ``site_of`` (booking id → site id) serves the site filter; without it, a site-limited
    listing keeps only the notifications about no booking."""

    def __init__(self, site_of: Callable[[str], str | None] | None = None,
                 audit: Callable[[AuditEntry], None] | None = None) -> None:
        self._rows: dict[str, NotificationRecord] = {}
        self._lock = threading.Lock()
        self._site_of = site_of or (lambda _booking_id: None)
        self._audit = audit or (lambda _entry: None)

    def claim(self, notification: Notification, now: datetime) -> dict[str, str] | None:
        with self._lock:
            row = self._rows.get(notification.key)
            if row is None:
                self._rows[notification.key] = _new(notification, now)
                return {}
            if row.status != FAILED:
                return None
            self._rows[row.key] = replace(row, status=SENDING, attempts=row.attempts + 1)
            return dict(row.channels)

    def finish(self, key: str, channels: dict[str, str], error: str | None, now: datetime) -> None:
        with self._lock:
            row = self._rows[key]
            row = self._rows[key] = replace(row, channels=dict(channels), status=FAILED if error else SENT,
                                            sent_at=None if error else now, last_error=error)
        self._audit(audit_entry(row))

    def find(self, flt: NotificationFilter, offset: int, limit: int) -> tuple[list[NotificationRecord], int]:
        with self._lock:
            rows = [r for r in self._rows.values() if _matches(r, flt) and (
                flt.site_ids is None or r.booking_id is None or self._site_of(r.booking_id) in flt.site_ids)]
        rows.sort(key=lambda r: (-r.created_at.timestamp(), r.key))
        return rows[offset:offset + limit], len(rows)

    def get(self, key: str) -> NotificationRecord | None:
        with self._lock:
            return self._rows.get(key)


def _matches(r: NotificationRecord, flt: NotificationFilter) -> bool:
    return all(want is None or have == want for have, want in (
        (r.booking_id, flt.booking_id), (r.topic, flt.topic), (r.status, flt.status)))


def _record(row: Any) -> NotificationRecord:
    return NotificationRecord(row.key, row.audience, row.recipient, row.topic, row.booking_id,
                              dict(row.channels or {}), row.status, row.attempts, row.created_at,
                              row.sent_at, row.last_error, row.subject, row.body, dict(row.data or {}))


class SqlSendLog:
    """The ``notification`` table; every method is one short transaction of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _writing(self) -> Connection:
        return self._engine.connect().execution_options(**{WRITE_OPTION: True})

    def claim(self, notification: Notification, now: datetime) -> dict[str, str] | None:
        n = notification
        try:
            with self._writing() as conn, conn.begin():
                conn.execute(insert(table).values(
                    key=n.key, audience=n.audience, recipient=n.recipient, topic=n.topic,
                    booking_id=n.booking_id, channels={}, status=SENDING, attempts=1, created_at=now,
                    sent_at=None, last_error=None, subject=n.subject, body=n.body, data=dict(n.data)))
            return {}
        except IntegrityError:
            pass
        with self._writing() as conn, conn.begin():
            taken = conn.execute(update(table).where(and_(table.c.key == n.key, table.c.status == FAILED))
                                 .values(status=SENDING, attempts=table.c.attempts + 1))
            if taken.rowcount != 1:
                return None
            channels = conn.execute(select(table.c.channels).where(table.c.key == n.key)).scalar_one()
        return dict(channels or {})

    def finish(self, key: str, channels: dict[str, str], error: str | None, now: datetime) -> None:
        with SqlUnitOfWork(self._engine, write=True, clock=lambda: now) as uow:
            conn = uow.connection
            conn.execute(update(table).where(table.c.key == key).values(
                channels=dict(channels), status=FAILED if error else SENT,
                sent_at=None if error else now, last_error=error))
            uow.audit(audit_entry(_record(conn.execute(select(table).where(table.c.key == key)).one())))
            uow.commit()

    def find(self, flt: NotificationFilter, offset: int, limit: int) -> tuple[list[NotificationRecord], int]:
        conds = [col == want for col, want in ((table.c.booking_id, flt.booking_id),
                                               (table.c.topic, flt.topic), (table.c.status, flt.status))
                 if want is not None]
        if flt.site_ids is not None:
            conds.append(or_(table.c.booking_id.is_(None), table.c.booking_id.in_(
                select(booking.c.id).where(booking.c.site_id.in_(sorted(flt.site_ids))))))
        where = and_(true(), *conds)
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
            rows = conn.execute(select(table).where(where)
                                .order_by(table.c.created_at.desc(), table.c.key)
                                .offset(offset).limit(limit)).all()
        return [_record(r) for r in rows], int(total)

    def get(self, key: str) -> NotificationRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.key == key)).first()
        return _record(row) if row is not None else None
