"""``MasterAdminStore`` on SQL: master data by kind and key, with ETags, usage and locks.

Rows go through ``master_rows`` (and so the ``adapters.codec`` dict forms). An item's
ETag is a hash of its canonical JSON (the codec's dict, keys sorted), so it changes
whenever anything in the item does, with no version column. ``get(lock=True)`` reads
``FOR UPDATE`` (PostgreSQL; SQLite's writers already hold the database).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, Table, and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.adapters import codec
from careflow.adapters.db import master_rows as rows
from careflow.adapters.db.master_writes import bump_master_version
from careflow.adapters.db.tables import (
    allocation,
    authorization,
    booking,
    patient,
    resource,
    service,
    site,
    stock_item,
    stock_reservation,
)
from careflow.domain.errors import Conflict, InvalidRequest
from careflow.services.ports import InUse, Key, MasterAdminStore, UnitOfWork, Usage, Versioned

__all__ = ["SqlMasterAdmin", "admin_store", "etag_of"]

SAMPLE = 5  # ids named in an "in use" answer


@dataclass(frozen=True)
class _Mapping:
    table: Table
    to_row: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Any], Any]
    to_dict: Callable[[Any], dict[str, Any]]
    keys: tuple[str, ...] = ("id",)
    site_column: str | None = None


_KINDS: dict[str, _Mapping] = {
    "site": _Mapping(site, rows.site_row, rows.site_from_row, codec.site_to_dict, site_column="id"),
    "resource": _Mapping(resource, rows.resource_row, rows.resource_from_row, codec.resource_to_dict,
                         site_column="site_id"),
    "service": _Mapping(service, rows.service_row, rows.service_from_row, codec.service_to_dict),
    "stock_item": _Mapping(stock_item, rows.stock_row, rows.stock_from_row, codec.stock_to_dict,
                           ("site_id", "sku"), site_column="site_id"),
    "patient": _Mapping(patient, rows.patient_row, rows.patient_from_row, codec.patient_to_dict),
    "authorization": _Mapping(authorization, rows.authorization_row, rows.authorization_from_row,
                              codec.authorization_to_dict),
}
# Filters each kind's list accepts: a column compared for equality, or a named condition.
_EQUAL = {"site": ("kind",), "resource": ("site_id", "kind", "active"),
          "service": ("kind", "active", "code"), "stock_item": ("site_id", "sku"),
          "patient": (), "authorization": ("patient_id", "service_id", "status")}


def etag_of(kind: str, item: Any) -> str:
    """The strong ETag of an item: a hash of its canonical JSON, quoted."""
    doc = json.dumps(_KINDS[kind].to_dict(item), sort_keys=True, separators=(",", ":"),
                     ensure_ascii=False, default=str)
    return f'"{hashlib.sha256(doc.encode()).hexdigest()[:32]}"'


def admin_store(uow: UnitOfWork) -> MasterAdminStore:
    """The admin store on a SQL unit of work's connection."""
    connection: Connection = getattr(uow, "connection")  # noqa: B009 (SqlUnitOfWork only)
    return SqlMasterAdmin(connection)


def _in_use_now(now: datetime) -> ColumnElement[bool]:
    """Bookings that still use what they hold: held or booked and not over, or arrived."""
    return or_(and_(booking.c.status.in_(("held", "booked")), booking.c.end_at > now),
               booking.c.status == "arrived")


