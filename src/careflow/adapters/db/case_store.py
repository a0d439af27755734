"""``CaseStore`` on SQL (SQLite and PostgreSQL alike): surgical cases and purchase requests.

Writes are optimistic on ``version``, like the exception queue: of two writers of one
case, exactly one changes the row and the other gets ``RaceLost``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from careflow.adapters.db.tables import purchase_request as pr
from careflow.adapters.db.tables import surgical_case as t
from careflow.domain.surgical_cases import CaseRequest, CaseStatus, PurchaseRequest, SurgicalCase
from careflow.services.ports import RaceLost

__all__ = ["SqlCaseStore", "cases_of"]


def _row(case: SurgicalCase) -> dict[str, Any]:
    r = case.request
    return {
        "id": case.id, "status": case.status, "patient_id": r.patient_id, "service_id": r.service_id,
        "surgeon_id": r.surgeon_id, "request": r.to_dict(), "step": case.step,
        "waiting_for": list(case.waiting_for), "steps": list(case.steps), "tasks": list(case.tasks),
        "hold_id": case.hold_id, "booking_id": case.booking_id, "planned": case.planned,
        "prep_confirmed_by": case.prep_confirmed_by, "last_error": case.last_error,
        "created_by": case.created_by, "created_at": case.created_at, "updated_at": case.updated_at,
        "version": case.version,
    }


def _case(m: RowMapping) -> SurgicalCase:
    return SurgicalCase(
        id=m["id"], request=CaseRequest.from_dict(dict(m["request"])), status=m["status"],
        created_by=m["created_by"], created_at=m["created_at"], updated_at=m["updated_at"],
        step=m["step"], waiting_for=list(m["waiting_for"]), steps=list(m["steps"]),
        tasks=list(m["tasks"]), hold_id=m["hold_id"], booking_id=m["booking_id"],
        planned=dict(m["planned"]) if m["planned"] is not None else None,
        prep_confirmed_by=m["prep_confirmed_by"], last_error=m["last_error"], version=m["version"])


def _purchase(m: RowMapping) -> PurchaseRequest:
    return PurchaseRequest(m["id"], m["case_id"], m["site_id"], m["sku"], m["quantity"], m["status"],
                           m["needed_by"], m["expected_at"], m["created_at"])


def _purchase_row(p: PurchaseRequest) -> dict[str, Any]:
    return {"id": p.id, "case_id": p.case_id, "site_id": p.site_id, "sku": p.sku,
            "quantity": p.quantity, "status": p.status, "needed_by": p.needed_by,
            "expected_at": p.expected_at, "created_at": p.created_at}


class SqlCaseStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, case: SurgicalCase) -> None:
        self._conn.execute(insert(t).values(**_row(case)))

    def get(self, case_id: str, *, lock: bool = False) -> SurgicalCase | None:
        query = select(t).where(t.c.id == case_id)
        if lock and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        m = self._conn.execute(query).mappings().first()
        return _case(m) if m is not None else None

    def save(self, case: SurgicalCase, expected_version: int) -> None:
        row = _row(case)
        row["version"] = expected_version + 1
        done = self._conn.execute(update(t).where(t.c.id == case.id, t.c.version == expected_version)
                                  .values(**{k: v for k, v in row.items() if k != "id"}))
        if done.rowcount != 1:
            raise RaceLost(f"surgical case {case.id} changed concurrently")
        case.version = expected_version + 1

    def find(self, status: str | None, patient_id: str | None, offset: int,
             limit: int) -> tuple[list[SurgicalCase], int]:
        where = []
        if status is not None:
            where.append(t.c.status == status)
        if patient_id is not None:
            where.append(t.c.patient_id == patient_id)
        total = self._conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        rows = self._conn.execute(select(t).where(*where).order_by(t.c.created_at.desc(), t.c.id)
                                  .offset(offset).limit(limit)).mappings()
        return [_case(m) for m in rows], int(total)

    def waiting_for(self, what: str, patient_id: str | None = None,
                    service_id: str | None = None) -> list[str]:
        where = [t.c.status == CaseStatus.WAITING]
        if patient_id is not None:
            where.append(t.c.patient_id == patient_id)
        if service_id is not None:
            where.append(t.c.service_id == service_id)
        rows = self._conn.execute(select(t.c.id, t.c.waiting_for).where(*where).order_by(t.c.id))
        return [case_id for case_id, waiting in rows if what in (waiting or [])]

    def with_status(self, status: str, limit: int = 1000) -> list[str]:
        rows = self._conn.execute(select(t.c.id).where(t.c.status == status).order_by(t.c.created_at)
                                  .limit(limit))
        return [r for (r,) in rows]

    def add_purchase(self, request: PurchaseRequest) -> None:
        self._conn.execute(insert(pr).values(**_purchase_row(request)))

    def save_purchase(self, request: PurchaseRequest) -> None:
        row = _purchase_row(request)
        self._conn.execute(update(pr).where(pr.c.id == request.id)
                           .values(**{k: v for k, v in row.items() if k != "id"}))

    def purchases(self, case_id: str) -> list[PurchaseRequest]:
        rows = self._conn.execute(select(pr).where(pr.c.case_id == case_id)
                                  .order_by(pr.c.created_at, pr.c.id))
        return [_purchase(m) for m in rows.mappings()]

    def open_purchases(self, site_id: str, sku: str) -> list[PurchaseRequest]:
        rows = self._conn.execute(select(pr).where(pr.c.site_id == site_id, pr.c.sku == sku,
                                                   pr.c.status == "open").order_by(pr.c.id))
        return [_purchase(m) for m in rows.mappings()]


def cases_of(uow: Any) -> SqlCaseStore:
    """The case store on a SQL unit of work's connection."""
    return SqlCaseStore(uow.connection)
