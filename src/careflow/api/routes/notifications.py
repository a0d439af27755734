"""The notification send log, read-only, for operations (``GET /api/v1/notifications``).

Each row is one notification key: who it was for (a patient id or a team), the topic and
booking, each channel's outcome, the status (``sending``, ``sent``, ``failed``), attempts
and the last error. ``stuck`` marks a row still ``sending`` long after it was claimed: its
process died between delivering and recording, and careflow will not send it again (at
most once), so a person should check whether it arrived. Subject, body and data are shown
only to callers with ``patient.read``; a caller limited to some sites sees the
notifications of their sites' bookings (and those about no booking). Audited (ids only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from careflow.adapters.notify import NotificationFilter, NotificationRecord
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.exception_schemas import ShortId
from careflow.api.schemas import Page, Problem
from careflow.api.security import audit_read
from careflow.domain.access import Actor, Permission

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

STUCK_AFTER = timedelta(minutes=10)
Status = Literal["sending", "sent", "failed"]
Topic = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks booking.read"},
    422: {"model": Problem, "description": "malformed filter; `field` names it"},
}


class NotificationOut(BaseModel):
    key: str
    audience: str
    recipient: str
    topic: str
    booking_id: str | None
    channels: dict[str, str]
    status: Status
    stuck: bool
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    subject: str | None = None  # with patient.read only
    body: str | None = None
    data: dict[str, Any] | None = None

    @classmethod
    def of(cls, r: NotificationRecord, now: datetime, with_message: bool) -> NotificationOut:
        stuck = r.status == "sending" and now - r.created_at > STUCK_AFTER
        out = cls(key=r.key, audience=r.audience, recipient=r.recipient, topic=r.topic,
                  booking_id=r.booking_id, channels=r.channels, status=r.status,
                  stuck=stuck, attempts=r.attempts, created_at=r.created_at, sent_at=r.sent_at,
                  last_error=r.last_error)
        if with_message:
            out.subject, out.body, out.data = r.subject, r.body, r.data
        return out


def _sites(actor: Actor) -> frozenset[str] | None:
    return None if actor.sites is None or actor.break_glass else actor.sites


@router.get("", responses=ERRORS, dependencies=[needs(Permission.BOOKING_READ)])
def list_notifications(app: AppDep, actor: ActorDep, booking_id: Annotated[ShortId | None, Query()] = None,
                       topic: Topic = None, status: Status | None = None,
                       offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[NotificationOut]:
    """Notifications, newest first, by booking, topic and status."""
    flt = NotificationFilter(booking_id, topic, status, _sites(actor))
    log = app.notification_log
    rows, total = log.find(flt, offset, limit) if log is not None else ([], 0)
    audit_read(app, actor, "notification.search", "booking" if booking_id else "notification",
               booking_id or "", total=total, keys=[r.key for r in rows][:50])
    now = app.deps.clock()
    with_message = actor.can(Permission.PATIENT_READ)
    return Page[NotificationOut](items=[NotificationOut.of(r, now, with_message) for r in rows],
                                 total=total, offset=offset, limit=limit)
