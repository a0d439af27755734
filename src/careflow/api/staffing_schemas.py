"""Request and response bodies of the staff-reallocation API (separate from the domain)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from careflow.api.schemas import Id, Input, Instant, Text
from careflow.domain.ids import SiteId
from careflow.planning.reallocation import CoverageRow, Plan, Shortage
from careflow.planning.staff_coverage import Demand
from careflow.services.reallocation import proposal_dict

__all__ = ["AppliedOut", "ApplyBody", "DemandIn", "EmergencyBody", "ReallocationOut"]

Role = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
Language = Annotated[str, Field(min_length=2, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")]


class DemandIn(Input):
    """Staff needed now beyond the bookings (a trauma, a surge): not stored."""

    site_id: Id
    role: Role = Field(description="the pool role, e.g. anesthesia, preop-nurse, interpreter")
    language: Language | None = Field(None, description="for an interpreter: the language")
    start: Instant
    end: Instant
    units: int = Field(1, ge=1, le=100)
    reason: Text | None = None

    def to_domain(self) -> Demand:
        return Demand(SiteId(self.site_id), self.role, self.start, self.end, self.units, self.language,
                      "emergency", "", self.reason or "")


class EmergencyBody(Input):
    date: dt.date = Field(description="the day, in each site's local time")
    site_id: Id | None = Field(None, description="only shortages at this site (sources anywhere)")
    demands: list[DemandIn] = Field(min_length=1, max_length=50)


class ProposalIn(BaseModel):
    """A proposal as ``GET /api/v1/staffing/reallocation`` returned it. Only the pools,
    the span and the units are read; travel and the leaving time are derived again."""

    model_config = ConfigDict(extra="ignore")

    source_pool_id: Id
    target_pool_id: Id
    start: Instant
    end: Instant
    units: int = Field(ge=1, le=100)


class ApplyBody(Input):
    proposal: ProposalIn
    reason: Text | None = None


class RowOut(BaseModel):
    site_id: str
    pool_type: str
    hour: dt.datetime
    on_duty: int
    booked: int
    demand: int
    short: int
    surplus: int
    freed: int

    @classmethod
    def of(cls, r: CoverageRow) -> RowOut:
        return cls(site_id=r.site_id, pool_type=r.pool_type, hour=r.hour, on_duty=r.on_duty, booked=r.booked,
                   demand=r.demand, short=r.short, surplus=r.surplus, freed=r.freed)


class ShortageOut(BaseModel):
    site_id: str
    pool_id: str | None
    role: str
    languages: list[str]
    start: dt.datetime
    end: dt.datetime
    units: int
    covered: int = Field(description="units moves cover for the whole span")
    covered_unit_hours: float = Field(description="unit-hours moves cover, some for part of the span")
    causes: list[str]

    @classmethod
    def of(cls, s: Shortage) -> ShortageOut:
        return cls(site_id=s.site_id, pool_id=s.pool_id, role=s.role, languages=sorted(s.languages),
                   start=s.start, end=s.end, units=s.units, covered=s.covered,
                   covered_unit_hours=s.covered_unit_hours, causes=list(s.causes))


class ReallocationOut(BaseModel):
    date: dt.date
    site_id: str | None
    at: dt.datetime
    short_units: int = Field(description="units short over all shortages (one per layer)")
    covered_units: int
    proposals: list[dict[str, Any]] = Field(description="moves, best first, each with its reasons")
    shortages: list[ShortageOut]
    rows: list[RowOut] = Field(description="per site, pool type and local hour")

    @classmethod
    def of(cls, plan: Plan, day: dt.date, site_id: str | None, at: dt.datetime) -> ReallocationOut:
        return cls(date=day, site_id=site_id, at=at, short_units=sum(s.units for s in plan.shortages),
                   covered_units=sum(s.covered for s in plan.shortages),
                   proposals=[proposal_dict(p) for p in plan.proposals],
                   shortages=[ShortageOut.of(s) for s in plan.shortages],
                   rows=[RowOut.of(r) for r in plan.rows])


class AppliedOut(BaseModel):
    id: str
    source_pool_id: str
    target_pool_id: str
    start: dt.datetime
    end: dt.datetime
    leave_at: dt.datetime
    units: int
