"""Demand forecasts per specialty × site, and the staff per shift they need (``predict.read``).

The series is the site's bookings of the specialty that kept their day, by local calendar
day, over the last 16 weeks from the site's first booking in them (days before careflow
held any are missing data, not zero demand). The model is ``predict/demand.py``; staff
per shift come from the cards through ``predict/shift_demand.py`` (minutes from the
duration model), beside the people of each role rostered at the site then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from careflow.domain.access import Actor, Permission
from careflow.domain.calendars import capacity_profile
from careflow.domain.catalog import Catalog
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import to_ts
from careflow.predict.demand import DayForecast, DemandModel
from careflow.predict.history import DEMAND_STATUSES, daily_counts, service_mix, shift_shares
from careflow.predict.shift_demand import SHIFTS, ShiftDemand, shift_demand
from careflow.services.ports import BookingFilter
from careflow.services.predictions import PredictionDeps, all_bookings, duration_model, visible_site

__all__ = ["DEMAND_HISTORY_DAYS", "MAX_FORECAST_DAYS", "DemandForecast", "demand_forecast"]

DEMAND_HISTORY_DAYS = 112
MAX_FORECAST_DAYS = 60


@dataclass(frozen=True)
class DemandForecast:
    """A series' daily forecast, its model and the staff it needs per shift."""

    site_id: str
    specialty: str
    model: DemandModel
    days: list[DayForecast]
    staffing: list[ShiftDemand]
    on_duty: dict[tuple[str, str, str], float]  # (day, shift, role) → people rostered on average
    mix: dict[str, float]


def _on_duty(catalog: Catalog, site_id: SiteId, role: str, specialty: str, span: tuple[int, int]) -> float:
    """People of ``role`` rostered at the site over ``span`` on average (pools by role,
    clinicians by profession and the series' specialty)."""
    zone = catalog.sites[site_id].zone
    people: list[Resource] = [r for r in catalog.at_site(site_id, ResourceKind.STAFF_POOL)
                              if r.active and r.pool.role == role]
    if not people:
        people = [r for r in catalog.at_site(site_id, ResourceKind.CLINICIAN)
                  if r.active and r.clinician.profession == role and specialty in r.clinician.specialties]
    seconds = sum((p.end - p.start) * p.count for r in people
                  for p in capacity_profile(r.availability, span, zone, r.capacity, site_id, r.site_id))
    return round(seconds / (span[1] - span[0]), 2)


def demand_forecast(deps: PredictionDeps, actor: Actor, site_id: str, specialty: str,
                    days: int = 14, level: float = 0.9) -> DemandForecast:
    """Daily volume of ``specialty`` at ``site_id`` for ``days`` from today (local), fitted on
    the last 16 weeks (from the site's first booking in them), and the staff-hours per shift
    and role it needs next to those rostered."""
    actor.require(Permission.PREDICT_READ)
    if not 1 <= days <= MAX_FORECAST_DAYS:
        raise InvalidRequest(f"days must be between 1 and {MAX_FORECAST_DAYS}", "days")
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        visible_site(catalog, actor, site_id)
        if specialty not in {s.specialty for s in catalog.services.values()}:
            raise InvalidRequest(f"no service has the specialty {specialty!r}", "specialty")
        zone = catalog.sites[SiteId(site_id)].zone
        today = deps.clock().astimezone(zone).date()
        first = today - timedelta(days=DEMAND_HISTORY_DAYS)
        lo = datetime.combine(first, time(0), tzinfo=zone)
        hi = datetime.combine(today, time(0), tzinfo=zone)
        flt = BookingFilter(site_id=SiteId(site_id), start_from=lo, start_to=hi)
        history = [b for b in all_bookings(uow, flt) if b.status in DEMAND_STATUSES]
        durations = duration_model(deps, uow, catalog)
    # The series starts with the site's first booking in the window: days before careflow held
    # any are missing data, not zero demand (they would read as a steep trend).
    first = min((b.start.astimezone(zone).date() for b in history), default=today)
    counts = daily_counts(history, catalog, site_id, specialty, first, today - timedelta(days=1))
    model = DemandModel.fit(counts)
    forecast = model.forecast(today, days, level)
    mix = service_mix(history, catalog, site_id, specialty)
    shares = shift_shares(history, catalog, site_id, specialty)
    staffing = shift_demand(forecast, mix, shares, catalog.services, lambda s: durations.estimate(s).p50)
    on_duty: dict[tuple[str, str, str], float] = {}
    shifts = {s.name: s for s in SHIFTS}
    for row in staffing:
        shift = shifts[row.shift]
        day = date.fromisoformat(row.day)
        start = datetime.combine(day, shift.start, tzinfo=zone)
        end_day = day if shift.end > shift.start else day + timedelta(days=1)
        end = datetime.combine(end_day, shift.end, tzinfo=zone)
        on_duty[(row.day, row.shift, row.role)] = _on_duty(catalog, SiteId(site_id), row.role, specialty,
                                                           (to_ts(start), to_ts(end)))
    return DemandForecast(site_id, specialty, model, forecast, staffing, on_duty, mix)
