"""Request and response bodies of the admission plan and planning-weights API (separate from the domain)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from careflow.api.schemas import Id, Input, Text
from careflow.planning.admission_plan import AdmissionPlan
from careflow.planning.admission_plan_weights import COST_NAMES, MAX_WEIGHT
from careflow.services.admission_plan import MAX_DAYS, MAX_TIME_LIMIT, SiteWeights

__all__ = ["AdmissionPlanBody", "AdmissionPlanOut", "WeightsBody", "WeightsOut"]

Weight = Annotated[int, Field(strict=True, ge=0, le=MAX_WEIGHT)]
NAMES = ", ".join(COST_NAMES)


class WeightsOut(BaseModel):
    """A site's planning weights; ``version`` 0 while it keeps the defaults."""

    site_id: str
    version: int
    weights: dict[str, int] = Field(description=f"cost name → weight: {NAMES}")
    updated_by: str | None = None
    updated_at: dt.datetime | None = None
    reason: str | None = None

    @classmethod
    def of(cls, found: SiteWeights) -> WeightsOut:
        s = found.setting
        return cls(site_id=found.site_id, version=found.version, weights=found.weights.as_dict(),
                   updated_by=s.updated_by if s else None, updated_at=s.updated_at if s else None,
                   reason=s.reason if s else None)


class WeightsBody(Input):
    """The site's new weights: names not given go back to their defaults."""

    weights: dict[str, Weight] = Field(max_length=len(COST_NAMES), description=f"cost name → weight: {NAMES}")
    reason: Text = Field(description="why the weights change (recorded in the audit trail)")
    expected_version: int | None = Field(None, ge=0, description="refused (409) when the weights moved on")


class AdmissionPlanBody(Input):
    """Plan a site over ``days`` local days from ``start``."""

    site_id: Id
    start: dt.date = Field(description="the first day, in the site's local time")
    days: int = Field(7, ge=1, le=MAX_DAYS)
    time_limit: float = Field(10.0, ge=0.1, le=MAX_TIME_LIMIT, description="solver seconds")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class PlannedCaseOut(BaseModel):
    case_id: str
    patient_id: str
    surgeon_id: str
    day: dt.date
    operating_room_id: str
    ward_room_id: str
    bed_id: str | None


class UnplannedCaseOut(BaseModel):
    case_id: str
    patient_id: str
    mandatory: bool
    reason: str


class NurseCoverOut(BaseModel):
    day: dt.date
    shift: str
    nurse_id: str
    room_ids: list[str]


class AdmissionPlanOut(BaseModel):
    """A proposal (nothing was written): planned cases, those left out and why, nurse coverage per
    shift, the weighted and raw costs and the hard violations (0 for a feasible plan)."""

    site_id: str
    start: dt.date
    days: int
    planned: list[PlannedCaseOut]
    unplanned: list[UnplannedCaseOut]
    coverage: list[NurseCoverOut]
    hard_violations: int
    violations: dict[str, int]
    costs: dict[str, int]
    raw: dict[str, int]
    total_cost: int
    weights: dict[str, int]
    repeatable: bool = Field(description="the same request and seed give this plan again (the solver's time "
                                         "limit cut nothing short)")

    @classmethod
    def of(cls, plan: AdmissionPlan) -> AdmissionPlanOut:
        return cls.model_validate(plan.as_dict())
