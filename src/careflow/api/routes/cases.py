"""Surgical cases: request one (a durable workflow runs it), list, read, and signal."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from careflow.api.case_schemas import CaseBody, CaseOut, CaseStatusName, Signal
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.errors import problem
from careflow.api.exception_schemas import ShortId
from careflow.api.schemas import Page, Problem
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.domain.surgical_cases import SurgicalCase
from careflow.services import surgical_cases as use
from careflow.services.surgical_cases import CaseView
from careflow.services.workflows.runtime import WorkflowDeps

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
log = logging.getLogger("careflow.api")

CaseId = Annotated[ShortId, Path()]
ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission"},
    404: {"model": Problem, "description": "unknown case"},
    409: {"model": Problem, "description": "the case is finished and waits for nothing"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
    503: {"model": Problem, "description": "the workflow database cannot be reached"},
}
READ = [needs(Permission.BOOKING_READ)]
WRITE = [needs(Permission.BOOKING_WRITE)]


def _workflows(app: App) -> WorkflowDeps:
    if app.workflows is None:
        raise RuntimeError("workflows need careflow's SQL database")
    wd: WorkflowDeps = app.workflows
    return wd


def _fresh(case: SurgicalCase) -> CaseOut:
    return CaseOut.of(CaseView(case, [], [], None))


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS, dependencies=WRITE)
def start_case(body: CaseBody, app: AppDep, actor: ActorDep, response: Response) -> CaseOut:
    """Request a surgical case: careflow gathers the preference card, checks every dependency,
    holds the best option with the surgeon, asks people only what needs a person, waits for
    them durably and books. The case is started at once (or, if the workflow database is
    down, by the next worker that starts)."""
    case = use.start_case(body.to_domain(), actor, _workflows(app))
    response.headers["Location"] = f"/api/v1/cases/{case.id}"
    return _fresh(case)


@router.get("", responses=ERRORS, dependencies=READ)
def list_cases(app: AppDep, actor: ActorDep, status: CaseStatusName | None = None,
               patient_id: Annotated[ShortId | None, Query()] = None,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[CaseOut]:
    """Cases, newest first."""
    cases, total = use.list_cases(actor, _workflows(app), status, patient_id, offset, limit)
    return Page[CaseOut](items=[_fresh(c) for c in cases], total=total, offset=offset, limit=limit)


@router.get("/{case_id}", responses=ERRORS, dependencies=READ)
def get_case(case_id: CaseId, app: AppDep, actor: ActorDep) -> CaseOut:
    """One case: status, steps done, what it waits for, its tasks and purchase requests."""
    return CaseOut.of(use.get_case(case_id, actor, _workflows(app)))


@router.post("/{case_id}/signals/{signal}", responses=ERRORS, dependencies=WRITE,
             response_model=CaseOut)
def signal_case(case_id: CaseId, signal: Signal, app: AppDep, actor: ActorDep,
                request: Request) -> CaseOut | JSONResponse:
    """Tell a waiting case what happened: ``prep_done`` (pre-admission nursing confirms the
    preparation), ``stock_arrived`` or ``authorization_changed`` (the case looks again)."""
    try:
        case = use.signal_case(case_id, signal, actor, _workflows(app))
    except use.SignalFailed:
        return problem(503, "Service unavailable", "the workflow database cannot be reached; try again",
                       "unavailable", request)
    return _fresh(case)
