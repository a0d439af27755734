"""``ExceptionStore`` on SQL (SQLite and PostgreSQL alike, through SQLAlchemy Core).

Writes are optimistic on ``version``: ``save`` updates only the row whose version is the
one the caller read, so of two claimers at once exactly one changes the row and the other
gets ``RaceLost`` (on PostgreSQL the second UPDATE waits for the first's row lock, then
re-checks its WHERE; SQLite writers are serialized by ``BEGIN IMMEDIATE`` anyway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from careflow.adapters.db.tables import exception_item as t
from careflow.domain.exceptions_queue import (
    PRIORITIES,
    Comment,
    ExceptionItem,
    ExceptionStatus,
    Resolution,
)
from careflow.services.ports import ExceptionFilter, RaceLost

__all__ = ["SqlExceptionStore"]


def _row(item: ExceptionItem) -> dict[str, Any]:
    r = item.resolution
    return {
        "id": item.id, "category": item.category, "owner_team": item.owner_team,
        "priority": item.priority, "priority_rank": PRIORITIES.index(item.priority),
        "summary": item.summary, "booking_id": item.booking_id, "case_id": item.case_id,
        "patient_id": item.patient_id, "site_id": item.site_id, "status": item.status,
        "assignee": item.assignee, "escalation_level": item.escalation_level,
        "created_at": item.created_at, "sla_due_at": item.sla_due_at,
        "resolved_at": r.at if r else None,
        "comments": [{"author": c.author, "at": c.at.isoformat(), "text": c.text} for c in item.comments],
        "alternatives": list(item.alternatives),
        "resolution": ({"outcome": r.outcome, "note": r.note, "by": r.by, "at": r.at.isoformat()}
                       if r else None),
        "version": item.version,
    }


def _item(row: RowMapping) -> ExceptionItem:
    res = row["resolution"]
    return ExceptionItem(
        row["id"], row["category"], row["owner_team"], row["priority"], row["summary"],
        row["created_at"], row["sla_due_at"], row["booking_id"], row["case_id"], row["patient_id"],
        row["site_id"], row["status"], row["assignee"], row["escalation_level"],
        [Comment(c["author"], datetime.fromisoformat(c["at"]), c["text"]) for c in row["comments"]],
        list(row["alternatives"]),
        (Resolution(res["outcome"], res["note"], res["by"], datetime.fromisoformat(res["at"]))
         if res else None),
        row["version"])


def _where(stmt: Select[Any], flt: ExceptionFilter) -> Select[Any]:
    conds = []
    for column, value in ((t.c.status, flt.status), (t.c.owner_team, flt.owner_team),
                          (t.c.category, flt.category), (t.c.priority, flt.priority),
                          (t.c.assignee, flt.assignee), (t.c.booking_id, flt.booking_id),
                          (t.c.case_id, flt.case_id)):
        if value is not None:
            conds.append(column == value)
    if flt.breached_at is not None:
        conds += [t.c.status != ExceptionStatus.RESOLVED, t.c.sla_due_at < flt.breached_at]
    if flt.site_ids is not None:
        conds.append(or_(t.c.site_id.is_(None), t.c.site_id.in_(sorted(flt.site_ids))))
    return stmt.where(and_(*conds)) if conds else stmt


class SqlExceptionStore:
    """Exception-queue items in the ``exception_item`` table."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, item_id: str, *, lock: bool = False) -> ExceptionItem | None:
        stmt = select(t).where(t.c.id == item_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().first()
        return _item(row) if row is not None else None

    def add(self, item: ExceptionItem) -> None:
        self._conn.execute(t.insert().values(**_row(item)))

    def save(self, item: ExceptionItem, expected_version: int) -> None:
        values = _row(item)
        del values["id"]
        stmt = update(t).where(t.c.id == item.id, t.c.version == expected_version).values(**values)
        if self._conn.execute(stmt).rowcount != 1:
            raise RaceLost(f"exception {item.id} was changed concurrently "
                           f"(expected version {expected_version})")

    def find(self, flt: ExceptionFilter, offset: int, limit: int) -> tuple[list[ExceptionItem], int]:
        total = self._conn.execute(_where(select(func.count()).select_from(t), flt)).scalar_one()
        stmt = (_where(select(t), flt).order_by(t.c.priority_rank, t.c.sla_due_at, t.c.id)
                .offset(offset).limit(limit))
        return [_item(r) for r in self._conn.execute(stmt).mappings()], int(total)

    def unresolved(self, limit: int = 100_000) -> list[ExceptionItem]:
        stmt = (select(t).where(t.c.status != ExceptionStatus.RESOLVED)
                .order_by(t.c.sla_due_at, t.c.id).limit(limit))
        return [_item(r) for r in self._conn.execute(stmt).mappings()]

    def resolved_between(self, start: datetime, end: datetime) -> list[ExceptionItem]:
        stmt = select(t).where(t.c.resolved_at >= start, t.c.resolved_at < end).order_by(t.c.resolved_at)
        return [_item(r) for r in self._conn.execute(stmt).mappings()]
