"""Admissions and their placement: the best suitable bed that is clean and free for the stay.

``request_admission`` records the request; ``place`` tries to place one admission;
``place_next_in`` gives a site's beds to its waiting admissions, most urgent first, then
the longest waiting (a bed came back from housekeeping). A placement books the bed as a
booking of the inpatient-stay service: the same store, database guards (no overlapping
allocation on a bed, one place at a time per patient), outbox events and audit entries as
every booking. ``raise_overdue`` puts an admission that waited past its SLA on the
exception queue (team ``bed_management``) with the ranked near-misses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from careflow.domain.access import SYSTEM, Actor, Permission
from careflow.domain.beds import (
    Admission,
    AdmissionStatus,
    BedState,
    BedStatus,
    RequestAdmission,
    mismatches,
    penalty,
)
from careflow.domain.bookings import Allocation, Booking, BookingStatus
from careflow.domain.catalog import Catalog
from careflow.domain.checks import check_resource_time
from careflow.domain.errors import InvalidTransition, NotFound
from careflow.domain.exception_sla import DEFAULT_POLICY
from careflow.domain.exceptions_queue import ExceptionItem, RaiseException
from careflow.domain.ids import BookingId, SiteId
from careflow.domain.occupancy import Occupancy
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import Need
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import overlaps, to_ts
from careflow.services.beds.ports import STAY_SERVICE, AdmissionFilter, BedDeps
from careflow.services.booking import new_booking_id, release_expired_holds
from careflow.services.context import load_patient
from careflow.services.exception_queue import new_exception_id
from careflow.services.ports import AuditEntry, RaceLost, UnitOfWork

__all__ = ["PLACEMENT_RULES", "cancel_admission", "get_admission", "list_admissions", "near_misses", "place",
           "place_in", "place_next_in", "raise_overdue", "request_admission"]

PLACEMENT_RULES = "careflow-bed-placement/1"
ATTEMPTS = 4
NEAR_MISSES = 5
BED_NEED = Need(role="bed", kind=ResourceKind.BED, count=1)


def new_admission_id() -> str:
    return f"adm_{uuid.uuid4().hex}"


def _visible(adm: Admission | None, actor: Actor, admission_id: str) -> Admission:
    if adm is None or not actor.may_see_site(adm.site_id):
        raise NotFound("admission", admission_id)
    return adm


def _audit(uow: UnitOfWork, actor: Actor, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    uow.audit(AuditEntry(actor.id, action, entity, entity_id, "success", "", PLACEMENT_RULES, dict(detail)))


def request_admission(cmd: RequestAdmission, actor: Actor, deps: BedDeps) -> Admission:
    """Record an admission request (the site and patient must exist) and try to place it;
    one left waiting starts its durable wait (the placement workflow)."""
    actor.require(Permission.BED_WRITE)
    actor.require_site(cmd.site_id)
    with deps.booking.uow(write=True) as uow:
        deps.booking.catalogs.get(uow).site(cmd.site_id)
        load_patient(uow, cmd.patient_id)
        adm = Admission.requested(new_admission_id(), cmd, deps.booking.clock(), actor.id)
        deps.beds_of(uow).add_admission(adm)
        uow.publish(adm.events)
        adm.events.clear()
        _audit(uow, actor, "admission.request", "admission", adm.id, patient_id=adm.patient_id,
               site_id=adm.site_id, urgency=adm.urgency.value, source=adm.source)
        uow.commit()
    adm = place(adm.id, deps)
    if adm.status is AdmissionStatus.WAITING:
        deps.start(adm.id)
    return adm


def get_admission(admission_id: str, actor: Actor, deps: BedDeps) -> Admission:
    with deps.booking.uow() as uow:
        return _visible(deps.beds_of(uow).admission(admission_id), actor, admission_id)


def list_admissions(flt: AdmissionFilter, actor: Actor, deps: BedDeps, offset: int = 0,
                    limit: int = 50) -> tuple[list[Admission], int]:
    """A page of admissions in waiting order, within the actor's site limit."""
    if actor.sites is not None and not actor.break_glass:
        allowed = frozenset(actor.sites)
        flt = replace(flt, site_ids=allowed if flt.site_ids is None else flt.site_ids & allowed)
    with deps.booking.uow() as uow:
        return deps.beds_of(uow).admissions(flt, offset, limit)


