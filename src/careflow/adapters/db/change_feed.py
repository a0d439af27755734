"""The change feed the calendar cache tails: outbox ids and the allocations they touch."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select, true
from sqlalchemy.engine import Connection

from careflow.adapters.db.tables import allocation, outbox
from careflow.domain.ids import ResourceId
from careflow.domain.occupancy import Busy

__all__ = ["allocations_of", "change_head", "changes_since"]

CHUNK = 500


def change_head(conn: Connection) -> int:
    """The highest outbox id, 0 when the outbox is empty."""
    return int(conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one())


def changes_since(conn: Connection, after: int, limit: int) -> list[tuple[int, str]]:
    """(id, aggregate id) of outbox rows after ``after``, oldest first."""
    stmt = (select(outbox.c.id, outbox.c.aggregate_id).where(outbox.c.id > after)
            .order_by(outbox.c.id).limit(limit))
    return [(int(i), str(agg)) for i, agg in conn.execute(stmt)]


def allocations_of(conn: Connection, booking_ids: Collection[str]) -> list[tuple[ResourceId, Busy]]:
    """Active allocations of the given bookings."""
    a = allocation.c
    ids = sorted(booking_ids)
    out: list[tuple[ResourceId, Busy]] = []
    for i in range(0, len(ids), CHUNK):
        stmt = select(a.resource_id, a.start_at, a.end_at, a.lane, a.booking_id, a.role).where(
            a.booking_id.in_(ids[i:i + CHUNK]), a.active == true())
        for rid, start, end, lane, bid, role in conn.execute(stmt):
            out.append((ResourceId(rid), Busy(int(start.timestamp()), int(end.timestamp()), lane, bid, role)))
    return out
