"""Predictions as advice: case durations, demand and staffing per shift, no-show risk,
overbooking advice per clinic session, and each site's overbooking policy."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.prediction_schemas import (
    AppliedOut,
    BookingDurationOut,
    DemandOut,
    DurationOut,
    DurationsOut,
    NoShowRiskOut,
    OverbookingOut,
    PolicyBody,
    PolicyOut,
)
from careflow.api.schemas import (
    ID_PATTERN,
    Id,
    Input,
    Problem,
    Text,
    clean_optional,
    no_control_characters,
)
from careflow.api.security import audit_read
from careflow.bootstrap import App
from careflow.domain.access import Permission
from careflow.predict.overbooking import OverbookingPolicy
from careflow.services import demand_forecast as forecasts
from careflow.services import predictions as use

router = APIRouter(prefix="/api/v1", tags=["predictions"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission, or a site beyond the caller's limit"},
    404: {"model": Problem, "description": "unknown site, service, clinician or booking"},
    409: {"model": Problem, "description": "a stale policy version, or applying advice at an advisory site"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}
ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
QueryId = Annotated[str, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                    AfterValidator(no_control_characters)]
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
Specialty = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
SurgeonId = Annotated[str | None, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA,
                                        description="omit for the procedure and every surgeon"),
                      AfterValidator(clean_optional)]
READ = [needs(Permission.PREDICT_READ)]


def deps_of(app: App) -> use.PredictionDeps:
    """The prediction dependencies wired in ``bootstrap`` (built here for an app without SQL)."""
    wired: use.PredictionDeps | None = app.predictions
    if wired is not None:
        return wired
    from careflow.adapters.db.master_admin import admin_store
    from careflow.adapters.db.site_setting_store import site_settings_of

    d = app.deps
    return use.PredictionDeps(d.uow, d.catalogs, d.clock, site_settings_of, admin=admin_store)


@router.get("/predictions/durations", responses=ERRORS, dependencies=READ)
def durations(app: AppDep, actor: ActorDep, service_id: QueryId,
              surgeon_id: SurgeonId = None) -> DurationsOut:
    """P50 / P80 case minutes of a procedure (by a surgeon), shrunk toward the procedure when
    the surgeon has few cases, with the spread, the evidence and the minutes to book (P80)."""
    found = use.duration_estimates(deps_of(app), actor, service_id, surgeon_id)
    return DurationsOut(model_version=found[0].version, estimates=[DurationOut.of(e) for e in found])


@router.get("/bookings/{booking_id}/duration-advice", responses=ERRORS,
            dependencies=[needs(Permission.PREDICT_READ, Permission.BOOKING_READ)])
def duration_advice(booking_id: PathId, app: AppDep, actor: ActorDep) -> BookingDurationOut:
    """Whether the case length a booking (or hold) holds covers the P80 of its procedure by
    its surgeon, and by how much it falls short: the duration advice where a case is booked."""
    booking, estimate = use.booking_duration_advice(deps_of(app), actor, booking_id)
    booked = (booking.end - booking.start).total_seconds() / 60.0
    return BookingDurationOut.of(booking.id, booked, estimate)


@router.get("/predictions/demand", responses=ERRORS, dependencies=READ)
def demand(app: AppDep, actor: ActorDep, site_id: QueryId, specialty: Specialty,
           days: Annotated[int, Query(ge=1, le=forecasts.MAX_FORECAST_DAYS)] = 14) -> DemandOut:
    """Daily volume of a specialty at a site with 90 % intervals (weekday seasonality and
    trend), and the staff-hours per shift and role it needs beside those rostered."""
    return DemandOut.of(forecasts.demand_forecast(deps_of(app), actor, site_id, specialty, days))


@router.get("/predictions/overbooking", responses=ERRORS,
            dependencies=[needs(Permission.PREDICT_READ, Permission.BOOKING_READ)])
def overbooking(app: AppDep, actor: ActorDep, site_id: QueryId,
                date: Annotated[dt.date, Query(description="the site's local day")]) -> OverbookingOut:
    """Per clinic session: expected no-shows, the overbooks advised within the site's risk
    tolerance and caps, what bound the number and which patients drive it. Audited (the
    advice rests on patients' no-show predictions)."""
    report = use.overbooking_advice(deps_of(app), actor, site_id, date)
    drivers = [d.booking_id for a in report.advice for d in a.drivers][:50]
    audit_read(app, actor, "prediction.overbooking", "site", site_id, date=date.isoformat(),
               predictor=report.predictor, bookings=drivers)
    return OverbookingOut.of(report)


class ApplyBody(Input):
    site_id: Id
    date: dt.date
    reason: Text | None = None


@router.post("/predictions/overbooking/apply", responses=ERRORS,
             dependencies=[needs(Permission.PREDICT_CONFIGURE)])
def apply_overbooking(body: ApplyBody, app: AppDep, actor: ActorDep) -> list[AppliedOut]:
    """At a site whose policy is executable, open the advised overbooks of each session as
    bookable capacity on its clinician (audited with the advice id); 409 at an advisory site."""
    done = use.apply_overbooking(deps_of(app), actor, body.site_id, body.date, body.reason or "")
    return [AppliedOut.of(a) for a in done]


@router.get("/sites/{site_id}/overbooking-policy", responses=ERRORS, dependencies=READ)
def get_policy(site_id: PathId, app: AppDep, actor: ActorDep) -> PolicyOut:
    """The site's overbooking policy (version 0: the default, advisory)."""
    policy, setting = use.overbooking_policy(deps_of(app), actor, site_id)
    return PolicyOut.of(site_id, policy, setting)


@router.put("/sites/{site_id}/overbooking-policy", responses=ERRORS,
            dependencies=[needs(Permission.PREDICT_CONFIGURE)])
def put_policy(site_id: PathId, body: PolicyBody, app: AppDep, actor: ActorDep) -> PolicyOut:
    """Set the site's mode (advisory or executable), maximum overbooks per session, risk
    tolerance and opted-out clinicians; versioned, with a reason, audited with before and after."""
    setting = use.set_overbooking_policy(deps_of(app), actor, site_id, body.value(), body.reason,
                                         body.expected_version)
    return PolicyOut.of(site_id, OverbookingPolicy.of(setting.value), setting)


@router.get("/bookings/{booking_id}/no-show-risk", responses=ERRORS,
            dependencies=[needs(Permission.PREDICT_READ, Permission.BOOKING_READ, Permission.PATIENT_READ)])
def no_show_risk(booking_id: PathId, app: AppDep, actor: ActorDep) -> NoShowRiskOut:
    """The probability that the booking's patient does not come, the predictor's reasons and
    which predictor (the operator's model, or the site's observed rate). Audited."""
    risk = use.no_show_risk(deps_of(app), actor, booking_id)
    audit_read(app, actor, "prediction.no_show", "booking", booking_id, predictor=risk.predictor)
    return NoShowRiskOut.of(risk)