def place(admission_id: str, deps: BedDeps) -> Admission:
    """Place a waiting admission in the best bed that suits it now, if one does; retried
    when a concurrent booking took the bed first. A placed or cancelled one is returned as is."""
    for attempt in range(ATTEMPTS):
        try:
            with deps.booking.uow(write=True) as uow:
                store = deps.beds_of(uow)
                adm = store.admission(admission_id, lock=True)
                if adm is None:
                    raise NotFound("admission", admission_id)
                if adm.status is AdmissionStatus.WAITING:
                    place_in(uow, deps, adm, deps.booking.clock())
                    uow.commit()
                return adm
        except RaceLost:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class _Candidate:
    bed: Resource
    reasons: tuple[str, ...]  # empty: the bed can take the patient now
    available_from: datetime | None  # when a busy bed frees up (None: not known or not at all)
    state: BedState | None


def _candidates(uow: UnitOfWork, deps: BedDeps, catalog: Catalog, adm: Admission, patient: Patient,
                now: datetime, lock: bool) -> list[_Candidate]:
    """Every bed at the site with why it cannot take the patient for the stay (if it cannot)."""
    site = catalog.site(adm.site_id)
    beds = [r for r in catalog.at_site(site.id, ResourceKind.BED) if r.active]
    store = deps.beds_of(uow)
    suitable = [r.id for r in beds if not mismatches(r, adm, patient)]
    states = store.lock_beds(site.id, suitable, now) if lock else {}
    recorded = store.states(site.id)
    start, end = adm.stay(now)
    span = (to_ts(start), to_ts(end))
    busy = uow.bookings.busy([r.id for r in beds], span)
    patient_busy = uow.bookings.patient_busy(patient.id, span, None)
    out: list[_Candidate] = []
    for bed in beds:
        reasons = list(mismatches(bed, adm, patient))
        state = states.get(bed.id) or recorded.get(bed.id)
        if state is not None and state.status is not BedStatus.CLEAN:
            reasons.append(f"{state.status.value} since {state.since.isoformat()}")
        entries = busy.get(bed.id, [])
        occ = Occupancy(bed, span, catalog.capacity(bed, site.id, span), list(entries))
        timing = check_resource_time(BED_NEED, occ, [Allocation(bed.id, "bed", start, end)], site)
        free_from = None
        if timing:
            reasons.extend(v.message for v in timing)
            if entries:
                free_from = datetime.fromtimestamp(max(e.end for e in entries), start.tzinfo)
        if any(overlaps(b, span) for b in patient_busy):
            reasons.append("the patient has another booking during the stay")
        out.append(_Candidate(bed, tuple(reasons), free_from, state))
    return out


