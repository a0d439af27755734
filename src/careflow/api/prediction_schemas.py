"""Request and response bodies of the predictions API (separate from the domain)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from careflow.api.schemas import Id, Input, Text
from careflow.predict.duration import DurationEstimate
from careflow.predict.overbooking import MAX_PER_SESSION_LIMIT, OverbookingAdvice, OverbookingPolicy
from careflow.services.demand_forecast import DemandForecast
from careflow.services.predictions import AppliedSession, NoShowRisk, OverbookingReport
from careflow.services.site_settings import SiteSetting

__all__ = ["AdviceOut", "AppliedOut", "BookingDurationOut", "DemandOut", "DurationOut", "DurationsOut",
           "NoShowRiskOut", "OverbookingOut", "PolicyBody", "PolicyOut"]


class DurationOut(BaseModel):
    service_id: str
    surgeon_id: str | None = Field(description="None: the procedure over all surgeons")
    p50_minutes: float
    p80_minutes: float
    spread_minutes: float = Field(description="P80 − P50")
    card_minutes: int = Field(description="what the preference card books today")
    suggested_minutes: int = Field(description="what to book: P80 rounded up to 5 minutes")
    surgeon_cases: int
    procedure_cases: int
    surgeon_weight: float = Field(description="credibility of the surgeon's own cases, n / (n + k)")
    procedure_weight: float = Field(description="credibility of the procedure's cases against the card")
    k: float = Field(description="pseudo-cases the prior is worth (Bühlmann–Straub)")
    basis: str
    explanation: str

    @classmethod
    def of(cls, e: DurationEstimate) -> DurationOut:
        return cls(service_id=e.service_id, surgeon_id=e.surgeon_id, p50_minutes=e.p50, p80_minutes=e.p80,
                   spread_minutes=round(e.spread, 1), card_minutes=e.card_minutes,
                   suggested_minutes=e.suggested_minutes, surgeon_cases=e.surgeon_cases,
                   procedure_cases=e.procedure_cases, surgeon_weight=e.surgeon_weight,
                   procedure_weight=e.procedure_weight, k=e.k, basis=e.basis, explanation=e.explanation())


class BookingDurationOut(BaseModel):
    booking_id: str
    booked_minutes: float = Field(description="the case length the booking holds")
    covers_p80: bool
    short_by_minutes: float = Field(description="P80 − booked, when positive")
    estimate: DurationOut

    @classmethod
    def of(cls, booking_id: str, booked: float, e: DurationEstimate) -> BookingDurationOut:
        return cls(booking_id=booking_id, booked_minutes=round(booked, 1), covers_p80=booked >= e.p80,
                   short_by_minutes=round(max(0.0, e.p80 - booked), 1), estimate=DurationOut.of(e))


class DurationsOut(BaseModel):
    model_version: str
    estimates: list[DurationOut]


class DayOut(BaseModel):
    date: dt.date
    mean: float
    lower: int
    upper: int


class ShiftOut(BaseModel):
    date: dt.date
    shift: str
    role: str
    hours: float = Field(description="staff-hours at the forecast's mean volume")
    hours_upper: float = Field(description="staff-hours at the interval's upper bound")
    staff: int = Field(description="people the upper bound needs over the shift")
    on_duty: float = Field(description="people of the role rostered at the site over the shift, on average")


class DemandOut(BaseModel):
    site_id: str
    specialty: str
    model_version: str
    method: str
    history_days: int
    weekly_growth: float
    weekday_factors: dict[str, float]
    dispersion: float
    service_mix: dict[str, float]
    days: list[DayOut]
    staffing: list[ShiftOut]

    @classmethod
    def of(cls, f: DemandForecast) -> DemandOut:
        m = f.model
        return cls(site_id=f.site_id, specialty=f.specialty, model_version=m.version, method=m.method,
                   history_days=m.days, weekly_growth=round(m.weekly_growth, 4),
                   weekday_factors=m.weekday_factors(), dispersion=round(m.dispersion, 3),
                   service_mix={k: round(v, 3) for k, v in f.mix.items()},
                   days=[DayOut(date=d.day, mean=d.mean, lower=d.lower, upper=d.upper) for d in f.days],
                   staffing=[ShiftOut(date=dt.date.fromisoformat(r.day), shift=r.shift, role=r.role,
                                      hours=r.hours, hours_upper=r.hours_upper, staff=r.staff,
                                      on_duty=f.on_duty.get((r.day, r.shift, r.role), 0.0))
                             for r in f.staffing])


class PolicyBody(Input):
    """A site's overbooking policy, the reason for the change and, optionally, the version it replaces."""

    mode: Literal["advisory", "executable"] = "advisory"
    max_per_session: int = Field(2, ge=0, le=MAX_PER_SESSION_LIMIT, strict=True)
    risk_tolerance: float = Field(0.1, ge=0.0, le=0.5)
    clinicians_opted_out: list[Id] = Field(default_factory=list, max_length=500)
    reason: Text
    expected_version: int | None = Field(None, ge=0, description="refused (409) when the policy moved on")

    def value(self) -> dict[str, Any]:
        return {"mode": self.mode, "max_per_session": self.max_per_session,
                "risk_tolerance": self.risk_tolerance, "clinicians_opted_out": self.clinicians_opted_out}


