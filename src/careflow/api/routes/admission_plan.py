"""The admission and surgical plan of a site (a proposal) and the site's planning weights."""

from __future__ import annotations

from fastapi import APIRouter

from careflow.adapters.db.case_store import cases_of
from careflow.adapters.db.site_setting_store import site_settings_of
from careflow.api.admission_plan_schemas import AdmissionPlanBody, AdmissionPlanOut, WeightsBody, WeightsOut
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.routes.manage_sites import PathId
from careflow.api.schemas import Problem
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.services import admission_plan as use

router = APIRouter(tags=["planning"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission, or a site beyond the caller's limit"},
    404: {"model": Problem, "description": "unknown site"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}


def deps_of(app: App) -> use.AdmissionPlanDeps:
    d = app.deps
    return use.AdmissionPlanDeps(d.uow, d.catalogs, d.clock, site_settings_of, cases_of)


@router.get("/api/v1/sites/{site_id}/planning-weights", responses=ERRORS,
            dependencies=[needs(Permission.PLAN_READ)])
def read_weights(site_id: PathId, app: AppDep, actor: ActorDep) -> WeightsOut:
    """The cost weights the site's admission plan uses (its own, or the defaults at version 0)."""
    return WeightsOut.of(use.site_weights(deps_of(app), actor, site_id))


@router.put("/api/v1/sites/{site_id}/planning-weights",
            responses={**ERRORS, 409: {"model": Problem, "description": "expected_version is stale"}},
            dependencies=[needs(Permission.PLAN_CONFIGURE)])
def replace_weights(site_id: PathId, body: WeightsBody, app: AppDep, actor: ActorDep) -> WeightsOut:
    """Set the site's weights (names not given go back to their defaults); versioned, with a
    reason, audited with before and after; 409 when ``expected_version`` is stale."""
    return WeightsOut.of(use.change_weights(deps_of(app), actor, site_id, body.weights, body.reason,
                                            body.expected_version, replace=True))


@router.post("/api/v1/planning/admission-plan", responses=ERRORS, dependencies=[needs(Permission.PLAN_READ)])
def admission_plan(body: AdmissionPlanBody, app: AppDep, actor: ActorDep) -> AdmissionPlanOut:
    """Propose which waiting surgical cases to operate on which day, in which operating room,
    which ward room and bed they go to and which nurses cover which rooms in each shift, with
    the site's weights; nothing is written."""
    request = use.PlanRequest(body.site_id, body.start, body.days, body.time_limit, body.seed)
    return AdmissionPlanOut.of(use.propose_admission_plan(deps_of(app), actor, request))
