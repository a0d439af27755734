"""Optimized plans: the proposed order of a site's operating day, and applying it."""

from __future__ import annotations

from fastapi import APIRouter

from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.planning_schemas import SequenceBody, SequenceOut
from careflow.api.schemas import Problem
from careflow.domain.access import Permission
from careflow.domain.errors import InvalidRequest
from careflow.services import sequencing as use

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem,
          "description": "lacks plan.read (plan.write to apply), or a site beyond the caller's limit"},
    404: {"model": Problem, "description": "unknown site"},
    409: {"model": Problem, "description": "apply with a proposal_token that is not the day's proposal"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}


@router.post("/sequence", responses=ERRORS, dependencies=[needs(Permission.PLAN_READ)])
def sequence(body: SequenceBody, app: AppDep, actor: ActorDep) -> SequenceOut:
    """Propose the order and start times of the site's cases in each operating room for the
    local day: room hours with setup and turnover, a surgeon in one room at a time, shared
    equipment with its reprocessing, anesthesia coverage (hard); overtime, surgeon and room
    idle time, late priority cases and moved cases (soft, weighted). With ``apply`` (needs
    ``plan.write`` and a reason) the moved cases are re-timed through the booking core, each
    re-checked and audited; what the core refuses is reported with its violation codes. Pass
    the ``proposal_token`` of the proposal you reviewed: if the day's proposal is no longer that
    one, nothing is applied (409).
    An infeasible day answers 200 with ``status`` infeasible and the ``explanation``."""
    if body.apply:
        actor.require(Permission.PLAN_WRITE)
        if body.reason is None:
            raise InvalidRequest("a reason is required to apply a proposal", "reason")
        if body.anesthesia_ratio > 1:
            raise InvalidRequest(use.RATIO_NOT_APPLIED, "anesthesia_ratio")
    proposal = use.propose(app.deps, actor, body.to_request())
    # An infeasible day answers with its explanation, unless a reviewed proposal was to be applied.
    applying = body.apply and (proposal.result.has_proposal or body.proposal_token is not None)
    reviewed = body.proposal_token
    report = use.apply(app.deps, actor, proposal, body.reason or "", reviewed) if applying else None
    return SequenceOut.of(proposal, report)