class PolicyOut(BaseModel):
    site_id: str
    mode: str
    max_per_session: int
    risk_tolerance: float
    clinicians_opted_out: list[str]
    version: int = Field(description="0: the default policy, never set")
    updated_by: str | None = None
    updated_at: dt.datetime | None = None
    reason: str | None = None

    @classmethod
    def of(cls, site_id: str, policy: OverbookingPolicy, setting: SiteSetting | None) -> PolicyOut:
        return cls(site_id=site_id, **policy.to_value(), version=setting.version if setting else 0,
                   updated_by=setting.updated_by if setting else None,
                   updated_at=setting.updated_at if setting else None,
                   reason=setting.reason if setting else None)


class DriverOut(BaseModel):
    booking_id: str
    no_show: float
    reasons: list[tuple[str, float]]


class AdviceOut(BaseModel):
    id: str
    clinician_id: str
    start: dt.datetime
    end: dt.datetime
    capacity: int
    booked: int
    expected_no_shows: float
    recommended_by_risk: int
    extra: int = Field(description="overbooks advised after the policy's caps")
    overflow_risk: float
    bound: str
    drivers: list[DriverOut]
    explanation: str

    @classmethod
    def of(cls, a: OverbookingAdvice) -> AdviceOut:
        s = a.session
        return cls(id=a.id, clinician_id=s.clinician_id, start=s.start, end=s.end, capacity=s.capacity,
                   booked=a.booked, expected_no_shows=a.expected_no_shows,
                   recommended_by_risk=a.recommended_by_risk,
                   extra=a.extra, overflow_risk=a.overflow_risk, bound=a.bound,
                   drivers=[DriverOut(booking_id=d.booking_id, no_show=d.no_show, reasons=list(d.reasons))
                            for d in a.drivers], explanation=a.explanation())


class OverbookingOut(BaseModel):
    site_id: str
    date: dt.date
    mode: str = Field(description="advisory: shown only; executable: applied by the engine")
    policy_version: int
    predictor: str = Field(description="the no-show predictor used: the operator's model or the site's rate")
    declined: str | None = Field(description="why the predictor gives no advice, if it does not")
    sessions: list[AdviceOut]

    @classmethod
    def of(cls, r: OverbookingReport) -> OverbookingOut:
        return cls(site_id=r.site_id, date=r.day, mode=r.policy.mode, policy_version=r.policy_version,
                   predictor=r.predictor, declined=r.declined, sessions=[AdviceOut.of(a) for a in r.advice])


class AppliedOut(BaseModel):
    advice_id: str
    clinician_id: str
    start: dt.datetime
    end: dt.datetime
    lanes_before: int
    lanes: int

    @classmethod
    def of(cls, a: AppliedSession) -> AppliedOut:
        return cls(advice_id=a.advice_id, clinician_id=a.clinician_id, start=a.start, end=a.end,
                   lanes_before=a.lanes_before, lanes=a.lanes)


class NoShowRiskOut(BaseModel):
    booking_id: str
    probability: float
    reasons: list[tuple[str, float]] = Field(description="feature and its log-odds effect, largest first")
    predictor: str
    note: str | None = None

    @classmethod
    def of(cls, r: NoShowRisk) -> NoShowRiskOut:
        return cls(booking_id=r.booking_id, probability=r.probability, reasons=r.reasons,
                   predictor=r.predictor, note=r.note or None)
