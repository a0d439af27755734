"""The booking path's hot statements on PostgreSQL, issued through the psycopg connection.

SQLAlchemy's execution layer costs about twice psycopg's own client CPU per statement
(compiling, cache keys, result proxies, type processors), and a booking runs about ten
statements. On PostgreSQL the stores below send those statements straight to the
driver connection the unit of work's SQLAlchemy ``Connection`` wraps, so they run in
the same transaction: plain SQL, server-side prepared, rows decoded as tuples, and the
writes of one booking sent as one pipelined batch. Everything else (and all of SQLite)
stays on the SQLAlchemy stores these classes extend.

Driver errors are re-raised as SQLAlchemy's ``DBAPIError`` family (parameters hidden, as
``make_engine`` configures), so ``translating_races`` and every caller see the same
exceptions on both paths.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from careflow.adapters.db import master_rows as rows
from careflow.adapters.db.audit import canonical_body
from careflow.adapters.db.booking_rows import booking_row, overrides_to_json
from careflow.adapters.db.booking_store import SqlBookingStore
from careflow.adapters.db.master_store import SqlMasterStore
from careflow.adapters.db.races import stock_race, translating_races
from careflow.adapters.db.tables import META_MASTER_VERSION, authorization, patient, stock_item
from careflow.domain.bookings import ACTIVE_STATUSES, Booking
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.patients import Authorization, Patient
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span, from_ts

__all__ = ["PgBookingStore", "PgMasterStore", "driver", "insert_journal"]

_ACTIVE = sorted(s.value for s in ACTIVE_STATUSES)
_PATIENT_COLS = [c.name for c in patient.c]
_AUTH_COLS = [c.name for c in authorization.c]
_STOCK_COLS = [c.name for c in stock_item.c]
_BOOKING_COLS = ("id", "patient_id", "service_id", "site_id", "status", "start_at", "end_at",
                 "urgency", "expires_at", "created_at", "created_by", "reason", "overrides",
                 "rule_version", "version")


def _epoch(column: str) -> str:
    return f"floor(extract(epoch FROM {column}))::bigint"


VERSION = "SELECT number FROM meta WHERE key = %s"
PATIENT = f"SELECT {', '.join(_PATIENT_COLS)} FROM patient WHERE id = %s"
AUTHORIZATIONS = (f'SELECT {", ".join(_AUTH_COLS)} FROM "authorization" '
                  "WHERE patient_id = %s ORDER BY id")
STOCK = f"SELECT {', '.join(_STOCK_COLS)} FROM stock_item WHERE site_id = %s AND sku = ANY(%s)"
LOCK = "SELECT id FROM resource WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
# The exclusion constraint's GiST index answers the range overlap directly.
BUSY = (f"SELECT resource_id, {_epoch('start_at')}, {_epoch('end_at')}, lane, booking_id, role "
        "FROM allocation WHERE resource_id = ANY(%s) AND during && tstzrange(%s, %s, '[)') "
        "AND active")
PATIENT_BUSY = (f"SELECT {_epoch('start_at')}, {_epoch('end_at')} FROM booking "
                "WHERE patient_id = %s AND status = ANY(%s) AND start_at < %s AND end_at > %s")
PATIENT_BUSY_EXCLUDING = PATIENT_BUSY + " AND id <> %s"
INSERT_BOOKING = (f"INSERT INTO booking ({', '.join(_BOOKING_COLS)}) "
                  f"VALUES ({', '.join(['%s'] * len(_BOOKING_COLS))})")
INSERT_ALLOCATION = ("INSERT INTO allocation (booking_id, resource_id, role, lane, start_at, "
                     "end_at, active, revision) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
RESERVE = ("UPDATE stock_item SET reserved = reserved + %(q)s "
           "WHERE site_id = %(s)s AND sku = %(k)s AND on_hand - reserved >= %(q)s")
INSERT_RESERVATION = ("INSERT INTO stock_reservation (booking_id, site_id, sku, quantity, state, "
                      "revision) VALUES (%s, %s, %s, %s, 'reserved', %s)")
INSERT_OUTBOX = ("INSERT INTO outbox (occurred_at, type, aggregate_id, payload, published_at) "
                 "VALUES (%s, %s, %s, %s, NULL)")
# seq and the hashes come from the chain trigger (migration 0002, adapters/db/audit.py).
INSERT_AUDIT = ("INSERT INTO audit_log (at, actor, action, entity_type, entity_id, outcome, "
                "reason, rule_version, detail, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


def driver(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy connection (same transaction)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("the PostgreSQL hot path needs a psycopg 3 connection")
    return raw


@contextmanager
def _wrapped(sql: str) -> Iterator[None]:
    """Driver errors as SQLAlchemy's exceptions (parameters hidden), as on the Core path."""
    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, hide_parameters=True) from exc


