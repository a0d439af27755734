"""Re-coordination runs and the waitlist.

``/api/v1/recoordination/runs``: what careflow did about each capacity event (affected
bookings, fixed automatically, queued for a person, left alone). ``/api/v1/waitlist``:
patients waiting for an earlier time; freed slots are offered to them by priority.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.schemas import Id, Input, Instant, Page, Problem
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.domain.errors import NotFound
from careflow.domain.waitlist import WaitlistEntry
from careflow.services import waitlist as wl
from careflow.services.recoordination import RunReport

router = APIRouter(prefix="/api/v1", tags=["re-coordination and waitlist"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission, or another site"},
    404: {"model": Problem, "description": "unknown id"},
    409: {"model": Problem, "description": "the entry's state forbids the step, or the offer lapsed"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}
READ = [needs(Permission.BOOKING_READ)]
WRITE = [needs(Permission.BOOKING_WRITE)]
EntryId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]


class OutcomeOut(BaseModel):
    booking_id: str
    result: Literal["unchanged", "auto_resolved", "queued", "failed", "gone"]
    codes: list[str]
    detail: str
    new_start: str | None
    exception_id: str | None


class RunOut(BaseModel):
    event_id: int
    event_type: str
    subject: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float = Field(description="time spent working the run")
    affected: int
    unchanged: int
    auto_resolved: int
    queued: int
    failed: int
    outcomes: list[OutcomeOut]

    @classmethod
    def of(cls, run: RunReport, outcomes: bool = True) -> RunOut:
        s = run.summary()
        return cls(event_id=run.trigger.event_id, event_type=run.trigger.event_type,
                   subject=run.trigger.subject, started_at=run.started_at, finished_at=run.finished_at,
                   seconds=round(run.seconds, 4), affected=s["affected"], unchanged=s["unchanged"],
                   auto_resolved=s["auto_resolved"], queued=s["queued"], failed=s["failed"],
                   outcomes=[OutcomeOut(**o.to_dict()) for o in run.outcomes] if outcomes else [])


@router.get("/recoordination/runs", responses=ERRORS, dependencies=READ)
def list_runs(app: AppDep, subject: Annotated[str | None, Query(max_length=255)] = None,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[RunOut]:
    """Re-coordination runs, newest first (per-booking outcomes only on the single run)."""
    deps = app.recoordination
    with app.deps.uow() as uow:
        runs, total = deps.runs_of(uow).page(offset, limit, subject)
    return Page[RunOut](items=[RunOut.of(r, outcomes=False) for r in runs], total=total, offset=offset,
                        limit=limit)


@router.get("/recoordination/runs/{event_id}", responses=ERRORS, dependencies=READ)
def get_run(app: AppDep, event_id: Annotated[int, Path(ge=1, le=2**62)]) -> RunOut:
    """One run with the outcome per affected booking."""
    with app.deps.uow() as uow:
        run = app.recoordination.runs_of(uow).get(event_id)
    if run is None:
        raise NotFound("re-coordination run", str(event_id))
    return RunOut.of(run)


# --- the waitlist -------------------------------------------------------------------

Priority = Literal["urgent", "high", "normal", "low"]
Status = Literal["waiting", "offered", "booked", "withdrawn", "expired"]


class WaitlistBody(Input):
    patient_id: Id
    service_id: Id
    earliest: Instant
    latest: Instant
    site_ids: list[Id] = Field(default_factory=list, max_length=100, description="none: any site")
    priority: Priority = "normal"


class WaitlistOut(BaseModel):
    id: str
    patient_id: str
    service_id: str
    site_ids: list[str]
    earliest: datetime
    latest: datetime
    priority: str
    status: str
    booking_id: str | None
    offer_booking_id: str | None
    offered_at: datetime | None
    offer_expires_at: datetime | None
    offers: int
    created_at: datetime
    updated_at: datetime | None
    version: int

    @classmethod
    def of(cls, e: WaitlistEntry) -> WaitlistOut:
        return cls(id=e.id, patient_id=e.patient_id, service_id=e.service_id, site_ids=list(e.site_ids),
                   earliest=e.earliest, latest=e.latest, priority=e.priority, status=e.status,
                   booking_id=e.booking_id, offer_booking_id=e.offer_booking_id, offered_at=e.offered_at,
                   offer_expires_at=e.offer_expires_at, offers=e.offers, created_at=e.created_at,
                   updated_at=e.updated_at, version=e.version)


class AcceptedOut(BaseModel):
    entry: WaitlistOut
    booking_id: str
    start: datetime


def _deps(app: App) -> wl.WaitlistDeps:
    deps: wl.WaitlistDeps = app.waitlist
    return deps


@router.post("/waitlist", status_code=status.HTTP_201_CREATED, responses=ERRORS, dependencies=WRITE)
def add_to_waitlist(body: WaitlistBody, app: AppDep, actor: ActorDep) -> WaitlistOut:
    """Put a patient on the waitlist for a service between two instants."""
    cmd = wl.AddToWaitlist(body.patient_id, body.service_id, body.earliest, body.latest,
                           tuple(body.site_ids), body.priority)
    return WaitlistOut.of(wl.add(cmd, actor, _deps(app)))


@router.get("/waitlist", responses=ERRORS, dependencies=READ)
def list_waitlist(app: AppDep, actor: ActorDep, status: Status | None = None,
                  patient_id: Annotated[str | None, Query(max_length=200)] = None,
                  service_id: Annotated[str | None, Query(max_length=200)] = None,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[WaitlistOut]:
    """Entries in offer order: priority, then age."""
    items, total = wl.list_entries(wl.WaitlistFilter(status, patient_id, service_id), actor, _deps(app),
                                   offset, limit)
    return Page[WaitlistOut](items=[WaitlistOut.of(e) for e in items], total=total, offset=offset,
                             limit=limit)


@router.get("/waitlist/{entry_id}", responses=ERRORS, dependencies=READ)
def get_waitlist_entry(entry_id: EntryId, app: AppDep, actor: ActorDep) -> WaitlistOut:
    return WaitlistOut.of(wl.get(entry_id, actor, _deps(app)))


@router.post("/waitlist/{entry_id}/accept", responses=ERRORS, dependencies=WRITE)
def accept_offer(entry_id: EntryId, app: AppDep, actor: ActorDep) -> AcceptedOut:
    """Book the slot offered to the entry (re-checked like any hold)."""
    entry, booking = wl.accept(entry_id, actor, _deps(app))
    return AcceptedOut(entry=WaitlistOut.of(entry), booking_id=booking.id, start=booking.start)


@router.post("/waitlist/{entry_id}/decline", responses=ERRORS, dependencies=WRITE)
def decline_offer(entry_id: EntryId, app: AppDep, actor: ActorDep) -> WaitlistOut:
    """Release the offered slot (it goes to the next entry); the entry keeps waiting."""
    return WaitlistOut.of(wl.decline(entry_id, actor, _deps(app)))


@router.delete("/waitlist/{entry_id}", responses=ERRORS, dependencies=WRITE)
def withdraw(entry_id: EntryId, app: AppDep, actor: ActorDep) -> WaitlistOut:
    """Take the patient off the waitlist (an open offer is released)."""
    return WaitlistOut.of(wl.withdraw(entry_id, actor, _deps(app)))