def place_in(uow: UnitOfWork, deps: BedDeps, adm: Admission, now: datetime,
             actor: Actor = SYSTEM) -> Booking | None:
    """In the caller's transaction: book the best bed for ``adm`` (waiting, row locked),
    or None when no bed suits it now."""
    catalog = deps.booking.catalogs.get(uow)
    patient = load_patient(uow, adm.patient_id)
    fits = [c for c in _candidates(uow, deps, catalog, adm, patient, now, lock=True) if not c.reasons]
    if not fits and release_expired_holds(uow, now):
        fits = [c for c in _candidates(uow, deps, catalog, adm, patient, now, lock=True) if not c.reasons]
    if not fits:
        return None
    best = min(fits, key=lambda c: (penalty(c.bed, adm, patient), c.bed.id)).bed
    if deps.beds_of(uow).ensure_service(STAY_SERVICE):  # moves the catalog version when it creates it
        uow.audit(AuditEntry(actor.id, "service.create", "service", STAY_SERVICE.id, "success",
                             "the service bed-only stays are booked under", PLACEMENT_RULES, {}))
    start, end = adm.stay(now)
    booking = Booking(id=BookingId(new_booking_id()), patient_id=patient.id, service_id=STAY_SERVICE.id,
                      site_id=SiteId(adm.site_id), start=start, end=end, status=BookingStatus.BOOKED,
                      allocations=(Allocation(best.id, "bed", start, end),), urgency=adm.urgency,
                      created_at=now, created_by=actor.id, rule_version=PLACEMENT_RULES,
                      reason=f"bed placement for admission {adm.id}")
    booking.confirm(from_hold=False)
    uow.bookings.add(booking)
    events = list(booking.events)
    booking.events.clear()
    uow.publish(events)
    uow.audit(AuditEntry(actor.id, "book", "booking", booking.id, "success", f"admission {adm.id}",
                         PLACEMENT_RULES, {"status": booking.status.value, "events": [e.name for e in events],
                                           "bed_id": best.id}))
    expected = adm.version
    adm.place(best.id, booking.id, now)
    _close_overdue(uow, adm, best.id, now, actor)
    deps.beds_of(uow).save_admission(adm, expected)
    uow.publish(adm.events)
    adm.events.clear()
    _audit(uow, actor, "admission.place", "admission", adm.id, bed_id=best.id, booking_id=booking.id,
           penalty=penalty(best, adm, patient))
    return booking


def _close_overdue(uow: UnitOfWork, adm: Admission, bed_id: str, now: datetime, actor: Actor) -> None:
    """The admission's bed_placement exception, if one was raised, is resolved by the placement."""
    if adm.exception_id is None:
        return
    item = uow.exceptions.get(adm.exception_id, lock=True)
    if item is None or item.resolved:
        return
    expected = item.version
    item.resolve("fixed_upstream", f"placed in bed {bed_id}", actor.id, now)
    uow.exceptions.save(item, expected)
    uow.publish(item.events)
    item.events.clear()
    uow.audit(AuditEntry(actor.id, "exception.resolve", "exception", item.id, "ok",
                         detail={"outcome": "fixed_upstream", "admission_id": adm.id}))


def place_next_in(uow: UnitOfWork, deps: BedDeps, site_id: str, now: datetime,
                  actor: Actor = SYSTEM) -> list[Admission]:
    """In the caller's transaction: offer the site's beds to its waiting admissions, most
    urgent first, then the longest waiting; returns those placed."""
    store = deps.beds_of(uow)
    placed: list[Admission] = []
    for waiting in store.waiting(site_id):
        adm = store.admission(waiting.id, lock=True)
        if adm is None or adm.status is not AdmissionStatus.WAITING:
            continue
        if place_in(uow, deps, adm, now, actor) is not None:
            placed.append(adm)
    return placed


