"""Prediction use cases: durations, no-show risk, the overbooking policy, advice and its application.

Predictions are advice: they are shown, explained and audited, and change nothing,
except overbooking advice at a site whose policy (``predict.overbooking``, set by a
holder of ``predict.configure``, versioned and audited) is ``executable``. There
``apply_overbooking`` opens the advised overbooks as bookable capacity, when a permitted
role asks (REST, CLI) and, as the engine, whenever a clinic visit is confirmed there
(``register_handlers``): for each session with advice, an ``extra`` calendar exception
of (overbooks already booked + advised) units on the clinician over the session, the
clinician's capacity raised so the lanes exist, through the master-data admin store as
staff reallocation does, the catalog version moved and one audit entry per session
carrying the advice id. The bookings themselves are then made with the core's ordinary
commands (find, hold, book): every dependency (an exam room, the patient's readiness) is
still checked, and a capacity-1 clinician is never double-booked behind the engine's
back. Re-applying replaces the session's earlier overbooking exception and never shrinks
it below the overbooks already booked.

The no-show predictor is the operator's model (``PredictionDeps.noshow``, the file
``CAREFLOW_NOSHOW_MODEL`` names) when one is configured; without one, each site's observed
no-show rate over its finished bookings (``predict/booking_facts.py``), which declines to
advise below 20 finished appointments. A configured model that could not be loaded makes
the fallback decline too, saying why: no overbooking rests on a predictor nobody chose.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from careflow.domain.access import SYSTEM, Actor, Permission
from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.calendars import CalendarException, ExceptionKind, capacity_profile, free_spans
from careflow.domain.catalog import Catalog
from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.preference_cards import ServiceKind
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import from_ts, to_ts
from careflow.predict.booking_facts import ObservedRatePredictor, facts_of
from careflow.predict.duration import DurationEstimate, DurationModel
from careflow.predict.history import (
    case_records,
    primary_clinician,
)
from careflow.predict.overbooking import OverbookingAdvice, OverbookingPolicy, Session, advise, score_patients
from careflow.predict.ports import AppointmentFacts, NoShowPredictor
from careflow.services.catalogs import CatalogCache
from careflow.services.dispatch import HandlerRegistry, Standalone
from careflow.services.ports import (
    AuditEntry,
    BookingFilter,
    Clock,
    MasterAdminStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from careflow.services.site_settings import SiteSetting, StoreOf, change_setting, read_setting

__all__ = ["CONSUMER", "POLICY_SETTING", "AppliedSession", "ModelCache", "NoShowRisk", "OverbookingReport",
           "PredictionDeps", "all_bookings", "apply_overbooking", "booking_duration_advice",
           "duration_estimates", "duration_model", "engine_handler", "no_show_risk", "overbooking_advice",
           "overbooking_policy", "register_handlers", "set_overbooking_policy", "visible_site"]

POLICY_SETTING = "predict.overbooking"
CONSUMER = "overbooking"
DURATION_HISTORY_DAYS = 730
RATE_HISTORY_DAYS = 365
REFIT_SECONDS = 300
OVERBOOK_TAG = "overbooking "  # the reason prefix of the extra exceptions apply writes
CLINIC_KINDS = frozenset({ServiceKind.VISIT})
SESSION_STATUSES = frozenset({BookingStatus.HELD, BookingStatus.BOOKED, BookingStatus.ARRIVED})


class ModelCache:
    """The duration model, refitted when master data moved on, or when bookings did and the
    model is more than ``REFIT_SECONDS`` old: completed cases accumulate slowly, and a booking
    request must not pay for a refit after every booking elsewhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._duration: tuple[int, int, datetime, DurationModel] | None = None

    def _fresh(self, version: int, head: int, now: datetime) -> DurationModel | None:
        current = self._duration
        if current is None or current[0] != version:
            return None
        if current[1] == head or (now - current[2]).total_seconds() < REFIT_SECONDS:
            return current[3]
        return None

    def duration(self, version: int, head: int, now: datetime,
                 fit: Callable[[], DurationModel]) -> DurationModel:
        found = self._fresh(version, head, now)
        if found is not None:
            return found
        with self._lock:
            found = self._fresh(version, head, now)
            if found is None:
                found = fit()
                self._duration = (version, head, now, found)
            return found


