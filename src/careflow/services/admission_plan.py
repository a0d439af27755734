"""The admission and surgical plan of a site: read its data, solve, return the proposal.

Nothing is written: the plan is a proposal. Booking a planned case goes through the case's
own workflow (``careflow cases``), which checks every dependency the plan does not model
(implants, equipment, anesthesia and OR staff, authorizations, readiness).

What is read, in one read-only unit of work (admission_plan_data.py):
the surgical cases not yet booked that may go to the site (status requested, running,
waiting or needs_attention; the site among their preferred sites, or none named), their
services' preference cards (operating-room minutes, capabilities, post-procedure bed) and
patients (sex, age, isolation); the site's operating rooms and the cases' surgeons with
their availability and existing bookings; the site's beds of the bed types the cases need,
grouped into ward rooms, with the bed bookings overlapping the horizon; and the ward nurses:
clinicians with profession ``nurse`` at the site, and staff pools with role ``ward-nurse``,
whose headcount in each shift becomes that many anonymous nurses (``pool/shift/n``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from careflow.domain.access import Actor, Permission
from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.planning.admission_plan import AdmissionPlan
from careflow.planning.admission_plan_solve import plan_admissions
from careflow.planning.admission_plan_wards import WARD_NURSE_ROLE
from careflow.planning.admission_plan_weights import SETTING, PlanningWeights
from careflow.services.admission_plan_data import read_problem
from careflow.services.catalogs import CatalogCache
from careflow.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from careflow.services.site_settings import SiteSetting, StoreOf, change_setting, read_setting
from careflow.services.workflows.case_store import CaseStore

__all__ = [
    "MAX_DAYS",
    "MAX_TIME_LIMIT",
    "AdmissionPlanDeps",
    "PlanRequest",
    "SiteWeights",
    "change_weights",
    "propose_admission_plan",
    "site_weights",
]

MAX_DAYS = 28
MAX_TIME_LIMIT = 300.0


@dataclass(frozen=True)
class AdmissionPlanDeps:
    """What the plan reads with: the unit of work, the catalog cache, the clock, and the
    stores of site settings and surgical cases on a unit of work (SQL adapters, or fakes)."""

    uow: UnitOfWorkFactory
    catalogs: CatalogCache
    clock: Clock
    settings_of: StoreOf
    cases_of: Callable[[UnitOfWork], CaseStore]


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """Plan ``site_id`` over ``days`` local days from ``start``, searching ``time_limit`` seconds."""

    site_id: str
    start: date
    days: int = 7
    time_limit: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise InvalidRequest(f"days must be between 1 and {MAX_DAYS}", "days")
        if not 0.1 <= self.time_limit <= MAX_TIME_LIMIT:
            raise InvalidRequest(f"time_limit must be between 0.1 and {MAX_TIME_LIMIT:g} seconds",
                                 "time_limit")


@dataclass(frozen=True, slots=True)
class SiteWeights:
    """A site's planning weights; ``version`` 0 and ``setting`` None while it keeps the defaults."""

    site_id: str
    weights: PlanningWeights
    version: int
    setting: SiteSetting | None = None


def _weights(deps: AdmissionPlanDeps, uow: UnitOfWork, site_id: str) -> SiteWeights:
    if site_id not in deps.catalogs.get(uow).sites:
        raise NotFound("site", site_id)
    found = read_setting(uow, deps.settings_of, site_id, SETTING)
    if found is None:
        return SiteWeights(site_id, PlanningWeights(), 0)
    return SiteWeights(site_id, PlanningWeights.of(found.value), found.version, found)


def site_weights(deps: AdmissionPlanDeps, actor: Actor, site_id: str) -> SiteWeights:
    """The weights the site plans with (its setting, or the defaults)."""
    actor.require(Permission.PLAN_READ)
    actor.require_site(site_id)
    with deps.uow() as uow:
        return _weights(deps, uow, site_id)


def change_weights(deps: AdmissionPlanDeps, actor: Actor, site_id: str, changes: Mapping[str, Any],
                   reason: str, expected_version: int | None = None, *, replace: bool = False) -> SiteWeights:
    """Change some of the site's weights (``replace``: the others go back to their defaults),
    versioned, with a reason, audited. ``Conflict`` when ``expected_version`` is stale."""
    actor.require(Permission.PLAN_CONFIGURE)
    actor.require_site(site_id)
    PlanningWeights().changed(changes)  # bad names or values are refused before anything is read
    if not reason.strip():
        raise InvalidRequest("a reason is required to change the planning weights", "reason")
    current = site_weights(deps, actor, site_id)
    if expected_version is not None and expected_version != current.version:
        raise Conflict(f"the planning weights of {site_id} are at version {current.version}, "
                       f"not {expected_version}")
    weights = (PlanningWeights() if replace else current.weights).changed(changes)
    saved = change_setting(deps.uow, deps.settings_of, deps.clock, site_id=site_id, name=SETTING,
                           value=weights.as_dict(), actor=actor.id, reason=reason,
                           expected_version=current.version)
    return SiteWeights(site_id, weights, saved.version, saved)


def propose_admission_plan(deps: AdmissionPlanDeps, actor: Actor, request: PlanRequest) -> AdmissionPlan:
    """The site's admission and surgical plan over the horizon, with its weights (nothing is written)."""
    actor.require(Permission.PLAN_READ)
    actor.require_site(request.site_id)
    with deps.uow() as uow:
        weights = _weights(deps, uow, request.site_id).weights
        problem = read_problem(uow, deps.catalogs.get(uow), deps.cases_of(uow), request.site_id,
                               request.start, request.days, weights)
    if problem.cases and not problem.nurses:
        raise InvalidRequest(f"site {request.site_id} records no ward nurses (clinicians with profession "
                             f"nurse, or staff pools with role {WARD_NURSE_ROLE}): nobody covers the beds",
                             "site_id")
    return plan_admissions(problem, request.time_limit, request.seed)
