"""Booking use cases: check, hold, book, cancel, reschedule, arrive, fulfil, no-show.

Each takes its command and its dependencies (unit of work factory, catalog cache,
clock) and runs in one write transaction: release expired holds, re-check everything,
then write the booking, its allocations, stock reservations, events and audit entry
together. A lost race (``RaceLost``) is retried after re-reading, so the caller sees
either success or the violations that explain the refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from careflow.domain.access import SYSTEM, Actor, Permission
from careflow.domain.bookings import Allocation, Booking, BookingStatus, ItemReservation, Override
from careflow.domain.catalog import Catalog
from careflow.domain.checks import RULESET_VERSION, CheckContext, check_case, check_hold
from careflow.domain.commands import (
    BookHold,
    BookOption,
    CancelBooking,
    CheckOption,
    MarkArrived,
    MarkFulfilled,
    MarkNoShow,
    OverrideRequest,
    PlaceHold,
    RescheduleBooking,
)
from careflow.domain.errors import Conflict, InvalidRequest, InvalidTransition, NotFound
from careflow.domain.events import Event, SoftViolationsOverridden, StockFellBelowThreshold
from careflow.domain.ids import BookingId, SiteId
from careflow.domain.options import Option, build_allocations, equipment_tail
from careflow.domain.violations import Violation, ViolationCode, hard
from careflow.services.calendar_cache import CalendarCache
from careflow.services.catalogs import CatalogCache
from careflow.services.context import case_context, load_patient
from careflow.services.ports import AuditEntry, Clock, RaceLost, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "BookingDeps",
    "arrive",
    "book_hold",
    "book_option",
    "cancel",
    "check",
    "fulfil",
    "mark_no_show",
    "option_of",
    "place_hold",
    "recheck",
    "release_expired_holds",
    "reschedule",
    "sweep_expired_holds",
]

T = TypeVar("T")
ATTEMPTS = 4
EXPIRE_BATCH = 100


@dataclass(frozen=True)
class BookingDeps:
    """What the booking use cases need, wired once in ``bootstrap``."""

    uow: UnitOfWorkFactory
    catalogs: CatalogCache
    clock: Clock
    hold_minutes: int = 10
    calendar: CalendarCache | None = None  # find's read model; None reads the store directly
    max_open_holds: int = 3  # per patient: a cap on slots one patient can keep off the market


def new_booking_id() -> BookingId:
    return BookingId(f"bk_{uuid.uuid4().hex}")


def _retrying(fn: Callable[[], T]) -> T:
    """Run ``fn`` again when a concurrent writer won; the re-read then explains the refusal."""
    for attempt in range(ATTEMPTS):
        try:
            return fn()
        except RaceLost:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Planned:
    option: Option
    end: datetime
    allocations: tuple[Allocation, ...]
    items: tuple[ItemReservation, ...]
    ctx: CheckContext
    violations: list[Violation]


def _plan(uow: UnitOfWork, catalog: Catalog, option: Option, now: datetime,
          own: Booking | None = None, hold_expires_at: datetime | None = None,
          lock: bool = False) -> _Planned:
    """Derive the case from an option and run every check on it."""
    service = catalog.service(option.service_id)
    site = catalog.site(option.site_id)
    patient = load_patient(uow, option.patient_id)
    for a in option.allocations:
        catalog.resource(a.resource_id)
    needs = service.needs(patient.interpreter_language)
    end, allocations = build_allocations(service, needs, option.start, option.assignments,
                                         catalog.resources)
    ctx = case_context(uow, catalog, service, site, patient, option.start, end, allocations,
                       now, own, hold_expires_at, lock)
    allocations = _assign_lanes(ctx, allocations)
    items = tuple(ItemReservation(i.sku, i.quantity) for i in service.items)
    violations = check_case(ctx, option.start, end, allocations)
    return _Planned(option, end, allocations, items, ctx, violations)


def _plan_sweeping(uow: UnitOfWork, catalog: Catalog, option: Option, now: datetime,
                   own: Booking | None = None, hold_expires_at: datetime | None = None) -> _Planned:
    """Plan; when something is refused and expired holds are still in the way, release them
    (in this transaction) and plan again. The common, conflict-free path costs no sweep."""
    planned = _plan(uow, catalog, option, now, own, hold_expires_at, lock=True)
    if planned.violations and release_expired_holds(uow, now):
        planned = _plan(uow, catalog, option, now, own, hold_expires_at, lock=True)
    return planned


def _assign_lanes(ctx: CheckContext, allocations: tuple[Allocation, ...]) -> tuple[Allocation, ...]:
    """Put pool units (and shared resources) on lanes that are free for the whole span."""
    out: list[Allocation] = []
    taken: dict[str, list[int]] = {}
    for a in allocations:
        occ = ctx.occupancy.get(a.resource_id)
        if occ is None or not occ.resource.laned:
            out.append(a)
            continue
        duty = (a.span[0], a.span[1] - equipment_tail(occ.resource))  # reprocessing needs no duty
        free = [lane for lane in occ.lanes_free(a.span, duty) if lane not in taken.get(a.resource_id, [])]
        lane = free[0] if free else a.lane
        taken.setdefault(a.resource_id, []).append(lane)
        out.append(Allocation(a.resource_id, a.role, a.start, a.end, lane))
    return tuple(out)


def _intervals(allocations: tuple[Allocation, ...],
               items: tuple[ItemReservation, ...]) -> tuple[object, ...]:
    """What a booking occupies and reserves, lanes aside (the engine picks those)."""
    return (sorted((a.resource_id, a.role, a.start, a.end) for a in allocations), sorted(
        (i.sku, i.quantity) for i in items))


def _accept(violations: list[Violation], actor: Actor, override: OverrideRequest | None,
            now: datetime, accepted: frozenset[str] = frozenset()) -> tuple[Override, ...]:
    """Refuse on any hard violation, or on soft ones without a permitted override.

    ``accepted`` are soft codes already overridden earlier (on the hold being booked).
    """
    hard = [v for v in violations if v.is_hard]
    if hard:
        raise Conflict(f"{len(hard)} dependency check(s) failed", violations)
    violations = [v for v in violations if v.code.value not in accepted]
    if not violations:
        return ()
    if override is None:
        raise Conflict("soft violations need an override with a reason", violations)
    actor.require(Permission.BOOKING_OVERRIDE)
    return (Override(tuple(v.code.value for v in violations), override.reason, actor.id, now),)


def _overridden(booking: Booking, overrides: tuple[Override, ...]) -> list[Event]:
    return [SoftViolationsOverridden(booking.id, o.codes, o.reason, o.by) for o in overrides]


def _stock_events(planned: _Planned, booking_id: str) -> list[Event]:
    out: list[Event] = []
    for item in planned.items:
        level = planned.ctx.stock.get(item.sku)
        if level is None:
            continue
        after = level.available - item.quantity
        if after < level.reorder_threshold <= level.available:
            out.append(StockFellBelowThreshold(f"{level.site_id}/{level.sku}", level.site_id,
                                               level.sku, after, level.reorder_threshold, booking_id))
    return out


def _record(uow: UnitOfWork, booking: Booking, actor: Actor, action: str, reason: str = "",
            extra: list[Event] | None = None) -> None:
    events = list(booking.events) + (extra or [])
    booking.events.clear()
    uow.publish(events)
    rules = booking.rule_version or RULESET_VERSION
    uow.audit(AuditEntry(actor.id, action, "booking", booking.id, "success", reason, rules,
                         {"status": booking.status.value, "events": [e.name for e in events]}))
    for e in events:  # an override is its own audit entry: who, which codes, why
        if isinstance(e, SoftViolationsOverridden):
            uow.audit(AuditEntry(e.by, "booking.override", "booking", booking.id, "overridden", e.reason,
                                 rules, {"codes": list(e.codes), "during": action}))


def release_expired_holds(uow: UnitOfWork, now: datetime) -> int:
    """Expire holds past their time, freeing their resources and stock; returns how many.

    All of them, batch after batch: the one in the way of a booking may come after the
    first hundred."""
    count = 0
    while True:
        batch = uow.bookings.expired_holds(now, limit=EXPIRE_BATCH)
        for hold in batch:
            expected = hold.version
            hold.expire()
            uow.bookings.release(hold)
            uow.bookings.save(hold, expected)
            _record(uow, hold, SYSTEM, "expire")
        count += len(batch)
        if len(batch) < EXPIRE_BATCH:
            return count


def sweep_expired_holds(deps: BookingDeps) -> int:
    """Release holds that have expired, if any (a cheap read when there are none)."""
    now = deps.clock()
    with deps.uow() as uow:
        if not uow.bookings.expired_holds(now, limit=1):
            return 0
    with deps.uow(write=True) as uow:
        count = release_expired_holds(uow, deps.clock())
        uow.commit()
        return count


def check(cmd: CheckOption, deps: BookingDeps) -> list[Violation]:
    """Every violation the option would meet if booked now (writes only hold expiries)."""
    sweep_expired_holds(deps)
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        return _plan(uow, catalog, cmd.option, deps.clock()).violations


def recheck(booking_id: str, deps: BookingDeps) -> tuple[Booking, list[Violation]]:
    """A booking as it stands now, and every violation it would meet if it were booked
    again today (its own allocations count as its own): what re-coordination asks after
    capacity changed."""
    with deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
        if booking is None:
            raise NotFound("booking", booking_id)
        catalog = deps.catalogs.get(uow)
        return booking, _plan(uow, catalog, option_of(booking), deps.clock(), own=booking).violations


def _create(option: Option, actor: Actor, override: OverrideRequest | None, deps: BookingDeps,
            status: BookingStatus, hold_minutes: int | None) -> Booking:
    def attempt() -> Booking:
        with deps.uow(write=True) as uow:
            now = deps.clock()
            catalog = deps.catalogs.get(uow)
            capped = _hold_cap(uow, option, now, deps.max_open_holds) if status is BookingStatus.HELD else []
            planned = _plan_sweeping(uow, catalog, option, now)
            overrides = _accept(capped + planned.violations, actor, override, now)
            expires = (now + timedelta(minutes=hold_minutes or deps.hold_minutes)
                       if status is BookingStatus.HELD else None)
            booking = Booking(
                id=new_booking_id(), patient_id=option.patient_id, service_id=option.service_id,
                site_id=SiteId(option.site_id), start=option.start, end=planned.end, status=status,
                allocations=planned.allocations, items=planned.items, urgency=option.urgency,
                created_at=now, created_by=actor.id, expires_at=expires, overrides=overrides,
                rule_version=RULESET_VERSION,
            )
            if status is BookingStatus.HELD:
                booking.placed_as_hold()
            else:
                booking.confirm(from_hold=False)
            extra: list[Event] = _stock_events(planned, booking.id) + _overridden(booking, overrides)
            uow.bookings.add(booking)
            _record(uow, booking, actor, "hold" if status is BookingStatus.HELD else "book",
                    override.reason if override else "", extra)
            uow.commit()
            return booking

    return _retrying(attempt)


def _hold_cap(uow: UnitOfWork, option: Option, now: datetime, limit: int) -> list[Violation]:
    """Refuse a hold when the patient already has ``limit`` unexpired ones. Runs first in the
    transaction: counting locks the patient (PostgreSQL), so two holds cannot both pass."""
    held = uow.bookings.open_holds(option.patient_id, now)
    if held < limit:
        return []
    return [hard(ViolationCode.PATIENT_HOLD_LIMIT, option.patient_id,
                 f"the patient already has {held} open holds (at most {limit} at once)")]


def place_hold(cmd: PlaceHold, deps: BookingDeps) -> Booking:
    """Re-check the option and hold every resource and item until the hold expires."""
    cmd.actor.require(Permission.BOOKING_WRITE)
    return _create(cmd.option, cmd.actor, cmd.override, deps, BookingStatus.HELD, cmd.hold_minutes)


def book_option(cmd: BookOption, deps: BookingDeps) -> Booking:
    """Book an option directly: all allocations, reservations and the bed, or nothing."""
    cmd.actor.require(Permission.BOOKING_WRITE)
    return _create(cmd.option, cmd.actor, cmd.override, deps, BookingStatus.BOOKED, None)


def _load(uow: UnitOfWork, booking_id: str) -> Booking:
    booking = uow.bookings.get(booking_id, lock=True)
    if booking is None:
        raise NotFound("booking", booking_id)
    return booking


def option_of(booking: Booking) -> Option:
    """The option a booking stands on (what a reschedule or a re-check starts from)."""
    return Option(booking.service_id, booking.patient_id, booking.site_id, booking.start,
                  booking.end, booking.allocations, booking.items, booking.urgency)


def book_hold(cmd: BookHold, deps: BookingDeps) -> Booking:
    """Confirm a hold after re-checking it; an expired hold is released and refused."""
    cmd.actor.require(Permission.BOOKING_WRITE)

    def attempt() -> Booking:
        with deps.uow(write=True) as uow:
            now = deps.clock()
            hold = _load(uow, cmd.hold_id)
            if hold.status is BookingStatus.EXPIRED:  # already released by an earlier sweep
                raise Conflict("the hold expired", check_hold(hold.expires_at, now))
            if hold.status is not BookingStatus.HELD:
                raise InvalidTransition(f"cannot book {hold.id}: it is {hold.status.value}, not held")
            if hold.hold_expired(now):
                expires_at = hold.expires_at
                release_expired_holds(uow, now)
                uow.commit()
                raise Conflict("the hold expired", check_hold(expires_at, now))
            catalog = deps.catalogs.get(uow)
            planned = _plan_sweeping(uow, catalog, option_of(hold), now, own=hold,
                                     hold_expires_at=hold.expires_at)
            already = frozenset(code for o in hold.overrides for code in o.codes)
            overrides = _accept(planned.violations, cmd.actor, cmd.override, now, already)
            expected = hold.version
            if _intervals(planned.allocations, planned.items) != _intervals(hold.allocations, hold.items):
                # The card changed since the hold: book what was checked, not the stale hold.
                previous = replace(hold, events=[])
                hold.end, hold.allocations, hold.items = planned.end, planned.allocations, planned.items
                uow.bookings.replace(hold, previous)
            hold.overrides = hold.overrides + overrides
            hold.confirm(from_hold=True)
            uow.bookings.save(hold, expected)
            _record(uow, hold, cmd.actor, "book", cmd.override.reason if cmd.override else "",
                    _overridden(hold, overrides))
            uow.commit()
            return hold

    return _retrying(attempt)


def cancel(cmd: CancelBooking, deps: BookingDeps) -> Booking:
    """Cancel with a reason; every allocation and reservation is released."""
    cmd.actor.require(Permission.BOOKING_WRITE)
    with deps.uow(write=True) as uow:
        booking = _load(uow, cmd.booking_id)
        expected = booking.version
        booking.cancel(cmd.reason, cmd.actor.id)
        uow.bookings.release(booking)
        uow.bookings.save(booking, expected)
        _record(uow, booking, cmd.actor, "cancel", cmd.reason)
        uow.commit()
        return booking


def reschedule(cmd: RescheduleBooking, deps: BookingDeps) -> Booking:
    """Move a booking to a new option atomically: the old time is kept if the new one fails."""
    cmd.actor.require(Permission.BOOKING_WRITE)

    def attempt() -> Booking:
        with deps.uow(write=True) as uow:
            now = deps.clock()
            booking = _load(uow, cmd.booking_id)
            if booking.hold_expired(now):  # release it for good, then say why
                expires_at = booking.expires_at
                release_expired_holds(uow, now)
                uow.commit()
                raise Conflict("the hold expired", check_hold(expires_at, now))
            if booking.status not in (BookingStatus.BOOKED, BookingStatus.HELD):
                raise InvalidTransition(
                    f"cannot reschedule booking {booking.id}: it is {booking.status.value}")
            if (cmd.option.service_id, cmd.option.patient_id) != (booking.service_id, booking.patient_id):
                raise InvalidRequest("a reschedule keeps the booking's service and patient", "option")
            catalog = deps.catalogs.get(uow)
            planned = _plan_sweeping(uow, catalog, cmd.option, now, own=booking)
            overrides = _accept(planned.violations, cmd.actor, cmd.override, now)
            previous = Booking(**{k: getattr(booking, k) for k in booking.__dataclass_fields__
                                  if k != "events"})
            expected = booking.version
            booking.move_to(SiteId(cmd.option.site_id), cmd.option.start, planned.end,
                            planned.allocations, planned.items, cmd.reason)
            booking.overrides = booking.overrides + overrides
            uow.bookings.replace(booking, previous)
            uow.bookings.save(booking, expected)
            stock_events = _stock_events(planned, booking.id) if booking.site_id != previous.site_id else []
            _record(uow, booking, cmd.actor, "reschedule", cmd.reason,
                    stock_events + _overridden(booking, overrides))
            uow.commit()
            return booking

    return _retrying(attempt)


def _transition(booking_id: str, actor: Actor, deps: BookingDeps, action: str,
                step: Callable[[Booking, datetime], None],
                after: Callable[[UnitOfWork, Booking], None] | None = None) -> Booking:
    actor.require(Permission.BOOKING_WRITE)
    with deps.uow(write=True) as uow:
        booking = _load(uow, booking_id)
        expected = booking.version
        step(booking, deps.clock())
        if after is not None:
            after(uow, booking)
        uow.bookings.save(booking, expected)
        _record(uow, booking, actor, action)
        uow.commit()
        return booking


def arrive(cmd: MarkArrived, deps: BookingDeps) -> Booking:
    """The patient checked in."""
    return _transition(cmd.booking_id, cmd.actor, deps, "arrive", lambda b, now: b.arrive(now))


def fulfil(cmd: MarkFulfilled, deps: BookingDeps) -> Booking:
    """The visit or case happened; reserved items are consumed from stock."""
    return _transition(cmd.booking_id, cmd.actor, deps, "fulfil", lambda b, now: b.fulfil(now),
                       lambda uow, b: uow.bookings.consume(b))


def mark_no_show(cmd: MarkNoShow, deps: BookingDeps) -> Booking:
    """The patient did not arrive; resources and stock are released."""
    return _transition(cmd.booking_id, cmd.actor, deps, "no_show",
                       lambda b, now: b.mark_no_show(now),
                       lambda uow, b: uow.bookings.release(b))
