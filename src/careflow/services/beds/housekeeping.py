"""Discharge → dirty bed → housekeeping task → cleaned → the next placement.

``on_discharged`` and ``on_cleaned`` are the event handlers (``PatientDischarged``,
``BedCleaned``): they work in the dispatcher's transaction, so each effect commits with
the inbox row and a redelivered event changes nothing. ``mark_cleaned`` is the same step
for the housekeeping app (``POST /api/v1/beds/{id}/cleaned``). A bed's status row is
locked first in each, so a discharge, a cleaning and a placement at the bed take turns.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from careflow.domain.access import SYSTEM, Actor, Permission
from careflow.domain.beds import Admission, BedMarkedDirty, BedReady, BedState, BedStatus
from careflow.domain.bookings import Allocation, Booking, BookingStatus
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.exception_sla import DEFAULT_POLICY
from careflow.domain.exceptions_queue import ExceptionItem, RaiseException
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import require_aware
from careflow.services.beds.placement import PLACEMENT_RULES, place_next_in
from careflow.services.beds.ports import STAY_SERVICE, BedDeps
from careflow.services.dispatch import HandlerRegistry
from careflow.services.exception_queue import new_exception_id
from careflow.services.ports import AuditEntry, BookingFilter, UnitOfWork

__all__ = ["cleaned_in", "discharged_in", "mark_cleaned", "on_cleaned", "on_discharged", "on_placed",
           "register", "take_out_of_service"]

CLEANING_PRIORITY = {True: "high", False: "normal"}  # keyed by "an admission is waiting at the site"


def _bed(uow: UnitOfWork, deps: BedDeps, bed_id: str) -> Resource:
    resource = deps.booking.catalogs.get(uow).resources.get(bed_id)  # type: ignore[call-overload]
    if resource is None or resource.kind is not ResourceKind.BED:
        raise NotFound("bed", bed_id)
    assert isinstance(resource, Resource)
    return resource


def _at(payload: dict[str, Any], now: datetime) -> datetime:
    raw = payload.get("at")
    if not raw:
        return now
    try:
        return require_aware(datetime.fromisoformat(str(raw)), "at")
    except ValueError as exc:
        raise InvalidRequest(f"at is not an ISO instant: {exc}", "at") from exc


def _stay_booking(uow: UnitOfWork, bed_id: str, patient_id: str, booking_id: str,
                  at: datetime) -> Booking | None:
    """The booking the discharge ends: the one named, if it holds the bed, else the patient's
    active booking on the bed (a wrong or missing booking id still ends the right stay)."""
    if booking_id:
        named = uow.bookings.get(booking_id, lock=True)
        if named is not None and any(a.resource_id == bed_id for a in named.allocations):
            return named
    if not patient_id:
        return None
    found, _ = uow.bookings.find(BookingFilter(patient_id=patient_id, resource_id=bed_id), 0, 100)  # type: ignore[arg-type]
    on_bed = [b for b in found if b.active and b.status is not BookingStatus.HELD
              and any(a.resource_id == bed_id and a.start <= at for a in b.allocations)]
    latest = max(on_bed, key=lambda b: b.start, default=None)
    return uow.bookings.get(latest.id, lock=True) if latest is not None else None


def _cut(allocations: tuple[Allocation, ...], bed_id: str, at: datetime) -> tuple[Allocation, ...]:
    """The allocations with the bed's ending at ``at`` (dropped when they had not begun)."""
    out: list[Allocation] = []
    for a in allocations:
        if a.resource_id != bed_id or a.end <= at:
            out.append(a)
        elif a.start < at:
            out.append(Allocation(a.resource_id, a.role, a.start, at, a.lane))
    return tuple(out)


