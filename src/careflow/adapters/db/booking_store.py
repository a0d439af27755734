"""``BookingStore`` on SQL: bookings with their allocations and stock reservations.

``busy`` is on the hot path of ``find``: one query over ``allocation`` through the
``(resource_id, start_at)`` index, bounded by ``start_at < window end`` and
``end_at > window start``, returning plain tuples turned into ``Busy`` entries.
"""

from __future__ import annotations

import typing
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    TextClause,
    bindparam,
    cast,
    exists,
    extract,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from careflow.adapters.db import change_feed, stock_ledger
from careflow.adapters.db.booking_rows import allocation_rows, assemble, booking_row
from careflow.adapters.db.coltypes import UTCDateTime
from careflow.adapters.db.engine import is_postgres
from careflow.adapters.db.races import translating_races
from careflow.adapters.db.tables import allocation, booking, patient, resource, stock_reservation
from careflow.domain.bookings import ACTIVE_STATUSES, Booking, BookingStatus
from careflow.domain.ids import PatientId, ResourceId
from careflow.domain.occupancy import Busy
from careflow.domain.timespans import Span, from_ts
from careflow.services.ports import BookingFilter, RaceLost

__all__ = ["SqlBookingStore"]

_ACTIVE = sorted(s.value for s in ACTIVE_STATUSES)


def _epoch(column: ColumnElement[datetime], sqlite: bool) -> ColumnElement[int]:
    """POSIX seconds computed by the database (no datetime objects on the hot path)."""
    if sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; drop the fraction
        return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
    return cast(func.floor(extract("epoch", column)), BigInteger)


BusyRow = Select[ResourceId, int, int, int, str, str]


def _busy_query(sqlite: bool) -> BusyRow:
    a = allocation.c
    overlap: list[ColumnElement[bool] | TextClause]
    if sqlite:
        overlap = [a.start_at < bindparam("hi", type_=UTCDateTime),
                   a.end_at > bindparam("lo", type_=UTCDateTime)]
    else:  # the exclusion constraint's GiST index answers range overlap directly
        overlap = [text("allocation.during && tstzrange(:lo, :hi, '[)')").bindparams(
            bindparam("lo", type_=UTCDateTime), bindparam("hi", type_=UTCDateTime))]
    stmt = (select(a.resource_id, _epoch(a.start_at, sqlite), _epoch(a.end_at, sqlite), a.lane,
                   a.booking_id, a.role)
            .where(a.resource_id.in_(bindparam("ids", expanding=True)), *overlap, a.active == true()))
    return typing.cast(BusyRow, stmt)


_BUSY = {True: _busy_query(True), False: _busy_query(False)}


