"""``BedStore`` on SQL: admissions and the beds' housekeeping status (SQLite and PostgreSQL).

``lock_beds`` creates the missing status rows (``ON CONFLICT DO NOTHING``) and takes the
rows' locks in id order (``FOR UPDATE`` on PostgreSQL; SQLite writers are serialized by
``BEGIN IMMEDIATE`` anyway), which makes placements at a site, discharges and cleanings
take turns without deadlocks.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from careflow.adapters.db.master_rows import service_row
from careflow.adapters.db.master_writes import bump_master_version
from careflow.adapters.db.tables import admission as a
from careflow.adapters.db.tables import bed_status as b
from careflow.adapters.db.tables import service
from careflow.domain.beds import URGENCY_RANK, Admission, AdmissionStatus, BedState, BedStatus
from careflow.domain.bookings import Urgency
from careflow.domain.preference_cards import Service
from careflow.services.beds.ports import AdmissionFilter
from careflow.services.ports import RaceLost, UnitOfWork

__all__ = ["SqlBedStore", "beds_of"]


def _row(adm: Admission) -> dict[str, Any]:
    return {"id": adm.id, "patient_id": adm.patient_id, "site_id": adm.site_id,
            "wanted_from": adm.wanted_from, "los_hours": adm.los_hours, "unit": adm.unit,
            "bed_type": adm.bed_type, "isolation": adm.isolation, "urgency": adm.urgency.value,
            "urgency_rank": URGENCY_RANK[adm.urgency], "source": adm.source, "status": adm.status.value,
            "requested_at": adm.requested_at, "requested_by": adm.requested_by, "bed_id": adm.bed_id,
            "booking_id": adm.booking_id, "placed_at": adm.placed_at, "exception_id": adm.exception_id,
            "version": adm.version}


def _admission(r: RowMapping) -> Admission:
    return Admission(r["id"], r["patient_id"], r["site_id"], r["wanted_from"], r["los_hours"], r["unit"],
                     r["bed_type"], r["isolation"], Urgency(r["urgency"]), r["source"], r["requested_at"],
                     r["requested_by"], AdmissionStatus(r["status"]), r["bed_id"], r["booking_id"],
                     r["placed_at"], r["exception_id"], r["version"])


def _state(r: RowMapping) -> BedState:
    return BedState(r["bed_id"], r["site_id"], BedStatus(r["status"]), r["since"], r["task_id"], r["version"])


def _where(stmt: Select[Any], flt: AdmissionFilter) -> Select[Any]:
    if flt.site_id is not None:
        stmt = stmt.where(a.c.site_id == flt.site_id)
    if flt.site_ids is not None:
        stmt = stmt.where(a.c.site_id.in_(sorted(flt.site_ids)))
    if flt.status is not None:
        stmt = stmt.where(a.c.status == flt.status.value)
    if flt.patient_id is not None:
        stmt = stmt.where(a.c.patient_id == flt.patient_id)
    return stmt


class SqlBedStore:
    """Admissions in ``admission``, bed status in ``bed_status``, on one connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_admission(self, admission: Admission) -> None:
        self._conn.execute(a.insert().values(**_row(admission)))

    def admission(self, admission_id: str, *, lock: bool = False) -> Admission | None:
        stmt = select(a).where(a.c.id == admission_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().first()
        return _admission(row) if row is not None else None

    def save_admission(self, admission: Admission, expected_version: int) -> None:
        values = _row(admission)
        del values["id"]
        stmt = update(a).where(a.c.id == admission.id, a.c.version == expected_version).values(**values)
        if self._conn.execute(stmt).rowcount != 1:
            raise RaceLost(f"admission {admission.id} was changed concurrently")

    def admissions(self, flt: AdmissionFilter, offset: int, limit: int) -> tuple[list[Admission], int]:
        total = self._conn.execute(_where(select(func.count()).select_from(a), flt)).scalar_one()
        stmt = (_where(select(a), flt).order_by(a.c.urgency_rank, a.c.requested_at, a.c.id)
                .offset(offset).limit(limit))
        return [_admission(r) for r in self._conn.execute(stmt).mappings()], int(total)

    def waiting(self, site_id: str) -> list[Admission]:
        stmt = (select(a).where(a.c.site_id == site_id, a.c.status == AdmissionStatus.WAITING.value)
                .order_by(a.c.urgency_rank, a.c.requested_at, a.c.id))
        return [_admission(r) for r in self._conn.execute(stmt).mappings()]

    def states(self, site_id: str) -> dict[str, BedState]:
        rows = self._conn.execute(select(b).where(b.c.site_id == site_id)).mappings()
        return {r["bed_id"]: _state(r) for r in rows}

    def lock_beds(self, site_id: str, bed_ids: Collection[str], now: datetime) -> dict[str, BedState]:
        ids = sorted(set(bed_ids))
        if not ids:
            return {}
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        rows = [{"bed_id": i, "site_id": site_id, "status": BedStatus.CLEAN.value, "since": now,
                 "task_id": None, "version": 0} for i in ids]
        self._conn.execute(dialect.insert(b).on_conflict_do_nothing(index_elements=["bed_id"]), rows)
        stmt = select(b).where(b.c.bed_id.in_(ids)).order_by(b.c.bed_id).with_for_update()
        return {r["bed_id"]: _state(r) for r in self._conn.execute(stmt).mappings()}

    def put_state(self, state: BedState) -> BedState:
        written = BedState(state.bed_id, state.site_id, state.status, state.since, state.task_id,
                           state.version + 1)
        stmt = (update(b).where(b.c.bed_id == state.bed_id, b.c.version == state.version)
                .values(site_id=state.site_id, status=state.status.value, since=state.since,
                        task_id=state.task_id, version=written.version))
        if self._conn.execute(stmt).rowcount != 1:
            raise RaceLost(f"bed {state.bed_id}'s status was changed concurrently")
        return written

    def ensure_service(self, value: Service) -> bool:
        if self._conn.execute(select(service.c.id).where(service.c.id == value.id)).first() is not None:
            return False
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        created = self._conn.execute(dialect.insert(service).values(**service_row(value))
                                     .on_conflict_do_nothing()).rowcount
        if created:
            bump_master_version(self._conn)  # every process's catalog learns the service
        return bool(created)


def beds_of(uow: UnitOfWork) -> SqlBedStore:
    """The bed store on a SQL unit of work's connection."""
    return SqlBedStore(uow.connection)  # type: ignore[attr-defined]