def _end_stay(uow: UnitOfWork, booking: Booking, bed_id: str, at: datetime, actor: Actor) -> None:
    """End the patient's use of the bed at ``at`` through the booking lifecycle: a stay
    that had begun is fulfilled (checked in first if nobody did) and its bed allocation
    ends at the discharge, so the bed is free from then; one that had not begun is released."""
    if not booking.active or booking.status is BookingStatus.HELD:
        return
    expected, previous = booking.version, replace(booking, events=[])
    if booking.status is BookingStatus.BOOKED and at <= booking.start:
        booking.cancel("discharged before the stay began", actor.id)
        uow.bookings.release(booking)
    else:
        if booking.status is BookingStatus.BOOKED:
            booking.arrive(booking.start)
        if booking.status is BookingStatus.ARRIVED:
            booking.fulfil(at)
            uow.bookings.consume(booking)
        cut = _cut(booking.allocations, bed_id, at)
        if cut != booking.allocations:
            if booking.version == expected:
                booking.version += 1  # the shortened allocation is a new revision
            booking.allocations = cut
            if booking.service_id == STAY_SERVICE.id and at > booking.start:
                booking.end = min(booking.end, at)  # a bed-only stay ends with the discharge
            uow.bookings.replace(booking, previous)
    if booking.version == expected:
        return
    uow.bookings.save(booking, expected)
    events = list(booking.events)
    booking.events.clear()
    uow.publish(events)
    uow.audit(AuditEntry(actor.id, "discharge", "booking", booking.id, "success", f"discharged from {bed_id}",
                         PLACEMENT_RULES, {"status": booking.status.value, "bed_id": bed_id,
                                           "events": [e.name for e in events]}))


def discharged_in(uow: UnitOfWork, deps: BedDeps, bed_id: str, at: datetime, patient_id: str = "",
                  booking_id: str = "", actor: Actor = SYSTEM) -> BedState:
    """In the caller's transaction: end the stay, mark the bed dirty and give housekeeping
    a task (once: a bed already dirty keeps its task)."""
    bed = _bed(uow, deps, bed_id)
    store = deps.beds_of(uow)
    state = store.lock_beds(bed.site_id, [bed.id], at)[bed.id]
    booking = _stay_booking(uow, bed.id, patient_id, booking_id, at)
    if booking is not None:
        _end_stay(uow, booking, bed.id, at, actor)
    if state.status is BedStatus.DIRTY and state.task_id is not None:
        return state  # already waiting for housekeeping: one task
    if state.status is BedStatus.CLEAN and state.version > 0 and state.since >= at:
        return state  # reports out of order: the bed was cleaned after this discharge
    now = deps.booking.clock()
    waiting = bool(store.waiting(bed.site_id))
    cmd = RaiseException("housekeeping", "housekeeping", CLEANING_PRIORITY[waiting],
                         f"clean bed {bed.id} ({bed.bed.unit}) after a discharge",
                         booking_id=booking.id if booking is not None else None, case_id=bed.id,
                         site_id=bed.site_id)
    due = DEFAULT_POLICY.due_at(cmd.category, cmd.priority, now)
    task = ExceptionItem.raised(new_exception_id(), cmd, now, due)
    uow.exceptions.add(task)
    uow.publish(task.events)
    task.events.clear()
    uow.audit(AuditEntry(actor.id, "exception.raise", "exception", task.id, "ok",
                         detail={"category": task.category, "team": task.owner_team, "bed_id": bed.id}))
    state = store.put_state(BedState(bed.id, bed.site_id, BedStatus.DIRTY, at, task.id, state.version))
    uow.publish([BedMarkedDirty(bed.id, bed.site_id, at, task.id)])
    uow.audit(AuditEntry(actor.id, "bed.dirty", "bed", bed.id, "success", "", PLACEMENT_RULES,
                         {"task_id": task.id, "booking_id": booking.id if booking is not None else None}))
    return state


def cleaned_in(uow: UnitOfWork, deps: BedDeps, bed_id: str, at: datetime,
               actor: Actor = SYSTEM) -> tuple[BedState, list[Admission]]:
    """In the caller's transaction: resolve the cleaning task, mark the bed clean and give
    the site's beds to its waiting admissions (most urgent, then longest waiting, first).
    A bed already clean is left as it is."""
    bed = _bed(uow, deps, bed_id)
    store = deps.beds_of(uow)
    state = store.lock_beds(bed.site_id, [bed.id], at)[bed.id]
    if state.status is BedStatus.CLEAN:
        return state, []
    now = deps.booking.clock()
    if state.task_id is not None:
        task = uow.exceptions.get(state.task_id, lock=True)
        if task is not None and not task.resolved:
            expected = task.version
            task.resolve("fixed_upstream", f"bed {bed.id} cleaned", actor.id, now)
            uow.exceptions.save(task, expected)
            uow.publish(task.events)
            task.events.clear()
            uow.audit(AuditEntry(actor.id, "exception.resolve", "exception", task.id, "ok",
                                 detail={"outcome": "fixed_upstream", "bed_id": bed.id}))
    state = store.put_state(BedState(bed.id, bed.site_id, BedStatus.CLEAN, at, None, state.version))
    uow.publish([BedReady(bed.id, bed.site_id, at)])
    uow.audit(AuditEntry(actor.id, "bed.cleaned", "bed", bed.id, "success", "", PLACEMENT_RULES, {}))
    return state, place_next_in(uow, deps, bed.site_id, now, actor)