@dataclass(frozen=True)
class PredictionDeps:
    """Units of work, the catalog cache, the clock, the site settings store and, optionally,
    the operator's no-show model and the admin store (to apply executable overbooking)."""

    uow: UnitOfWorkFactory
    catalogs: CatalogCache
    clock: Clock
    settings_of: StoreOf
    noshow: NoShowPredictor | None = None
    admin: Callable[[UnitOfWork], MasterAdminStore] | None = None
    noshow_problem: str = ""  # why the configured model is not in use (shown with every answer)
    models: ModelCache = field(default_factory=ModelCache)


def all_bookings(uow: UnitOfWork, flt: BookingFilter) -> list[Booking]:
    """Every booking the filter matches, page by page."""
    out: list[Booking] = []
    while True:
        page, total = uow.bookings.find(flt, len(out), 500)
        out.extend(page)
        if not page or len(out) >= total:
            return out


def visible_site(catalog: Catalog, actor: Actor, site_id: str) -> None:
    """``NotFound`` for an unknown site or one beyond the actor's site limit."""
    if site_id not in catalog.sites or not actor.may_see_site(site_id):
        raise NotFound("site", site_id)


# --- durations ------------------------------------------------------------------------


def duration_model(deps: PredictionDeps, uow: UnitOfWork, catalog: Catalog) -> DurationModel:
    """The duration model over the last two years of fulfilled cases (cached, see ``ModelCache``)."""
    now = deps.clock()

    def fit() -> DurationModel:
        done = all_bookings(uow, BookingFilter(status=BookingStatus.FULFILLED,
                                       start_from=now - timedelta(days=DURATION_HISTORY_DAYS)))
        return DurationModel.fit(case_records(done, catalog))

    return deps.models.duration(catalog.version, uow.bookings.change_head(), now, fit)


def duration_estimates(deps: PredictionDeps, actor: Actor, service_id: str,
                       surgeon_id: str | None = None) -> list[DurationEstimate]:
    """The (procedure, surgeon) estimate; without a surgeon, the procedure's and every
    surgeon's with completed cases of it."""
    actor.require(Permission.PREDICT_READ)
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        service = catalog.service(service_id)
        if surgeon_id is not None:
            found = catalog.resources.get(ResourceId(surgeon_id))
            if found is None or found.kind is not ResourceKind.CLINICIAN:
                raise NotFound("clinician", surgeon_id)
        model = duration_model(deps, uow, catalog)
    if surgeon_id is not None:
        return [model.estimate(service, surgeon_id)]
    surgeons = model.surgeons_of(str(service.id))
    return [model.estimate(service)] + [model.estimate(service, s) for s in surgeons]


def booking_duration_advice(deps: PredictionDeps, actor: Actor,
                            booking_id: str) -> tuple[Booking, DurationEstimate]:
    """A booking and the duration estimate for its procedure and surgeon (its primary
    clinician): whether the length it holds covers P80 (``predict.read``, ``booking.read``)."""
    actor.require(Permission.PREDICT_READ)
    actor.require(Permission.BOOKING_READ)
    with deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
        if booking is None or not actor.may_see_site(booking.site_id):
            raise NotFound("booking", booking_id)
        catalog = deps.catalogs.get(uow)
        service = catalog.service(booking.service_id)
        model = duration_model(deps, uow, catalog)
    return booking, model.estimate(service, primary_clinician(booking, catalog))


# --- the overbooking policy -------------------------------------------------------------


def _policy(uow: UnitOfWork, deps: PredictionDeps,
            site_id: str) -> tuple[OverbookingPolicy, SiteSetting | None]:
    setting = read_setting(uow, deps.settings_of, site_id, POLICY_SETTING)
    return (OverbookingPolicy.of(setting.value) if setting else OverbookingPolicy()), setting


