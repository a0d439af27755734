"""Referrals: receive one (its workflow triages and books or offers choices), list, read
with the recommendation and its reasons, and choose an offered option."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field, model_validator

from careflow.adapters.db.referral_store import referrals_of
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.exception_schemas import ShortId
from careflow.api.schemas import Input, Instant, Page, Problem
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.domain.referrals import Referral
from careflow.services import referrals as use
from careflow.services.referrals import ReferralDeps
from careflow.services.workflows.referral import wake

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])

Urgency = Literal["routine", "urgent", "emergent"]
Status = Literal["received", "awaiting_choice", "chosen", "booked", "queued"]
Label = Annotated[str, Field(max_length=128, pattern=r"^[^\u0000-\u001f\u007f]*$")]
ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission or the site"},
    404: {"model": Problem, "description": "unknown referral, patient, service or site"},
    409: {"model": Problem, "description": "the referral's status forbids the step, or the id exists"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}


class ReferralIn(Input):
    patient_id: ShortId
    service_id: ShortId = Field(description="the visit type (a service id or code)")
    urgency: Urgency = "routine"
    earliest: Instant | None = None
    latest: Instant | None = None
    site_ids: list[ShortId] = Field(default_factory=list, max_length=50,
                                    description="limit triage to these sites (none: every site in reach)")
    referring: Label = ""
    source: Label = ""
    reference: Label = Field("", description="the referring system's own id for the referral")

    @model_validator(mode="after")
    def _window(self) -> ReferralIn:
        if self.earliest and self.latest and self.latest <= self.earliest:
            raise ValueError("latest must be after earliest")
        return self


class ChooseIn(Input):
    rank: int = Field(ge=1, le=100, strict=True, description="the rank of the offered option")


class ReferralOut(BaseModel):
    id: str
    patient_id: str
    service_id: str
    urgency: str
    status: str
    decision: str
    earliest: datetime | None
    latest: datetime | None
    site_ids: list[str]
    referring: str
    source: str
    reference: str
    recommendations: list[dict[str, Any]] = Field(
        description="ranked sites: start, score and the reasons (wait, travel, specialty)")
    choice_due_at: datetime | None
    chosen_rank: int | None
    chosen_by: str | None
    booking_id: str | None
    exception_id: str | None
    note: str
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, r: Referral) -> ReferralOut:
        return cls(id=r.id, patient_id=r.patient_id, service_id=r.service_id, urgency=r.urgency,
                   status=r.status.value, decision=r.decision, earliest=r.earliest, latest=r.latest,
                   site_ids=list(r.site_ids), referring=r.referring, source=r.source, reference=r.reference,
                   recommendations=r.recommendations, choice_due_at=r.choice_due_at,
                   chosen_rank=r.chosen_rank, chosen_by=r.chosen_by, booking_id=r.booking_id,
                   exception_id=r.exception_id, note=r.note, created_at=r.created_at, updated_at=r.updated_at)


def _deps(app: App) -> ReferralDeps:
    return ReferralDeps(app.deps, referrals_of)


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS,
             dependencies=[needs(Permission.BOOKING_WRITE)])
def create_referral(body: ReferralIn, app: AppDep, actor: ActorDep, response: Response) -> ReferralOut:
    """Receive a referral; its workflow then triages it and books or offers the patient choices."""
    referral = Referral(use.new_referral_id(), body.patient_id, body.service_id, body.urgency,
                        app.deps.clock(), body.earliest, body.latest, tuple(body.site_ids), body.referring,
                        body.source, body.reference)
    created = use.create(referral, actor, _deps(app))
    response.headers["Location"] = f"/api/v1/referrals/{created.id}"
    return ReferralOut.of(created)


@router.get("", responses=ERRORS, dependencies=[needs(Permission.BOOKING_READ)])
def list_referrals(app: AppDep, actor: ActorDep, status: Status | None = None,
                   patient_id: Annotated[ShortId | None, Query()] = None,
                   offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[ReferralOut]:
    """Referrals, newest first."""
    items, total = use.list_referrals(status, patient_id, actor, _deps(app), offset, limit)
    return Page[ReferralOut](items=[ReferralOut.of(r) for r in items], total=total, offset=offset,
                             limit=limit)


@router.get("/{referral_id}", responses=ERRORS, dependencies=[needs(Permission.BOOKING_READ)])
def get_referral(referral_id: Annotated[ShortId, Path()], app: AppDep, actor: ActorDep) -> ReferralOut:
    """One referral with its ranked recommendations and why each site ranks where it does."""
    return ReferralOut.of(use.get(referral_id, actor, _deps(app)))


@router.post("/{referral_id}/choose", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS,
             dependencies=[needs(Permission.BOOKING_WRITE)])
def choose(referral_id: Annotated[ShortId, Path()], body: ChooseIn, app: AppDep,
           actor: ActorDep) -> ReferralOut:
    """Pick one of the offered options (409 unless the referral awaits a choice); the
    workflow books it and the referral shows the booking (or new options, if taken)."""
    referral = use.choose(referral_id, body.rank, actor, _deps(app))
    wake(referral.id)
    return ReferralOut.of(referral)