class SqlMasterAdmin:
    """Master-data administration on one connection (the caller's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _where(self, m: _Mapping, key: Key) -> list[ColumnElement[bool]]:
        return [m.table.c[col] == value for col, value in zip(m.keys, key, strict=True)]

    def _versioned(self, kind: str, item: Any) -> Versioned:
        return Versioned(item, etag_of(kind, item))

    def get(self, kind: str, key: Key, *, lock: bool = False) -> Versioned | None:
        m = _KINDS[kind]
        stmt = select(m.table).where(*self._where(m, key))
        if lock:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().first()
        return None if row is None else self._versioned(kind, m.from_row(row))

    def page(self, kind: str, filters: dict[str, Any], sites: frozenset[str] | None,
             offset: int, limit: int) -> tuple[list[Versioned], int]:
        m = _KINDS[kind]
        where = [m.table.c[col] == filters[col] for col in _EQUAL[kind] if col in filters]
        if sites is not None and m.site_column is not None:
            where.append(m.table.c[m.site_column].in_(sorted(sites)))
        if kind == "patient" and filters.get("search"):
            escaped = filters["search"].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(or_(*(func.lower(c).like(f"%{escaped}%", escape="\\")
                               for c in (patient.c.id, patient.c.mrn, patient.c.name))))
        if kind == "stock_item" and filters.get("below_threshold") is not None:
            below = stock_item.c.on_hand - stock_item.c.reserved < stock_item.c.reorder_threshold
            where.append(below if filters["below_threshold"] else ~below)
        total = self._conn.execute(select(func.count()).select_from(m.table).where(*where)).scalar()
        order = [m.table.c[col] for col in m.keys]
        result = self._conn.execute(select(m.table).where(*where).order_by(*order)
                                    .offset(offset).limit(limit)).mappings()
        return [self._versioned(kind, m.from_row(r)) for r in result], int(total or 0)

    def insert(self, kind: str, item: Any) -> Versioned:
        m = _KINDS[kind]
        row = self._row(m, item)
        key = tuple(str(row[k]) for k in m.keys)
        if self.get(kind, key) is not None:
            raise Conflict(f"{kind.replace('_', ' ')} {'/'.join(key)!r} already exists")
        self._unique_code(kind, item)
        if kind == "stock_item":  # reserved is the booking ledger's, never the caller's
            row["reserved"] = 0
        try:
            with self._conn.begin_nested():
                self._conn.execute(m.table.insert().values(**row))
        except IntegrityError as exc:  # a concurrent creator won
            raise Conflict(f"{kind.replace('_', ' ')} {'/'.join(key)!r} already exists") from exc
        found = self.get(kind, key)
        assert found is not None
        return found

    def update(self, kind: str, item: Any) -> Versioned:
        m = _KINDS[kind]
        row = self._row(m, item)
        if kind == "stock_item":  # reserved is the booking ledger's, never the caller's
            del row["reserved"]
        self._unique_code(kind, item)
        key = tuple(str(row[k]) for k in m.keys)
        try:
            with self._conn.begin_nested():
                self._conn.execute(update(m.table).where(*self._where(m, key)).values(**row))
        except IntegrityError as exc:
            if kind == "stock_item":
                raise InvalidRequest("on_hand cannot go below the quantity reserved for bookings",
                                     "on_hand") from exc
            raise Conflict(f"{kind} {'/'.join(key)!r} conflicts with another item") from exc
        found = self.get(kind, key)
        assert found is not None
        return found

    def delete(self, kind: str, key: Key) -> None:
        m = _KINDS[kind]
        if kind == "patient":
            self._conn.execute(delete(authorization).where(authorization.c.patient_id == key[0]))
        self._conn.execute(delete(m.table).where(*self._where(m, key)))

    def bump_version(self) -> int:
        return bump_master_version(self._conn)

    def _row(self, m: _Mapping, item: Any) -> dict[str, Any]:
        """The item's row; text longer than its column is refused, naming the field."""
        row = m.to_row(item)
        for col in m.table.columns:
            length = getattr(col.type, "length", None) if isinstance(col.type, String) else None
            value = row.get(col.name)
            if length and isinstance(value, str) and len(value) > length:
                raise InvalidRequest(f"{col.name} is longer than {length} characters", col.name)
        return row

    def _unique_code(self, kind: str, item: Any) -> None:
        if kind != "service":
            return
        other = self._conn.execute(select(service.c.id).where(service.c.code == item.code,
                                                              service.c.id != item.id)).scalar()
        if other is not None:
            raise Conflict(f"service code {item.code!r} is taken by service {other!r}")

    # --- references --------------------------------------------------------------

    def _exists(self, table: Table, ident: str | None, field: str) -> None:
        if ident is None:
            return
        found = self._conn.execute(select(func.count()).select_from(table)
                                   .where(table.c.id == ident)).scalar()
        if not found:
            raise InvalidRequest(f"{field}: {table.name} {ident!r} does not exist", field)

    def check_references(self, kind: str, item: Any) -> None:
        if kind in ("resource", "stock_item"):
            self._exists(site, item.site_id, "site_id")
        if kind == "resource":
            for i, block in enumerate(item.availability.blocks):
                self._exists(site, block.site_id, f"availability.blocks.{i}.site_id")
            room = getattr(item.profile, "room_id", None)
            self._exists(resource, room, "profile.room_id")
        if kind == "authorization":
            self._exists(patient, item.patient_id, "patient_id")
            self._exists(service, item.service_id, "service_id")

    # --- usage -------------------------------------------------------------------

    def _bookings(self, stmt: Select[Any], what: str = "booking") -> InUse | None:
        ids = sorted({str(r[0]) for r in self._conn.execute(stmt)})
        return InUse(what, len(ids), tuple(ids[:SAMPLE])) if ids else None

    def _any(self, stmt: Select[Any]) -> bool:
        return self._conn.execute(stmt.limit(1)).first() is not None

    def usage(self, kind: str, key: Key, now: datetime) -> Usage:
        live = _in_use_now(now)
        ident = key[0]
        blocking: list[InUse | None] = []
        history = False
        if kind == "site":
            blocking.append(self._bookings(select(booking.c.id).where(booking.c.site_id == ident, live)))
            blocking.append(self._bookings(select(resource.c.id).where(resource.c.site_id == ident),
                                           "resource"))
            blocking.append(self._bookings(select(stock_item.c.sku).where(stock_item.c.site_id == ident),
                                           "stock item"))
            visiting = [r.id for r in self._all_resources()
                        if r.site_id != ident and any(b.site_id == ident for b in r.availability.blocks)]
            blocking.append(InUse("resource with template blocks there", len(visiting),
                                  tuple(sorted(visiting)[:SAMPLE])) if visiting else None)
            history = self._any(select(booking.c.id).where(booking.c.site_id == ident))
        elif kind == "resource":
            used = select(allocation.c.booking_id).join(booking, booking.c.id == allocation.c.booking_id)
            blocking.append(self._bookings(used.where(allocation.c.resource_id == ident,
                                                      allocation.c.active, live)))
            rooms = [r.id for r in self._all_resources()
                     if getattr(r.profile, "room_id", None) == ident]
            blocking.append(InUse("equipment fixed in it", len(rooms), tuple(sorted(rooms)[:SAMPLE]))
                            if rooms else None)
            history = self._any(select(allocation.c.id).where(allocation.c.resource_id == ident))
        elif kind == "service":
            blocking.append(self._bookings(select(booking.c.id).where(booking.c.service_id == ident, live)))
            history = self._any(select(booking.c.id).where(booking.c.service_id == ident))
        elif kind == "stock_item":
            held = select(stock_reservation.c.booking_id).join(
                booking, booking.c.id == stock_reservation.c.booking_id).where(
                stock_reservation.c.site_id == key[0], stock_reservation.c.sku == key[1])
            blocking.append(self._bookings(held.where(stock_reservation.c.state == "reserved")))
            history = self._any(held)
        elif kind == "patient":
            blocking.append(self._bookings(select(booking.c.id).where(booking.c.patient_id == ident, live)))
            history = self._any(select(booking.c.id).where(booking.c.patient_id == ident))
        elif kind == "authorization":
            found = self.get(kind, key)
            if found is not None:
                auth = found.item
                blocking.append(self._bookings(select(booking.c.id).where(
                    booking.c.patient_id == auth.patient_id, booking.c.service_id == auth.service_id, live)))
        return Usage(tuple(u for u in blocking if u is not None), history)

    def _all_resources(self) -> list[Any]:
        return [rows.resource_from_row(r) for r in self._conn.execute(select(resource)).mappings()]