def overbooking_policy(deps: PredictionDeps, actor: Actor,
                       site_id: str) -> tuple[OverbookingPolicy, SiteSetting | None]:
    """The site's policy and its setting (None: the default, advisory)."""
    actor.require(Permission.PREDICT_READ)
    with deps.uow() as uow:
        visible_site(deps.catalogs.get(uow), actor, site_id)
        return _policy(uow, deps, site_id)


def set_overbooking_policy(deps: PredictionDeps, actor: Actor, site_id: str, value: dict[str, Any],
                           reason: str, expected_version: int | None = None) -> SiteSetting:
    """Change the site's policy (``predict.configure``): versioned, with a reason, audited."""
    actor.require(Permission.PREDICT_CONFIGURE)
    actor.require_site(site_id)
    policy = OverbookingPolicy.of(value)
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        visible_site(catalog, actor, site_id)
    for clinician in sorted(policy.clinicians_opted_out):
        found = catalog.resources.get(ResourceId(clinician))
        if found is None or found.kind is not ResourceKind.CLINICIAN:
            raise InvalidRequest(f"{clinician!r} is not a clinician", "clinicians_opted_out")
    return change_setting(deps.uow, deps.settings_of, deps.clock, site_id=site_id, name=POLICY_SETTING,
                          value=policy.to_value(), actor=actor.id, reason=reason,
                          expected_version=expected_version)


# --- no-show risk ---------------------------------------------------------------------


@dataclass(frozen=True)
class NoShowRisk:
    """One booking's no-show probability, the predictor's reasons and which predictor."""

    booking_id: str
    probability: float
    reasons: list[tuple[str, float]]
    predictor: str
    note: str = ""


def _predictor(deps: PredictionDeps, uow: UnitOfWork, site_id: str,
               now: datetime) -> tuple[NoShowPredictor, str | None]:
    """The operator's model, else the site's observed rate (and why it declines, if it does)."""
    if deps.noshow is not None:
        return deps.noshow, None
    since = now - timedelta(days=RATE_HISTORY_DAYS)
    finished = []
    for status in (BookingStatus.NO_SHOW, BookingStatus.ARRIVED, BookingStatus.FULFILLED):
        finished += all_bookings(uow, BookingFilter(site_id=SiteId(site_id), status=status, start_from=since,
                                            start_to=now))
    rate = ObservedRatePredictor.of(site_id, finished)
    problems = [p for p in (deps.noshow_problem, rate.declines) if p]
    return rate, "; ".join(problems) or None


def _facts(uow: UnitOfWork, catalog: Catalog, booking: Booking) -> AppointmentFacts:
    patient = uow.master.patient(booking.patient_id)
    others = all_bookings(uow, BookingFilter(patient_id=PatientId(booking.patient_id)))
    return facts_of(booking, patient.birth_date if patient else None, catalog.sites[booking.site_id].zone,
                    others)


def no_show_risk(deps: PredictionDeps, actor: Actor, booking_id: str) -> NoShowRisk:
    """The booking's no-show probability (``predict.read``, ``booking.read``, ``patient.read``)."""
    for permission in (Permission.PREDICT_READ, Permission.BOOKING_READ, Permission.PATIENT_READ):
        actor.require(permission)
    with deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
        if booking is None or not actor.may_see_site(booking.site_id):
            raise NotFound("booking", booking_id)
        catalog = deps.catalogs.get(uow)
        predictor, declined = _predictor(deps, uow, booking.site_id, deps.clock())
        [scored] = score_patients(predictor, {booking.id: _facts(uow, catalog, booking)})
    return NoShowRisk(booking.id, scored.no_show, list(scored.reasons), predictor.version, declined or "")


# --- overbooking advice and its application ----------------------------------------------


@dataclass(frozen=True)
class OverbookingReport:
    """A site's advice for a local day: its policy, the predictor used, one advice per session."""

    site_id: str
    day: date
    policy: OverbookingPolicy
    policy_version: int
    predictor: str
    declined: str | None
    advice: list[OverbookingAdvice]


