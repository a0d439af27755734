"""Request and response bodies of the planning API (separate from the domain)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from careflow.api.schemas import Id, Input, Text
from careflow.planning.sequencing import MAX_TIME_LIMIT
from careflow.planning.sequencing_problem import Weights
from careflow.services.sequencing import ApplyReport, Proposal, SequenceRequest, surgeons_of

__all__ = ["AppliedOut", "SequenceBody", "SequenceOut", "WeightsIn"]

_W = Weights()


class WeightsIn(Input):
    """Soft-constraint weights (cost per unit; 0 switches a term off); defaults as shown."""

    overtime_minute: int = Field(_W.overtime_minute, ge=0, le=10_000)
    surgeon_idle_minute: int = Field(_W.surgeon_idle_minute, ge=0, le=10_000)
    room_idle_minute: int = Field(_W.room_idle_minute, ge=0, le=10_000)
    priority_late_minute: int = Field(_W.priority_late_minute, ge=0, le=10_000)
    moved_case: int = Field(_W.moved_case, ge=0, le=10_000)
    moved_minute: int = Field(_W.moved_minute, ge=0, le=10_000)
    room_change: int = Field(_W.room_change, ge=0, le=10_000)

    def to_domain(self) -> Weights:
        return Weights(**self.model_dump())


class SequenceBody(Input):
    """Which operating day to sequence, by which policy, and whether to apply the proposal."""

    site_id: Id
    date: dt.date = Field(description="the day, in the site's local time")
    time_limit: float = Field(10.0, gt=0, le=MAX_TIME_LIMIT, description="solver seconds")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the solver's random seed")
    allow_room_change: bool = Field(False, description="cases may move to another room that fits")
    overtime_allowance_minutes: int = Field(0, ge=0, le=240,
                                            description="minutes a room may run past its close (penalized)")
    anesthesia_ratio: int = Field(1, ge=1, le=4, description="rooms one anesthesiologist covers at once")
    allow_swaps: bool = Field(False, description="propose swaps too (applied by parking a case on the way)")
    weights: WeightsIn | None = None
    apply: bool = Field(False, description="re-time the bookings as proposed (needs plan.write)")
    reason: Text | None = Field(None, description="why (required to apply)")
    proposal_token: str | None = Field(None, max_length=64, description=(
        "with apply: the proposal_token of the proposal reviewed; a different proposal is refused (409)"))

    def to_request(self) -> SequenceRequest:
        weights = self.weights.to_domain() if self.weights is not None else Weights()
        return SequenceRequest(self.site_id, self.date, self.time_limit, self.seed, weights,
                               self.allow_room_change, self.overtime_allowance_minutes, self.anesthesia_ratio,
                               self.allow_swaps)


class PenaltyOut(BaseModel):
    name: str
    amount: int = Field(description="minutes (or cases, for moved_case and room_change)")
    weight: int
    cost: int
    booked_cost: int = Field(description="the same term for the day as booked")
    detail: str


class CaseOut(BaseModel):
    booking_id: str
    patient_id: str
    service: str
    room_id: str
    order: int = Field(description="1-based position in its room")
    start: dt.datetime
    end: dt.datetime
    booked_room_id: str
    booked_start: dt.datetime
    moved: bool
    moved_minutes: int
    surgeons: list[str]
    reasons: list[str] = Field(description="why it moved")


class MovedOut(BaseModel):
    booking_id: str
    room_id: str
    start: dt.datetime
    end: dt.datetime


class RefusedOut(BaseModel):
    booking_id: str
    codes: list[str] = Field(description="violation codes (see /api/v1/codes), or CHANGED_SINCE_PROPOSED")
    message: str


class AppliedOut(BaseModel):
    applied: list[MovedOut]
    interim: list[MovedOut] = Field(description="cases parked at a free time on the way (a swap)")
    restored: list[MovedOut] = Field(description="parked cases put back where booked (their move failed)")
    refused: list[RefusedOut]

    @classmethod
    def of(cls, r: ApplyReport) -> AppliedOut:
        def moved(a: object) -> MovedOut:
            return MovedOut.model_validate(a, from_attributes=True)

        return cls(applied=[moved(a) for a in r.applied], interim=[moved(a) for a in r.interim],
                   restored=[moved(a) for a in r.restored],
                   refused=[RefusedOut(booking_id=x.booking_id, codes=list(x.codes), message=x.message)
                            for x in r.refused])


class SequenceOut(BaseModel):
    site_id: str
    date: dt.date
    timezone: str
    status: str = Field(description="optimal, feasible, infeasible or unknown")
    objective: int | None
    seconds: float
    seed: int
    time_limit: float
    penalties: list[PenaltyOut]
    cases: list[CaseOut] = Field(description="per room, in order")
    explanation: list[str] = Field(description="why the day cannot be sequenced, when it cannot")
    proposal_token: str = Field(description="what applying would do, fingerprinted: pass it back with apply")
    applied: AppliedOut | None = None

    @classmethod
    def of(cls, p: Proposal, report: ApplyReport | None = None) -> SequenceOut:
        r, surgeons = p.result, surgeons_of(p.problem)
        booked = {b.name: b.cost for b in r.booked_penalties}
        utc = dt.UTC
        return cls(
            site_id=p.site_id, date=p.day, timezone=p.timezone, status=r.status.value, objective=r.objective,
            seconds=r.seconds, seed=r.seed, time_limit=r.time_limit,
            penalties=[PenaltyOut(name=x.name, amount=x.amount, weight=x.weight, cost=x.cost,
                                  booked_cost=booked.get(x.name, 0), detail=x.detail) for x in r.penalties],
            cases=[CaseOut(booking_id=c.booking_id, patient_id=c.patient_id, service=c.service_code,
                           room_id=c.room_id, order=c.order, start=dt.datetime.fromtimestamp(c.start, utc),
                           end=dt.datetime.fromtimestamp(c.end, utc), booked_room_id=c.booked_room_id,
                           booked_start=dt.datetime.fromtimestamp(c.booked_start, utc), moved=c.moved,
                           moved_minutes=c.moved_minutes, surgeons=list(surgeons.get(c.booking_id, ())),
                           reasons=list(c.reasons)) for c in r.cases],
            explanation=list(r.explanation), proposal_token=p.token,
            applied=AppliedOut.of(report) if report is not None else None)
