"""Re-coordination runs and the waitlist, on SQL (tables of migration 0006)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.adapters.db.tables import recoordination_run, waitlist_entry
from careflow.domain.waitlist import WaitlistEntry
from careflow.services.ports import RaceLost, UnitOfWork
from careflow.services.recoordination import Outcome, RunReport, Trigger
from careflow.services.waitlist import WaitlistFilter

__all__ = ["SqlRunStore", "SqlWaitlistStore", "runs_of", "waitlist_of"]


def _conn(uow: UnitOfWork) -> Connection:
    conn: Connection = uow.connection  # type: ignore[attr-defined]
    return conn


class SqlRunStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, run: RunReport) -> bool:
        t = run.trigger
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(recoordination_run).values(
                    event_id=t.event_id, event_type=t.event_type, subject=t.subject[:255],
                    started_at=run.started_at, finished_at=None, affected=0, unchanged=0, auto_resolved=0,
                    queued=0, failed=0, detail={"trigger": t.to_dict(), "outcomes": []}))
        except IntegrityError:
            return False
        return True

    def get(self, event_id: int) -> RunReport | None:
        row = self._conn.execute(select(recoordination_run).where(
            recoordination_run.c.event_id == event_id)).mappings().first()
        return _run(row) if row is not None else None

    def finish(self, run: RunReport) -> None:
        s = run.summary()
        self._conn.execute(update(recoordination_run).where(
            recoordination_run.c.event_id == run.trigger.event_id).values(
            finished_at=run.finished_at, affected=s["affected"], unchanged=s["unchanged"],
            auto_resolved=s["auto_resolved"], queued=s["queued"], failed=s["failed"],
            detail={"trigger": run.trigger.to_dict(), "outcomes": [o.to_dict() for o in run.outcomes],
                    "seconds": round(run.seconds, 4)}))

    def page(self, offset: int, limit: int, subject: str | None = None) -> tuple[list[RunReport], int]:
        c = recoordination_run.c
        count = select(func.count()).select_from(recoordination_run)
        q = select(recoordination_run).order_by(c.event_id.desc()).offset(offset).limit(limit)
        if subject is not None:
            count, q = count.where(c.subject == subject), q.where(c.subject == subject)
        total = int(self._conn.execute(count).scalar_one())
        return [_run(r) for r in self._conn.execute(q).mappings()], total


def _run(row: Any) -> RunReport:
    detail = dict(row["detail"] or {})
    run = RunReport(Trigger.from_dict(detail["trigger"]), row["started_at"], row["finished_at"],
                    [Outcome.from_dict(o) for o in detail.get("outcomes", [])],
                    float(detail.get("seconds", 0.0)))
    return run


def runs_of(uow: UnitOfWork) -> SqlRunStore:
    return SqlRunStore(_conn(uow))


class SqlWaitlistStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, entry: WaitlistEntry) -> None:
        self._conn.execute(insert(waitlist_entry).values(_row(entry)))

    def get(self, entry_id: str, *, lock: bool = False) -> WaitlistEntry | None:
        q = select(waitlist_entry).where(waitlist_entry.c.id == entry_id)
        if lock and self._conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = self._conn.execute(q).mappings().first()
        return _entry(row) if row is not None else None

    def by_offer(self, booking_id: str) -> WaitlistEntry | None:
        row = self._conn.execute(select(waitlist_entry).where(
            waitlist_entry.c.offer_booking_id == booking_id)).mappings().first()
        return _entry(row) if row is not None else None

    def save(self, entry: WaitlistEntry, expected_version: int) -> None:
        values = _row(entry) | {"version": expected_version + 1}
        done = self._conn.execute(update(waitlist_entry).where(and_(
            waitlist_entry.c.id == entry.id, waitlist_entry.c.version == expected_version)).values(values))
        if done.rowcount != 1:
            raise RaceLost(f"waitlist entry {entry.id} changed meanwhile")
        entry.version = expected_version + 1

    def waiting(self, service_ids: list[str] | None, limit: int = 200) -> list[WaitlistEntry]:
        c = waitlist_entry.c
        q = select(waitlist_entry).where(c.status == "waiting")
        if service_ids is not None:
            q = q.where(c.service_id.in_(service_ids))
        rows = self._conn.execute(q.order_by(c.priority_rank, c.created_at, c.id).limit(limit)).mappings()
        return [_entry(r) for r in rows]

    def page(self, flt: WaitlistFilter, offset: int, limit: int) -> tuple[list[WaitlistEntry], int]:
        c = waitlist_entry.c
        conds = [col == want for col, want in ((c.status, flt.status), (c.patient_id, flt.patient_id),
                                               (c.service_id, flt.service_id)) if want is not None]
        where = and_(*conds) if conds else None
        count = select(func.count()).select_from(waitlist_entry)
        q = select(waitlist_entry).order_by(c.priority_rank, c.created_at, c.id).offset(offset).limit(limit)
        if where is not None:
            count, q = count.where(where), q.where(where)
        rows = [_entry(r) for r in self._conn.execute(q).mappings()]
        if flt.site_ids is not None:  # an actor's site limit
            rows = [e for e in rows if not e.site_ids or set(e.site_ids) & flt.site_ids]
        return rows, int(self._conn.execute(count).scalar_one())


def _row(e: WaitlistEntry) -> dict[str, Any]:
    return {"id": e.id, "patient_id": e.patient_id, "service_id": e.service_id, "site_ids": list(e.site_ids),
            "earliest": e.earliest, "latest": e.latest, "priority": e.priority,
            "priority_rank": e.priority_rank, "status": e.status, "booking_id": e.booking_id,
            "offer_booking_id": e.offer_booking_id, "offered_at": e.offered_at,
            "offer_expires_at": e.offer_expires_at, "offers": e.offers, "created_at": e.created_at,
            "updated_at": e.updated_at, "created_by": e.created_by, "version": e.version}


def _entry(r: Any) -> WaitlistEntry:
    return WaitlistEntry(r["id"], r["patient_id"], r["service_id"], tuple(r["site_ids"] or ()), r["earliest"],
                         r["latest"], r["priority"], r["created_at"], r["created_by"], r["status"],
                         r["booking_id"], r["offer_booking_id"], r["offered_at"], r["offer_expires_at"],
                         r["offers"], r["updated_at"], r["version"])


def waitlist_of(uow: UnitOfWork) -> SqlWaitlistStore:
    return SqlWaitlistStore(_conn(uow))