def _day_span(catalog: Catalog, site_id: str, day: date) -> tuple[datetime, datetime]:
    zone = catalog.sites[SiteId(site_id)].zone
    return (datetime.combine(day, time(0), tzinfo=zone),
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))


def _sessions(uow: UnitOfWork, catalog: Catalog, site_id: str,
              day: date) -> list[tuple[Session, list[Booking]]]:
    """Clinic sessions with bookings: each clinician's contiguous availability at the site
    on the day, seating as many patients as its length holds of its median booked visit."""
    lo, hi = _day_span(catalog, site_id, day)
    mine: dict[str, list[Booking]] = {}
    for b in all_bookings(uow, BookingFilter(site_id=SiteId(site_id), start_from=lo, start_to=hi)):
        service = catalog.services.get(b.service_id)
        clinician = primary_clinician(b, catalog)
        clinic = service is not None and service.kind in CLINIC_KINDS
        if b.status in SESSION_STATUSES and clinic and clinician:
            mine.setdefault(clinician, []).append(b)
    out: list[tuple[Session, list[Booking]]] = []
    for clinician, booked in sorted(mine.items()):
        resource = catalog.resources.get(ResourceId(clinician))
        if resource is None:
            continue
        pieces = catalog.capacity(resource, SiteId(site_id), (to_ts(lo), to_ts(hi)))
        for start, end in free_spans(pieces):
            inside = [b for b in booked if start <= to_ts(b.start) < end]
            if not inside:
                continue
            visit = statistics.median((b.end - b.start).total_seconds() for b in inside)
            seats = max(1, math.floor((end - start) / visit)) if visit > 0 else len(inside)
            out.append((Session(clinician, site_id, day.isoformat(), from_ts(start), from_ts(end), seats),
                        inside))
    return out


def overbooking_advice(deps: PredictionDeps, actor: Actor, site_id: str, day: date) -> OverbookingReport:
    """Per clinic session at the site on the local ``day``: the advised overbooks, capped by
    the site's policy and explained (``predict.read`` and ``booking.read``)."""
    actor.require(Permission.PREDICT_READ)
    actor.require(Permission.BOOKING_READ)
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        visible_site(catalog, actor, site_id)
        policy, setting = _policy(uow, deps, site_id)
        now = deps.clock()
        if abs((day - now.date()).days) > 366:
            raise InvalidRequest("date must be within a year of today", "date")
        predictor, declined = _predictor(deps, uow, site_id, now)
        advice = [advise(session, score_patients(predictor, {b.id: _facts(uow, catalog, b) for b in booked}),
                         policy, predictor.version, declined)
                  for session, booked in _sessions(uow, catalog, site_id, day)]
    return OverbookingReport(site_id, day, policy, setting.version if setting else 0, predictor.version,
                             declined, advice)


@dataclass(frozen=True)
class AppliedSession:
    """What applying one session's advice did to its clinician's capacity."""

    advice_id: str
    clinician_id: str
    start: datetime
    end: datetime
    lanes_before: int
    lanes: int  # overbook lanes open over the session now


def _peak_use(uow: UnitOfWork, clinician: ResourceId, start: datetime, end: datetime) -> int:
    """The most of the clinician's allocations at once over the span."""
    busy = uow.bookings.busy([clinician], (to_ts(start), to_ts(end))).get(clinician, [])
    points = sorted([(b.start, 1) for b in busy] + [(b.end, -1) for b in busy])
    level = peak = 0
    for _, delta in points:
        level += delta
        peak = max(peak, level)
    return peak


