"""Staff reallocation: where pool coverage is short on a day and the moves that would
cover it, emergency demand, and applying a move."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from careflow.adapters.db.master_admin import admin_store
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.schemas import Id, Problem
from careflow.api.staffing_schemas import AppliedOut, ApplyBody, EmergencyBody, ReallocationOut
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.services import reallocation as use

router = APIRouter(prefix="/api/v1/staffing", tags=["staffing"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission, or a site beyond the caller's limit"},
    404: {"model": Problem, "description": "unknown site or pool"},
    409: {"model": Problem, "description": "the source pool no longer has the staff spare"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}
READ = [needs(Permission.MASTER_READ, Permission.BOOKING_READ)]


def deps_of(app: App) -> use.ReallocationDeps:
    d = app.deps
    return use.ReallocationDeps(d.uow, d.catalogs, d.clock, admin_store)


@router.get("/reallocation", responses=ERRORS, dependencies=READ)
def reallocation(app: AppDep, actor: ActorDep,
                 date: Annotated[dt.date, Query(description="the day, in each site's local time")],
                 site_id: Annotated[Id | None, Query(description="only shortages at this site")] = None,
                 ) -> ReallocationOut:
    """Per site, pool type and hour: on duty, booked, short and spare; the short coverage
    (more booked than on duty, open queue items asking for staff) and the moves of spare
    pool staff that would cover it, best first, with their reasons."""
    plan = use.reallocation_plan(deps_of(app), actor, date, site_id)
    return ReallocationOut.of(plan, date, site_id, app.deps.clock())


@router.post("/emergency-demand", responses=ERRORS, dependencies=READ)
def emergency_demand(body: EmergencyBody, app: AppDep, actor: ActorDep) -> ReallocationOut:
    """The same, with emergency demand added (not stored: send it again to recompute)."""
    demands = [d.to_domain() for d in body.demands]
    plan = use.reallocation_plan(deps_of(app), actor, body.date, body.site_id, demands)
    return ReallocationOut.of(plan, body.date, body.site_id, app.deps.clock())


@router.post("/reallocation/apply", responses=ERRORS, dependencies=[needs(Permission.MASTER_WRITE)])
def apply(body: ApplyBody, app: AppDep, actor: ActorDep) -> AppliedOut:
    """Apply one proposal: a closure of its units on the source pool from when they leave,
    an extra session on the target pool for the span, in one audited transaction (409
    when the source no longer has the staff spare)."""
    p = body.proposal
    move = use.apply_move(deps_of(app), actor, p.source_pool_id, p.target_pool_id, p.start, p.end, p.units,
                          body.reason or "")
    return AppliedOut(id=move.id, source_pool_id=move.source, target_pool_id=move.target, start=move.start,
                      end=move.end, leave_at=move.leave_at, units=move.units)
