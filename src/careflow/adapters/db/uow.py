"""``UnitOfWork`` on SQL: one connection, one transaction, rolled back unless committed.

A write unit of work on SQLite starts with ``BEGIN IMMEDIATE`` (writers queue for the
lock); on PostgreSQL it runs at READ COMMITTED and relies on the exclusion constraints
and conditional updates, whose firing becomes ``RaceLost``. Events go to the outbox and
audit entries to the audit log in the same transaction as the change they describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from careflow.adapters.db.audit import seal_sqlite
from careflow.adapters.db.booking_store import SqlBookingStore
from careflow.adapters.db.engine import WRITE_OPTION, is_postgres
from careflow.adapters.db.exception_store import SqlExceptionStore
from careflow.adapters.db.master_store import SqlMasterStore
from careflow.adapters.db.pg_hot import PgBookingStore, PgMasterStore, driver, insert_journal
from careflow.adapters.db.races import translating_races
from careflow.adapters.db.tables import outbox
from careflow.domain.events import Event
from careflow.services.ports import AuditEntry, BookingStore, Clock, ExceptionStore, MasterStore

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork:
    """One database transaction over the master and booking stores, outbox and audit log."""

    master: MasterStore
    bookings: BookingStore
    exceptions: ExceptionStore

    def __init__(self, engine: Engine, *, write: bool = False, clock: Clock = _utc_now) -> None:
        self._engine = engine
        self._write = write
        self._clock = clock
        self._conn: Connection | None = None
        self._events: list[dict[str, Any]] = []
        self._audits: list[dict[str, Any]] = []

    @property
    def connection(self) -> Connection:
        """The open connection (for adapter-side helpers such as the master-data writers)."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use it in a with block)")
        return self._conn

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        if self._write:
            conn = conn.execution_options(**{WRITE_OPTION: True})
        elif is_postgres(conn):
            # A reading unit on PostgreSQL runs each statement in its own snapshot (READ
            # COMMITTED would give each its own anyway): no BEGIN and ROLLBACK round trips.
            # What it reads is advice (find, lists); every write re-reads in its transaction.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.begin()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        if is_postgres(conn):  # the booking path's statements go straight to psycopg
            self.master = PgMasterStore(conn, reading=not self._write)
            self.bookings = PgBookingStore(conn)
        else:
            self.master = SqlMasterStore(conn)
            self.bookings = SqlBookingStore(conn)
        self.exceptions = SqlExceptionStore(conn)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        """Write the buffered outbox and audit rows, then commit (a guard firing at commit
        is a lost race too)."""
        with translating_races():
            if is_postgres(self.connection):
                # outbox, audit and COMMIT in one round trip
                with driver(self.connection).pipeline():
                    self._flush()
                    self.connection.commit()
            else:
                self._flush()
                self.connection.commit()

    def _flush(self) -> None:
        """The outbox and audit rows of this transaction, written last: an outbox id is
        taken just before commit, which keeps ids nearly in commit order for the readers
        that tail the outbox (see services/calendar_cache.py)."""
        events, audits = self._events, self._audits
        self._events, self._audits = [], []
        if is_postgres(self.connection):
            insert_journal(driver(self.connection), events, audits)
            return
        if events:
            self.connection.execute(outbox.insert(), events)
        if audits:
            seal_sqlite(self.connection, audits)

    def rollback(self) -> None:
        """Discard everything written in this unit of work."""
        self.connection.rollback()

    def publish(self, events: Sequence[Event]) -> None:
        """Add events to the outbox, in this transaction (written at commit)."""
        at = self._clock()
        self._events.extend(
            {"occurred_at": at, "type": e.name, "aggregate_id": e.aggregate_id,
             "payload": e.payload(), "published_at": None} for e in events)

    def audit(self, entry: AuditEntry) -> None:
        """Append an audit-log row, in this transaction (written at commit)."""
        self._audits.append({
            "at": self._clock(), "actor": entry.actor, "action": entry.action,
            "entity_type": entry.entity_type, "entity_id": entry.entity_id,
            "outcome": entry.outcome, "reason": entry.reason,
            "rule_version": entry.rule_version, "detail": dict(entry.detail)})


class SqlUnitOfWorkFactory:
    """Opens ``SqlUnitOfWork``s on one engine; ``write=True`` for units that change data."""

    def __init__(self, engine: Engine, clock: Clock = _utc_now) -> None:
        self.engine = engine
        self._clock = clock

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, clock=self._clock)
