"""Break-glass: an explicit, time-limited elevation with a reason, audited at start and stop.

While active it widens the user's patient view to the clinical one and lifts the site
limit (``domain/access.py``: ``BREAK_GLASS_PERMISSIONS``). It stops when the user stops it
or when it expires; an expiry is recorded (and audited) the first time it is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, update

from careflow.adapters.db.audit import append
from careflow.adapters.db.engine import WRITE_OPTION
from careflow.adapters.db.tables import break_glass

__all__ = ["Elevation", "active_elevation", "close_expired", "start", "stop"]


@dataclass(frozen=True, slots=True)
class Elevation:
    id: int
    user_id: str
    reason: str
    patient_id: str | None
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user_id": self.user_id, "reason": self.reason,
                "patient_id": self.patient_id, "started_at": self.started_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


def _elevation(row: Any) -> Elevation:
    return Elevation(int(row.id), row.user_id, row.reason, row.patient_id, row.started_at,
                     row.expires_at, row.ended_at)


def _audit(conn: Connection, at: datetime, actor: str, action: str, elevation_id: int, reason: str,
           detail: dict[str, Any]) -> None:
    append(conn, [{"at": at, "actor": actor, "action": action, "entity_type": "break_glass",
                   "entity_id": str(elevation_id), "outcome": "ok", "reason": reason,
                   "rule_version": "", "detail": detail}])


def _writing(engine: Engine) -> Any:
    return engine.connect().execution_options(**{WRITE_OPTION: True})


def start(engine: Engine, user_id: str, reason: str, minutes: int, now: datetime,
          patient_id: str | None = None) -> Elevation:
    """Begin an elevation (ending any active one of the same user first)."""
    with _writing(engine) as conn, conn.begin():
        _close(conn, user_id, now, "superseded", user_id)
        expires = now + timedelta(minutes=minutes)
        new_id = conn.execute(break_glass.insert().values(
            user_id=user_id, reason=reason, patient_id=patient_id, started_at=now,
            expires_at=expires).returning(break_glass.c.id)).scalar_one()
        _audit(conn, now, user_id, "break_glass.start", new_id, reason,
               {"expires_at": expires.isoformat(), "minutes": minutes, "patient_id": patient_id})
    return Elevation(int(new_id), user_id, reason, patient_id, now, expires)


def _close(conn: Connection, user_id: str, now: datetime, why: str, by: str) -> list[int]:
    """End the user's open elevations (expired ones at their expiry), auditing each."""
    rows = conn.execute(select(break_glass).where(
        and_(break_glass.c.user_id == user_id, break_glass.c.ended_at.is_(None)))).all()
    closed = []
    for row in rows:
        ended = min(now, row.expires_at)
        reason = "expired" if row.expires_at <= now else why
        conn.execute(update(break_glass).where(break_glass.c.id == row.id).values(
            ended_at=ended, ended_by=by if reason != "expired" else "expiry"))
        _audit(conn, now, user_id, "break_glass.stop", row.id, reason,
               {"started_at": row.started_at.isoformat(), "ended_at": ended.isoformat()})
        closed.append(int(row.id))
    return closed


def stop(engine: Engine, user_id: str, now: datetime) -> list[int]:
    """End the user's elevation now; the ids ended (none when none was active)."""
    with _writing(engine) as conn, conn.begin():
        return _close(conn, user_id, now, "stopped", user_id)


def active_elevation(engine: Engine, user_id: str, now: datetime) -> Elevation | None:
    """The user's active elevation; an expired one found open is closed (and audited)."""
    with engine.connect() as conn:
        row = conn.execute(select(break_glass).where(and_(
            break_glass.c.user_id == user_id, break_glass.c.ended_at.is_(None))).order_by(
            break_glass.c.id.desc())).first()
    if row is None:
        return None
    if row.expires_at > now:
        return _elevation(row)
    with _writing(engine) as conn, conn.begin():
        _close(conn, user_id, now, "expired", "expiry")
    return None


def close_expired(engine: Engine, now: datetime) -> int:
    """Close (and audit) every elevation past its expiry; how many were closed."""
    with engine.connect() as conn:
        users = conn.execute(select(break_glass.c.user_id).where(and_(
            break_glass.c.ended_at.is_(None), break_glass.c.expires_at <= now)).distinct()).scalars().all()
    count = 0
    for user_id in users:
        with _writing(engine) as conn, conn.begin():
            count += len(_close(conn, user_id, now, "expired", "expiry"))
    return count