def mark_cleaned(bed_id: str, at: datetime | None, actor: Actor,
                 deps: BedDeps) -> tuple[BedState, list[Admission]]:
    """Housekeeping reports the bed clean (the REST twin of the ``BedCleaned`` event)."""
    actor.require(Permission.BED_WRITE)
    now = deps.booking.clock()
    when = require_aware(at, "at") if at is not None else now
    if when > now + timedelta(minutes=5):
        raise InvalidRequest("at is in the future", "at")
    with deps.booking.uow(write=True) as uow:
        bed = _bed(uow, deps, bed_id)
        if not actor.may_see_site(bed.site_id):
            raise NotFound("bed", bed_id)
        result = cleaned_in(uow, deps, bed_id, when, actor)
        uow.commit()
    for adm in result[1]:
        deps.signal(adm.id)
    return result


def take_out_of_service(bed_id: str, reason: str, actor: Actor, deps: BedDeps) -> BedState:
    """A bed that must not be offered (broken, closed room) until it is reported clean again."""
    actor.require(Permission.BED_WRITE)
    if not reason.strip():
        raise InvalidRequest("reason must not be empty", "reason")
    with deps.booking.uow(write=True) as uow:
        bed = _bed(uow, deps, bed_id)
        if not actor.may_see_site(bed.site_id):
            raise NotFound("bed", bed_id)
        now = deps.booking.clock()
        state = deps.beds_of(uow).lock_beds(bed.site_id, [bed.id], now)[bed.id]
        if state.status is not BedStatus.OUT_OF_SERVICE:
            state = deps.beds_of(uow).put_state(BedState(bed.id, bed.site_id, BedStatus.OUT_OF_SERVICE, now,
                                                         state.task_id, state.version))
            uow.audit(AuditEntry(actor.id, "bed.out_of_service", "bed", bed.id, "success", reason.strip(),
                                 PLACEMENT_RULES, {}))
            uow.commit()
        return state


def on_discharged(deps: BedDeps) -> Any:
    """The ``PatientDischarged`` handler (``aggregate_id`` is the bed)."""

    def handle(payload: dict[str, Any], uow: UnitOfWork) -> None:
        at = _at(payload, deps.booking.clock())
        discharged_in(uow, deps, str(payload["aggregate_id"]), at, str(payload.get("patient_id") or ""),
                      str(payload.get("booking_id") or ""))

    return handle


def on_cleaned(deps: BedDeps) -> Any:
    """The ``BedCleaned`` handler; the placements it makes signal their workflows through
    their ``AdmissionPlaced`` events, after this transaction commits."""

    def handle(payload: dict[str, Any], uow: UnitOfWork) -> None:
        cleaned_in(uow, deps, str(payload["aggregate_id"]), _at(payload, deps.booking.clock()))

    return handle


def on_placed(deps: BedDeps) -> Any:
    """The ``AdmissionPlaced`` handler: wake the admission's placement workflow."""

    def handle(payload: dict[str, Any], uow: UnitOfWork) -> None:
        deps.signal(str(payload["aggregate_id"]))

    return handle


def register(registry: HandlerRegistry, deps: BedDeps) -> None:
    """The bed handlers, under their consumer names."""
    registry.register("PatientDischarged", "beds.discharge", on_discharged(deps))
    registry.register("BedCleaned", "beds.cleaned", on_cleaned(deps))
    registry.register("AdmissionPlaced", "beds.signal", on_placed(deps))
