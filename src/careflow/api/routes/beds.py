"""Bed placement: admission requests, the bed board, and beds reported clean."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from careflow.api.bed_schemas import (
    AdmissionBody,
    AdmissionOut,
    BoardOut,
    CleanedBody,
    CleanedOut,
    OutOfServiceBody,
    ReasonBody,
)
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.exception_schemas import ShortId
from careflow.api.schemas import Page, Problem
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.domain.beds import AdmissionStatus
from careflow.domain.errors import InvalidRequest
from careflow.services.beds import board as boards
from careflow.services.beds import housekeeping, placement
from careflow.services.beds.ports import AdmissionFilter, BedDeps

router = APIRouter(prefix="/api/v1", tags=["beds"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission, or the site is outside the caller's"},
    404: {"model": Problem, "description": "unknown patient, site, bed or admission"},
    409: {"model": Problem, "description": "the admission's status forbids the step, or a race was lost"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}
READ = [needs(Permission.BED_READ)]
WRITE = [needs(Permission.BED_WRITE)]
Filter = Annotated[ShortId | None, Query()]


def _beds(app: App) -> BedDeps:
    if app.beds is None:
        raise InvalidRequest("bed placement needs careflow's SQL database", "beds")
    beds: BedDeps = app.beds
    return beds


@router.post("/admissions", status_code=status.HTTP_201_CREATED, responses=ERRORS, dependencies=WRITE)
def request_admission(body: AdmissionBody, app: AppDep, actor: ActorDep) -> AdmissionOut:
    """Ask for a bed: placed at once in the best suitable clean bed free for the stay, or
    left ``waiting`` (its workflow waits for a bed and asks bed management past the SLA)."""
    deps = _beds(app)
    return AdmissionOut.of(placement.request_admission(body.to_domain(app.deps.clock()), actor, deps))


@router.get("/admissions", responses=ERRORS, dependencies=READ)
def list_admissions(app: AppDep, actor: ActorDep, site_id: Filter = None, patient_id: Filter = None,
                    status: AdmissionStatus | None = None,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[AdmissionOut]:
    """Admissions, most urgent first, then the longest waiting."""
    items, total = placement.list_admissions(AdmissionFilter(site_id, status, patient_id), actor, _beds(app),
                                             offset, limit)
    return Page[AdmissionOut](items=[AdmissionOut.of(a) for a in items], total=total, offset=offset,
                              limit=limit)


@router.get("/admissions/{admission_id}", responses=ERRORS, dependencies=READ)
def get_admission(admission_id: Annotated[ShortId, Path()], app: AppDep, actor: ActorDep) -> AdmissionOut:
    """One admission: waiting, or placed with its bed and booking."""
    return AdmissionOut.of(placement.get_admission(admission_id, actor, _beds(app)))


@router.post("/admissions/{admission_id}/cancel", responses=ERRORS, dependencies=WRITE)
def cancel_admission(admission_id: Annotated[ShortId, Path()], body: ReasonBody, app: AppDep,
                     actor: ActorDep) -> AdmissionOut:
    """No bed needed any more: stops the wait, or gives the bed back while the patient has
    not arrived (409 once they have: report the discharge)."""
    return AdmissionOut.of(placement.cancel_admission(admission_id, body.reason, actor, _beds(app)))


@router.get("/beds/board", responses=ERRORS, dependencies=READ)
def bed_board(app: AppDep, actor: ActorDep, site_id: Annotated[ShortId, Query()]) -> BoardOut:
    """Per unit: each bed clean, occupied, dirty or out of service, and who waits for one."""
    return BoardOut.of(boards.board(site_id, actor, _beds(app)))


@router.post("/beds/{bed_id}/cleaned", responses=ERRORS, dependencies=WRITE)
def bed_cleaned(bed_id: Annotated[ShortId, Path()], app: AppDep, actor: ActorDep,
                body: CleanedBody | None = None) -> CleanedOut:
    """Housekeeping finished the bed: its task is resolved, the bed is ready, and the site's
    waiting admissions get the beds (most urgent first, then the longest waiting)."""
    state, placed = housekeeping.mark_cleaned(bed_id, body.at if body else None, actor, _beds(app))
    return CleanedOut(bed_id=state.bed_id, status=state.status.value, since=state.since,
                      placed=[AdmissionOut.of(a) for a in placed])


@router.post("/beds/{bed_id}/out-of-service", responses=ERRORS, dependencies=WRITE)
def bed_out_of_service(bed_id: Annotated[ShortId, Path()], body: OutOfServiceBody, app: AppDep,
                       actor: ActorDep) -> CleanedOut:
    """Take a bed off the board's offer (broken, room closed) until it is reported clean."""
    state = housekeeping.take_out_of_service(bed_id, body.reason, actor, _beds(app))
    return CleanedOut(bed_id=state.bed_id, status=state.status.value, since=state.since, placed=[])