def apply_overbooking(deps: PredictionDeps, actor: Actor, site_id: str, day: date,
                      reason: str = "") -> list[AppliedSession]:
    """Open the advised overbooks of the site's sessions on ``day`` as capacity, when the site's
    policy is executable (``Conflict`` when advisory); see the module docstring."""
    actor.require(Permission.PREDICT_CONFIGURE)
    actor.require_site(site_id)
    assert deps.admin is not None, "apply_overbooking needs the admin store"
    report = overbooking_advice(deps, actor, site_id, day)
    if report.policy.mode != "executable":
        raise Conflict(f"site {site_id}'s overbooking policy is {report.policy.mode}: "
                       "its advice is shown to schedulers, not applied")
    applied: list[AppliedSession] = []
    with deps.uow(write=True) as uow:
        store = deps.admin(uow)
        zone = deps.catalogs.get(uow).sites[SiteId(site_id)].zone
        for advice in report.advice:
            s = advice.session
            found = store.get("resource", (s.clinician_id,), lock=True)
            if found is None:
                continue
            res: Resource = found.item
            ours = [e for e in res.availability.exceptions if e.kind is ExceptionKind.EXTRA
                    and e.reason.startswith(OVERBOOK_TAG) and (e.start, e.end) == (s.start, s.end)]
            before = sum(e.capacity_delta or 1 for e in ours)
            in_use = max(0, _peak_use(uow, res.id, s.start, s.end) - 1)
            lanes = max(in_use, max(0, advice.booked - s.capacity) + advice.extra)
            if lanes == before:
                continue
            why = f" ({reason.strip()})" if reason.strip() else ""
            kept = tuple(e for e in res.availability.exceptions if e not in ours)
            if lanes:
                kept += (CalendarException(s.start, s.end, ExceptionKind.EXTRA, lanes,
                                           f"{OVERBOOK_TAG}{advice.id}: {lanes} overbook lane(s){why}"),)
            availability = replace(res.availability, exceptions=kept)
            pieces = capacity_profile(availability, (to_ts(s.start), to_ts(s.end)), zone, 1_000_000,
                                      SiteId(site_id), res.site_id)
            peak = max((p.count for p in pieces), default=1)
            grown = replace(res, availability=availability, capacity=max(res.capacity, peak))
            store.update("resource", grown)
            detail = {"site_id": site_id, "session": s.id, "advice": advice.id, "extra": advice.extra,
                      "booked": advice.booked, "capacity": s.capacity, "lanes_before": before, "lanes": lanes,
                      "bound": advice.bound, "policy_version": report.policy_version}
            uow.audit(AuditEntry(actor.id, "overbooking.apply", "resource", res.id, "applied",
                                 f"{advice.id}{why}", report.predictor, detail))
            applied.append(AppliedSession(advice.id, s.clinician_id, s.start, s.end, before, lanes))
        if applied:
            store.bump_version()
        uow.commit()
    return applied



# --- the engine: executable advice re-applied as clinic bookings are confirmed ----------


def engine_handler(deps: PredictionDeps) -> Standalone:
    """For ``BookingConfirmed`` of a clinic visit at a site whose policy is executable: the
    engine (the system actor) re-applies the advice of that local day's sessions. Idempotent
    (unchanged advice writes nothing); at an advisory site it does nothing."""

    def handle(payload: dict[str, Any]) -> None:
        site_id, start = str(payload.get("site_id", "")), payload.get("start")
        if not site_id or not isinstance(start, str):
            return
        with deps.uow() as uow:
            catalog = deps.catalogs.get(uow)
            service = catalog.services.get(ServiceId(str(payload.get("service_id", ""))))
            if site_id not in catalog.sites or service is None or service.kind not in CLINIC_KINDS:
                return
            policy, _ = _policy(uow, deps, site_id)
            zone = catalog.sites[SiteId(site_id)].zone
        if policy.mode == "executable":
            day = datetime.fromisoformat(start).astimezone(zone).date()
            why = f"engine: booking {payload.get('aggregate_id', '')} confirmed at an executable site"
            apply_overbooking(deps, SYSTEM, site_id, day, why)

    return Standalone(handle)


def register_handlers(registry: HandlerRegistry, deps: PredictionDeps) -> None:
    """The engine's side of executable overbooking (consumer ``overbooking``)."""
    registry.register("BookingConfirmed", CONSUMER, engine_handler(deps))