def cancel_admission(admission_id: str, reason: str, actor: Actor, deps: BedDeps) -> Admission:
    """The bed is not needed any more: a waiting admission stops waiting; a placed one whose
    patient has not arrived gives its bed back (its booking is cancelled, and the site's
    waiting admissions are offered the beds). A stay that has begun ends with a discharge."""
    actor.require(Permission.BED_WRITE)
    with deps.booking.uow(write=True) as uow:
        store = deps.beds_of(uow)
        adm = _visible(store.admission(admission_id, lock=True), actor, admission_id)
        now = deps.booking.clock()
        booking = uow.bookings.get(adm.booking_id, lock=True) if adm.booking_id else None
        freed = booking is not None and booking.active and adm.status is AdmissionStatus.PLACED
        if freed and booking is not None and booking.status is not BookingStatus.BOOKED:
            raise InvalidTransition(f"admission {adm.id}'s patient has arrived: report the discharge instead")
        expected = adm.version
        adm.cancel(reason, actor.id)
        if freed and booking is not None:
            booking_version = booking.version
            booking.cancel(reason.strip(), actor.id)
            uow.bookings.release(booking)
            uow.bookings.save(booking, booking_version)
            events = list(booking.events)
            booking.events.clear()
            uow.publish(events)
            uow.audit(AuditEntry(actor.id, "cancel", "booking", booking.id, "success", reason.strip(),
                                 PLACEMENT_RULES, {"status": booking.status.value, "admission_id": adm.id}))
        store.save_admission(adm, expected)
        uow.publish(adm.events)
        adm.events.clear()
        _audit(uow, actor, "admission.cancel", "admission", adm.id, freed_bed=adm.bed_id if freed else None)
        placed = place_next_in(uow, deps, adm.site_id, now) if freed else []
        uow.commit()
    for other in [adm, *placed]:
        deps.signal(other.id)
    return adm


def near_misses(uow: UnitOfWork, deps: BedDeps, adm: Admission, now: datetime,
                limit: int = NEAR_MISSES) -> list[dict[str, Any]]:
    """The beds closest to taking the patient, ranked: those that only wait for cleaning
    or a discharge first (soonest first), then those that differ in fewer ways; ids only."""
    catalog = deps.booking.catalogs.get(uow)
    patient = load_patient(uow, adm.patient_id)
    ranked = sorted(_candidates(uow, deps, catalog, adm, patient, now, lock=False),
                    key=lambda c: (len(mismatches(c.bed, adm, patient)), len(c.reasons),
                                   c.available_from or now, c.bed.id))
    out: list[dict[str, Any]] = []
    for rank, c in enumerate(ranked[:limit], start=1):
        profile = c.bed.bed
        out.append({"rank": rank, "bed_id": c.bed.id, "unit": profile.unit, "bed_type": profile.bed_type,
                    "gender": profile.gender, "isolation": profile.isolation,
                    "status": (c.state.status.value if c.state else BedStatus.CLEAN.value),
                    "available_from": c.available_from.isoformat() if c.available_from else None,
                    "reasons": list(c.reasons)})
    return out


def raise_overdue(admission_id: str, deps: BedDeps, actor: Actor = SYSTEM) -> str | None:
    """When the admission still waits past its SLA, put it on the exception queue once
    (team ``bed_management``, with the ranked near-misses); returns the item's id."""
    with deps.booking.uow(write=True) as uow:
        store = deps.beds_of(uow)
        adm = store.admission(admission_id, lock=True)
        if adm is None:
            raise NotFound("admission", admission_id)
        now = deps.booking.clock()
        if adm.status is not AdmissionStatus.WAITING or adm.exception_id is not None or now < adm.sla_due_at:
            return adm.exception_id
        waited = int((now - adm.requested_at).total_seconds() // 60)
        cmd = RaiseException("bed_placement", "bed_management", adm.exception_priority,
                             f"admission {adm.id} ({adm.urgency.value}, {adm.source}) has waited {waited} "
                             f"min for a bed at {adm.site_id}", case_id=adm.id, patient_id=adm.patient_id,
                             site_id=adm.site_id, alternatives=tuple(near_misses(uow, deps, adm, now)))
        item = ExceptionItem.raised(new_exception_id(), cmd, now,
                                    DEFAULT_POLICY.due_at(cmd.category, cmd.priority, now))
        uow.exceptions.add(item)
        uow.publish(item.events)
        item.events.clear()
        uow.audit(AuditEntry(actor.id, "exception.raise", "exception", item.id, "ok",
                             detail={"category": item.category, "team": item.owner_team,
                                     "priority": item.priority, "admission_id": adm.id}))
        expected = adm.version
        adm.exception_id = item.id
        adm.version += 1
        store.save_admission(adm, expected)
        uow.commit()
        return item.id