class SqlBookingStore:
    """Bookings read and written inside one unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = is_postgres(conn)
        self._sqlite = not self._pg

    # --- reads -----------------------------------------------------------------------

    def _load(self, stmt: Select[Any]) -> list[Booking]:
        rows = list(self._conn.execute(stmt).mappings())
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        allocs = self._conn.execute(select(allocation).where(allocation.c.booking_id.in_(ids)))
        items = self._conn.execute(select(stock_reservation)
                                   .where(stock_reservation.c.booking_id.in_(ids)))
        return assemble(rows, allocs.mappings(), items.mappings())

    def get(self, booking_id: str, *, lock: bool = False) -> Booking | None:
        """One booking; ``lock`` takes a row lock on PostgreSQL (SQLite writers are serial)."""
        stmt = select(booking).where(booking.c.id == booking_id)
        if lock and self._pg:
            stmt = stmt.with_for_update()
        with translating_races():
            found = self._load(stmt)
        return found[0] if found else None

    def find(self, flt: BookingFilter, offset: int, limit: int) -> tuple[list[Booking], int]:
        """A page of bookings matching the filter, by start time, and the total."""
        where: list[Any] = []
        if flt.patient_id is not None:
            where.append(booking.c.patient_id == flt.patient_id)
        if flt.site_id is not None:
            where.append(booking.c.site_id == flt.site_id)
        if flt.site_ids is not None:
            where.append(booking.c.site_id.in_(sorted(flt.site_ids)))
        if flt.status is not None:
            where.append(booking.c.status == flt.status.value)
        if flt.start_from is not None:
            where.append(booking.c.start_at >= flt.start_from)
        if flt.start_to is not None:
            where.append(booking.c.start_at < flt.start_to)
        if flt.resource_id is not None:  # on the booking's current allocations only
            latest = aliased(allocation)
            current = (select(func.max(latest.c.revision))
                       .where(latest.c.booking_id == booking.c.id).scalar_subquery())
            where.append(exists().where(allocation.c.booking_id == booking.c.id,
                                        allocation.c.resource_id == flt.resource_id,
                                        allocation.c.revision == current))
        total = self._conn.execute(select(func.count()).select_from(booking).where(*where)).scalar()
        page = self._load(select(booking).where(*where)
                          .order_by(booking.c.start_at, booking.c.id).offset(offset).limit(limit))
        return page, int(total or 0)

    def busy(self, resource_ids: Collection[ResourceId],
             window: Span) -> dict[ResourceId, list[Busy]]:
        """Active allocations overlapping ``window`` per resource."""
        if not resource_ids:
            return {}
        params = {"ids": list(resource_ids), "lo": from_ts(window[0]), "hi": from_ts(window[1])}
        out: dict[ResourceId, list[Busy]] = {}
        for rid, start, end, lane, bid, role in self._conn.execute(_BUSY[self._sqlite], params).all():
            found = out.get(rid)
            if found is None:
                found = out[rid] = []
            found.append(Busy(start, end, lane, bid, role))
        return out

    def lock_resources(self, resource_ids: Collection[ResourceId]) -> None:
        """On PostgreSQL, lock the resource rows (in id order, so writers never deadlock)."""
        if self._sqlite or not resource_ids:
            return  # SQLite writers are serialized by BEGIN IMMEDIATE already
        stmt = (select(resource.c.id).where(resource.c.id.in_(sorted(resource_ids)))
                .order_by(resource.c.id).with_for_update())
        self._conn.execute(stmt).all()

    def change_head(self) -> int:
        """The highest outbox id (0 when empty)."""
        return change_feed.change_head(self._conn)

    def changes_since(self, after: int, limit: int = 10_000) -> list[tuple[int, str]]:
        """(outbox id, aggregate id) after ``after``, in id order."""
        return change_feed.changes_since(self._conn, after, limit)

    def allocations_of(self, booking_ids: Collection[str]) -> list[tuple[ResourceId, Busy]]:
        """Active allocations of these bookings, per resource."""
        return change_feed.allocations_of(self._conn, booking_ids)

    def patient_busy(self, patient_id: PatientId, window: Span, exclude: str | None) -> list[Span]:
        """Spans of the patient's other active bookings overlapping ``window``."""
        stmt = select(booking.c.start_at, booking.c.end_at).where(
            booking.c.patient_id == patient_id, booking.c.status.in_(_ACTIVE),
            booking.c.start_at < from_ts(window[1]), booking.c.end_at > from_ts(window[0]))
        if exclude is not None:
            stmt = stmt.where(booking.c.id != exclude)
        return sorted((int(s.timestamp()), int(e.timestamp())) for s, e in self._conn.execute(stmt))

    def open_holds(self, patient_id: PatientId, now: datetime) -> int:
        """The patient's unexpired holds; on PostgreSQL after locking the patient's row, so
        concurrent holds for one patient count each other (SQLite writers are serial)."""
        if self._pg:
            self._conn.execute(select(patient.c.id).where(patient.c.id == patient_id)
                               .with_for_update()).all()
        stmt = select(func.count()).select_from(booking).where(
            booking.c.patient_id == patient_id, booking.c.status == BookingStatus.HELD.value,
            booking.c.expires_at > now)
        return int(self._conn.execute(stmt).scalar_one())

    def expired_holds(self, now: datetime, limit: int = 100) -> list[Booking]:
        """Holds past their expiry, oldest first; on PostgreSQL locked, skipping locked ones."""
        stmt = (select(booking).where(booking.c.status == BookingStatus.HELD.value,
                                      booking.c.expires_at <= now)
                .order_by(booking.c.expires_at, booking.c.id).limit(limit))
        if self._pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return self._load(stmt)

    # --- writes ----------------------------------------------------------------------

    def _insert_allocations(self, b: Booking) -> None:
        if b.allocations:
            self._conn.execute(allocation.insert(), allocation_rows(b, b.version, b.active))

    def add(self, booking_: Booking) -> None:
        """Insert the booking, its allocations and reservations; reserve stock (or ``RaceLost``)."""
        with translating_races():
            self._conn.execute(booking.insert(), booking_row(booking_))
            self._insert_allocations(booking_)
            if booking_.active:
                stock_ledger.reserve(self._conn, booking_.id, booking_.site_id, booking_.items,
                                     booking_.version)

    def save(self, booking_: Booking, expected_version: int) -> None:
        """Write status, version, hold expiry, reason, overrides (and times and site, which a
        reschedule moves); optimistic: ``RaceLost`` when the stored version is not expected."""
        row = booking_row(booking_)
        values = {k: row[k] for k in ("status", "version", "expires_at", "reason", "overrides",
                                      "site_id", "start_at", "end_at")}
        stmt = (update(booking).where(booking.c.id == booking_.id,
                                      booking.c.version == expected_version).values(**values))
        with translating_races():
            changed = self._conn.execute(stmt).rowcount
        if changed != 1:
            raise RaceLost(f"booking {booking_.id} was changed concurrently "
                           f"(expected version {expected_version})")

    def _deactivate(self, booking_id: str) -> None:
        self._conn.execute(update(allocation).where(allocation.c.booking_id == booking_id,
                                                    allocation.c.active == true())
                           .values(active=False))

    def release(self, booking_: Booking) -> None:
        """Free the allocations and release the stock reservations still outstanding."""
        with translating_races():
            self._deactivate(booking_.id)
            stock_ledger.release(self._conn, booking_.id)

    def consume(self, booking_: Booking) -> None:
        """Turn the stock reservations into consumption (on hand goes down)."""
        with translating_races():
            stock_ledger.consume(self._conn, booking_.id)

    def replace(self, booking_: Booking, previous: Booking) -> None:
        """Swap ``previous``'s allocations (and, when the site or items change, its
        reservations) for ``booking_``'s, under the booking's new revision."""
        with translating_races():
            self._deactivate(booking_.id)
            self._insert_allocations(booking_)
            if (booking_.site_id, _items(booking_)) != (previous.site_id, _items(previous)):
                stock_ledger.release(self._conn, booking_.id)
                if booking_.active:
                    stock_ledger.reserve(self._conn, booking_.id, booking_.site_id,
                                         booking_.items, booking_.version)


def _items(b: Booking) -> Sequence[tuple[str, int]]:
    return sorted((i.sku, i.quantity) for i in b.items)
