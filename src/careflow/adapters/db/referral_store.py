"""``ReferralStore`` on SQL (SQLite and PostgreSQL alike); optimistic on ``version``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, RowMapping

from careflow.adapters.db.tables import referral as t
from careflow.domain.referrals import Referral, ReferralStatus
from careflow.services.ports import RaceLost, UnitOfWork

__all__ = ["SqlReferralStore", "referrals_of"]

_FIELDS = ("id", "patient_id", "service_id", "urgency", "created_at", "earliest", "latest", "site_ids",
           "referring", "source", "reference", "status", "decision", "recommendations", "choice_due_at",
           "chosen_rank", "chosen_by", "booking_id", "exception_id", "note", "updated_at", "version")


def _row(r: Referral) -> dict[str, Any]:
    values = {name: getattr(r, name) for name in _FIELDS}
    values["status"] = r.status.value
    values["site_ids"] = list(r.site_ids)
    values["recommendations"] = [dict(x) for x in r.recommendations]
    return values


def _referral(row: RowMapping) -> Referral:
    values = {name: row[name] for name in _FIELDS}
    values["status"] = ReferralStatus(row["status"])
    values["site_ids"] = tuple(row["site_ids"])
    values["recommendations"] = list(row["recommendations"])
    return Referral(**values)


class SqlReferralStore:
    """Referrals in the ``referral`` table."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, referral_id: str, *, lock: bool = False) -> Referral | None:
        stmt = select(t).where(t.c.id == referral_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().first()
        return _referral(row) if row is not None else None

    def add(self, referral: Referral) -> None:
        self._conn.execute(t.insert().values(**_row(referral)))

    def save(self, referral: Referral, expected_version: int) -> None:
        values = _row(referral)
        del values["id"]
        stmt = update(t).where(t.c.id == referral.id, t.c.version == expected_version).values(**values)
        if self._conn.execute(stmt).rowcount != 1:
            raise RaceLost(f"referral {referral.id} was changed concurrently")

    def find(self, status: str | None, patient_id: str | None, offset: int,
             limit: int) -> tuple[list[Referral], int]:
        conds = []
        if status is not None:
            conds.append(t.c.status == status)
        if patient_id is not None:
            conds.append(t.c.patient_id == patient_id)
        total = self._conn.execute(select(func.count()).select_from(t).where(*conds)).scalar_one()
        stmt = select(t).where(*conds).order_by(t.c.created_at.desc(), t.c.id).offset(offset).limit(limit)
        return [_referral(r) for r in self._conn.execute(stmt).mappings()], int(total)


def referrals_of(uow: UnitOfWork) -> SqlReferralStore:
    """The referral store on a SQL unit of work's connection."""
    return SqlReferralStore(uow.connection)  # type: ignore[attr-defined]