def _aware(value: datetime | None) -> datetime | None:
    """The column type's promise (``coltypes.UTCDateTime``): no naive instants stored."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored (needs a zone)")
    return value


def insert_journal(raw: psycopg.Connection[Any], events: Sequence[dict[str, Any]],
                   audits: Sequence[dict[str, Any]]) -> None:
    """Queue the outbox and audit rows of a transaction (call inside a pipeline)."""
    cur = raw.cursor()
    if events:
        with _wrapped(INSERT_OUTBOX):
            cur.executemany(INSERT_OUTBOX, [
                (_aware(e["occurred_at"]), e["type"], e["aggregate_id"], Jsonb(e["payload"]))
                for e in events])
    if audits:
        with _wrapped(INSERT_AUDIT):
            cur.executemany(INSERT_AUDIT, [
                (_aware(a["at"]), a["actor"], a["action"], a["entity_type"], a["entity_id"],
                 a["outcome"], a["reason"], a["rule_version"], Jsonb(a["detail"]), canonical_body(a))
                for a in audits])


class PgMasterStore(SqlMasterStore):
    """``SqlMasterStore`` with the booking path's reads on the driver connection.

    Reading a patient also reads their authorizations in the same round trip; a check
    that needs them (in this transaction) gets those rows instead of asking again."""

    def __init__(self, conn: Connection, *, reading: bool = False) -> None:
        super().__init__(conn)
        self._raw = driver(conn)
        self._authorizations: tuple[str, list[Authorization]] | None = None
        # A reading unit asks for the version several times (the catalog, the calendar read
        # model); once is enough: it writes nothing that could move it.
        self._reading = reading
        self._version: int | None = None

    def version(self) -> int:
        if self._version is not None:
            return self._version
        with _wrapped(VERSION):
            row = self._raw.execute(VERSION, (META_MASTER_VERSION,), prepare=True).fetchone()
        version = int(row[0]) if row and row[0] is not None else 0
        if self._reading:
            self._version = version
        return version

    def patient(self, patient_id: str) -> Patient | None:
        raw = self._raw
        with _wrapped(PATIENT), raw.pipeline():
            found = raw.cursor().execute(PATIENT, (patient_id,), prepare=True)
            auths = raw.cursor().execute(AUTHORIZATIONS, (patient_id,), prepare=True)
        row = found.fetchone()
        self._authorizations = (patient_id, [
            rows.authorization_from_row(dict(zip(_AUTH_COLS, r, strict=True))) for r in auths.fetchall()])
        return None if row is None else rows.patient_from_row(dict(zip(_PATIENT_COLS, row, strict=True)))

    def authorizations(self, patient_id: PatientId) -> list[Authorization]:
        cached = self._authorizations
        if cached is not None and cached[0] == patient_id:
            return list(cached[1])
        with _wrapped(AUTHORIZATIONS):
            found = self._raw.execute(AUTHORIZATIONS, (patient_id,), prepare=True).fetchall()
        return [rows.authorization_from_row(dict(zip(_AUTH_COLS, r, strict=True))) for r in found]

    def stock(self, site_id: SiteId, skus: Collection[str]) -> dict[str, StockLevel]:
        if not skus:
            return {}
        with _wrapped(STOCK):
            found = self._raw.execute(STOCK, (site_id, list(skus)), prepare=True).fetchall()
        return {r[1]: rows.stock_from_row(dict(zip(_STOCK_COLS, r, strict=True))) for r in found}


class PgBookingStore(SqlBookingStore):
    """``SqlBookingStore`` with the booking path's reads and inserts on the driver connection."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._raw = driver(conn)

    def busy(self, resource_ids: Collection[ResourceId],
             window: Span) -> dict[ResourceId, list[Busy]]:
        if not resource_ids:
            return {}
        with _wrapped(BUSY):
            found = self._raw.execute(BUSY, (list(resource_ids), from_ts(window[0]), from_ts(window[1])),
                                      prepare=True).fetchall()
        out: dict[ResourceId, list[Busy]] = {}
        for rid, start, end, lane, bid, role in found:
            entries = out.get(rid)
            if entries is None:
                entries = out[rid] = []
            entries.append(Busy(start, end, lane, bid, role))
        return out

    def lock_resources(self, resource_ids: Collection[ResourceId]) -> None:
        if not resource_ids:
            return
        with translating_races(), _wrapped(LOCK):
            self._raw.execute(LOCK, (sorted(resource_ids),), prepare=True).fetchall()

    def patient_busy(self, patient_id: PatientId, window: Span, exclude: str | None) -> list[Span]:
        params: tuple[Any, ...] = (patient_id, _ACTIVE, from_ts(window[1]), from_ts(window[0]))
        sql = PATIENT_BUSY if exclude is None else PATIENT_BUSY_EXCLUDING
        if exclude is not None:
            params += (exclude,)
        with _wrapped(sql):
            found = self._raw.execute(sql, params, prepare=True).fetchall()
        return sorted((int(s), int(e)) for s, e in found)

    def add(self, booking_: Booking) -> None:
        """Insert the booking, its allocations and reservations and reserve the stock, in
        one round trip; ``RaceLost`` when a guard fires or the stock is gone."""
        b = booking_row(booking_)
        b["overrides"] = Jsonb(overrides_to_json(booking_.overrides))
        for key in ("start_at", "end_at", "expires_at", "created_at"):
            b[key] = _aware(b[key])
        raw = self._raw
        with translating_races(), _wrapped(INSERT_BOOKING), raw.pipeline() as pipeline:
            raw.cursor().execute(INSERT_BOOKING, [b[c] for c in _BOOKING_COLS], prepare=True)
            if booking_.allocations:
                raw.cursor().executemany(INSERT_ALLOCATION, [
                    (booking_.id, a.resource_id, a.role, a.lane, _aware(a.start), _aware(a.end),
                     booking_.active, booking_.version) for a in booking_.allocations])
            if booking_.active and booking_.items:
                taken = [(raw.cursor().execute(RESERVE, {"s": booking_.site_id, "k": i.sku,
                                                         "q": i.quantity}, prepare=True), i)
                         for i in booking_.items]
                pipeline.sync()
                for cur, item in taken:
                    if cur.rowcount != 1:
                        raise stock_race(booking_.site_id, item.sku, item.quantity)
                raw.cursor().executemany(INSERT_RESERVATION, [
                    (booking_.id, booking_.site_id, i.sku, i.quantity, booking_.version)
                    for i in booking_.items])
