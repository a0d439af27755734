"""The waitlist: freed slots offered to waiting patients by priority, then age.

When a slot frees (a booking cancelled, a booking moved away from its time, an offer
declined or lapsed), ``offer_freed_slot`` walks the waiting entries that want that site
and time, best-placed first, asks ``find`` whether the entry's service fits in the freed
interval for its patient (every dependency checked, as for any booking), and places a
hold for the first that fits: that hold is the offer. The patient is told; accepting
books the hold, declining (or letting it lapse) releases it and the slot goes to the
next entry. The patient whose booking freed the slot is never offered it back.

Offers run as ``Standalone`` outbox handlers: they place holds through the booking use
cases, each in its own transaction, and are idempotent by construction (an entry is
offered only while waiting; a slot already held shows as busy to ``find``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from careflow.domain.access import Actor, Permission
from careflow.domain.bookings import Booking
from careflow.domain.commands import BookHold, CancelBooking, PlaceHold
from careflow.domain.errors import CareflowError, Conflict, InvalidRequest, NotFound
from careflow.domain.ids import PatientId, ServiceId, SiteId
from careflow.domain.options import FindRequest
from careflow.domain.waitlist import WaitlistEntry, WaitlistStatus
from careflow.services import booking as booking_use
from careflow.services.booking import BookingDeps
from careflow.services.dispatch import HandlerRegistry, Standalone
from careflow.services.finding import find
from careflow.services.ports import AuditEntry, Notification, NotificationFailed, Notifier, UnitOfWork

__all__ = [
    "OFFERER",
    "AddToWaitlist",
    "FreedSlot",
    "WaitlistDeps",
    "WaitlistFilter",
    "WaitlistStore",
    "accept",
    "add",
    "decline",
    "get",
    "list_entries",
    "offer_freed_slot",
    "register_handlers",
    "withdraw",
]

OFFERER = Actor("careflow-waitlist", frozenset({"admin"}))
MAX_CANDIDATES = 25  # entries tried per freed slot (each costs a find)


@dataclass(frozen=True, slots=True)
class WaitlistFilter:
    status: str | None = None
    patient_id: str | None = None
    service_id: str | None = None
    site_ids: frozenset[str] | None = None  # an actor's site limit


class WaitlistStore(Protocol):
    def add(self, entry: WaitlistEntry) -> None: ...

    def get(self, entry_id: str, *, lock: bool = False) -> WaitlistEntry | None: ...

    def by_offer(self, booking_id: str) -> WaitlistEntry | None: ...

    def save(self, entry: WaitlistEntry, expected_version: int) -> None:
        """``RaceLost`` when the entry changed since it was read."""
        ...

    def waiting(self, service_ids: list[str] | None, limit: int = 200) -> list[WaitlistEntry]:
        """Waiting entries, by priority then age."""
        ...

    def page(self, flt: WaitlistFilter, offset: int, limit: int) -> tuple[list[WaitlistEntry], int]: ...


@dataclass(frozen=True)
class WaitlistDeps:
    booking: BookingDeps
    notifier: Notifier
    waitlist_of: Callable[[UnitOfWork], WaitlistStore]
    offer_minutes: int = 120  # how long an offer's hold lasts


@dataclass(frozen=True, slots=True)
class AddToWaitlist:
    patient_id: str
    service_id: str
    earliest: datetime
    latest: datetime
    site_ids: tuple[str, ...] = ()
    priority: str = "normal"


@dataclass(frozen=True, slots=True)
class FreedSlot:
    """Time that became free at a site; ``patient_id`` is whoever freed it (not offered)."""

    site_id: str
    start: datetime
    end: datetime
    patient_id: str = ""
    cause: str = ""


def _audit(uow: UnitOfWork, actor: Actor, action: str, entry: WaitlistEntry, **detail: Any) -> None:
    uow.audit(AuditEntry(actor=actor.id, action=f"waitlist.{action}", entity_type="waitlist_entry",
                         entity_id=entry.id, outcome="ok",
                         detail={"patient_id": entry.patient_id, "status": entry.status} | detail))


def add(cmd: AddToWaitlist, actor: Actor, deps: WaitlistDeps) -> WaitlistEntry:
    """Put a patient on the waitlist for a service (checked: patient, service, sites)."""
    actor.require(Permission.BOOKING_WRITE)
    for site_id in cmd.site_ids:
        actor.require_site(site_id)
    now = deps.booking.clock()
    entry = WaitlistEntry(f"wl_{uuid.uuid4().hex[:20]}", cmd.patient_id, cmd.service_id,
                          tuple(dict.fromkeys(cmd.site_ids)), cmd.earliest, cmd.latest, cmd.priority,
                          now, actor.id)
    if entry.latest <= now:
        raise InvalidRequest("latest is in the past: the patient would never be offered a slot", "latest")
    with deps.booking.uow(write=True) as uow:
        catalog = deps.booking.catalogs.get(uow)
        service = catalog.service(cmd.service_id)  # NotFound names an unknown service
        entry.service_id = service.id
        for site_id in entry.site_ids:
            catalog.site(site_id)
        if uow.master.patient(cmd.patient_id) is None:
            raise NotFound("patient", cmd.patient_id)
        deps.waitlist_of(uow).add(entry)
        _audit(uow, actor, "add", entry, service_id=entry.service_id, priority=entry.priority)
        uow.commit()
    return entry


def _visible(entry: WaitlistEntry | None, actor: Actor, entry_id: str) -> WaitlistEntry:
    if entry is None or not (actor.sites is None or actor.break_glass or not entry.site_ids
                             or set(entry.site_ids) & actor.sites):
        raise NotFound("waitlist entry", entry_id)
    return entry


def get(entry_id: str, actor: Actor, deps: WaitlistDeps) -> WaitlistEntry:
    actor.require(Permission.BOOKING_READ)
    with deps.booking.uow() as uow:
        return _visible(deps.waitlist_of(uow).get(entry_id), actor, entry_id)


def list_entries(flt: WaitlistFilter, actor: Actor, deps: WaitlistDeps, offset: int = 0,
                 limit: int = 50) -> tuple[list[WaitlistEntry], int]:
    actor.require(Permission.BOOKING_READ)
    if actor.sites is not None and not actor.break_glass:
        flt = replace(flt, site_ids=frozenset(actor.sites))
    with deps.booking.uow() as uow:
        return deps.waitlist_of(uow).page(flt, offset, limit)


def _change(entry_id: str, actor: Actor, deps: WaitlistDeps, action: str,
            step: Callable[[WaitlistEntry, datetime], None]) -> WaitlistEntry:
    with deps.booking.uow(write=True) as uow:
        store = deps.waitlist_of(uow)
        entry = _visible(store.get(entry_id, lock=True), actor, entry_id)
        expected = entry.version
        step(entry, deps.booking.clock())
        store.save(entry, expected)
        _audit(uow, actor, action, entry)
        uow.commit()
    return entry


def withdraw(entry_id: str, actor: Actor, deps: WaitlistDeps) -> WaitlistEntry:
    """Take the patient off the waitlist; an open offer's hold is released."""
    actor.require(Permission.BOOKING_WRITE)
    entry = get(entry_id, actor, deps)
    hold = entry.offer_booking_id if entry.status == WaitlistStatus.OFFERED else None
    done = _change(entry_id, actor, deps, "withdraw", lambda e, now: e.withdraw(now))
    if hold is not None:
        _release(hold, "the patient left the waitlist", deps)
    return done


def accept(entry_id: str, actor: Actor, deps: WaitlistDeps) -> tuple[WaitlistEntry, Booking]:
    """Book the offered slot (the hold is re-checked like any hold)."""
    actor.require(Permission.BOOKING_WRITE)
    entry = get(entry_id, actor, deps)
    if entry.status != WaitlistStatus.OFFERED or entry.offer_booking_id is None:
        raise Conflict(f"waitlist entry {entry.id} has no open offer (it is {entry.status})")
    booked = booking_use.book_hold(BookHold(entry.offer_booking_id, actor), deps.booking)
    done = _change(entry_id, actor, deps, "accept", lambda e, now: e.accepted(booked.id, now))
    return done, booked


def decline(entry_id: str, actor: Actor, deps: WaitlistDeps) -> WaitlistEntry:
    """The patient declined the offer: it is released (the next entry gets the slot) and
    the entry waits for the next one."""
    actor.require(Permission.BOOKING_WRITE)
    entry = get(entry_id, actor, deps)
    if entry.status != WaitlistStatus.OFFERED or entry.offer_booking_id is None:
        raise Conflict(f"waitlist entry {entry.id} has no open offer (it is {entry.status})")
    hold = entry.offer_booking_id
    done = _change(entry_id, actor, deps, "decline", lambda e, now: e.offer_lapsed(now))
    _release(hold, "waitlist offer declined", deps)
    return done


def _release(hold_id: str, reason: str, deps: WaitlistDeps) -> None:
    with contextlib.suppress(CareflowError):  # it expired or was booked meanwhile: nothing to release
        booking_use.cancel(CancelBooking(hold_id, reason, OFFERER), deps.booking)


def offer_freed_slot(slot: FreedSlot, deps: WaitlistDeps) -> WaitlistEntry | None:
    """Offer the freed time to the best-placed waiting entry that fits; the entry offered,
    or None when nobody fits."""
    now = deps.booking.clock()
    if slot.end <= now:
        return None
    with deps.booking.uow() as uow:
        candidates = deps.waitlist_of(uow).waiting(None, limit=500)
    start = max(slot.start, now)
    tried = 0
    for entry in candidates:
        if entry.latest <= now:
            _expire(entry, deps)
            continue
        if entry.patient_id == slot.patient_id or not entry.wants(slot.site_id, start):
            continue
        tried += 1
        if tried > MAX_CANDIDATES:
            break
        if (offered := _try_offer(entry, slot, start, deps)) is not None:
            return offered
    return None


def _expire(entry: WaitlistEntry, deps: WaitlistDeps) -> None:
    with contextlib.suppress(CareflowError):
        _change(entry.id, OFFERER, deps, "expire", lambda e, now: e.expire(now))


def _try_offer(entry: WaitlistEntry, slot: FreedSlot, start: datetime,
               deps: WaitlistDeps) -> WaitlistEntry | None:
    request = FindRequest(ServiceId(entry.service_id), PatientId(entry.patient_id), start,
                          max(slot.end, start + timedelta(minutes=1)),
                          site_ids=frozenset({SiteId(slot.site_id)}), limit=1)
    try:
        options = find(request, deps.booking).options
    except CareflowError:
        return None
    if not options:
        return None
    offer_deps = replace(deps.booking, hold_minutes=deps.offer_minutes)
    try:
        hold = booking_use.place_hold(PlaceHold(options[0], OFFERER), offer_deps)
    except CareflowError:
        return None
    expires = hold.expires_at or deps.booking.clock() + timedelta(minutes=deps.offer_minutes)
    try:
        offered = _change(entry.id, OFFERER, deps, "offer",
                          lambda e, now: e.offer(hold.id, now, expires))
    except CareflowError:  # withdrawn or offered elsewhere meanwhile: give the time back
        _release(hold.id, "the waitlist entry changed meanwhile", deps)
        return None
    with contextlib.suppress(NotificationFailed):  # the send log keeps the failure; the offer stands
        _tell(entry, hold, expires, deps)
    return offered


def _tell(entry: WaitlistEntry, hold: Booking, expires: datetime, deps: WaitlistDeps) -> None:
    deps.notifier.notify(Notification(
        key=f"waitlist-offer:{entry.id}:{hold.id}", audience="patient", recipient=entry.patient_id,
        topic="waitlist.offer", subject="An earlier appointment is available",
        body=(f"An earlier time is held for you at {hold.start.isoformat()} until {expires.isoformat()}. "
              f"Reply to accept or decline (waitlist entry {entry.id})."),
        booking_id=hold.id,
        data={"entry_id": entry.id, "hold_id": hold.id, "site_id": hold.site_id,
              "start": hold.start.isoformat(), "expires_at": expires.isoformat()}))


# --- what frees a slot: the outbox handlers -----------------------------------------


def _booking(booking_id: str, deps: WaitlistDeps) -> Booking | None:
    with deps.booking.uow() as uow:
        return uow.bookings.get(booking_id)


def _after_cancel(deps: WaitlistDeps) -> Callable[[dict[str, Any]], None]:
    def handler(payload: dict[str, Any]) -> None:
        booking = _booking(str(payload["aggregate_id"]), deps)
        if booking is None:
            return
        with deps.booking.uow() as uow:
            lapsed = deps.waitlist_of(uow).by_offer(booking.id)
        if lapsed is not None and lapsed.status == WaitlistStatus.OFFERED:
            _lapse(lapsed, deps)  # an offer's hold was cancelled outside the waitlist
        offer_freed_slot(FreedSlot(booking.site_id, booking.start, booking.end, booking.patient_id,
                                   str(payload["__event_type"])), deps)
    return handler


def _after_move(deps: WaitlistDeps) -> Callable[[dict[str, Any]], None]:
    def handler(payload: dict[str, Any]) -> None:
        booking = _booking(str(payload["aggregate_id"]), deps)
        old = payload.get("old_start")
        if booking is None or not old:
            return
        old_start = datetime.fromisoformat(str(old))
        if old_start == booking.start:
            return  # a resource swap at the same time frees no time
        old_end = (datetime.fromisoformat(str(payload["old_end"])) if payload.get("old_end")
                   else old_start + (booking.end - booking.start))
        offer_freed_slot(FreedSlot(str(payload.get("old_site_id") or booking.site_id), old_start, old_end,
                                   booking.patient_id, "BookingRescheduled"), deps)
    return handler


def _after_expiry(deps: WaitlistDeps) -> Callable[[dict[str, Any]], None]:
    def handler(payload: dict[str, Any]) -> None:
        hold_id = str(payload["aggregate_id"])
        with deps.booking.uow() as uow:
            entry = deps.waitlist_of(uow).by_offer(hold_id)
        if entry is None or entry.status != WaitlistStatus.OFFERED:
            return
        _lapse(entry, deps)
        booking = _booking(hold_id, deps)
        if booking is not None:
            offer_freed_slot(FreedSlot(booking.site_id, booking.start, booking.end, booking.patient_id,
                                       "HoldExpired"), deps)
    return handler


def _lapse(entry: WaitlistEntry, deps: WaitlistDeps) -> None:
    with contextlib.suppress(CareflowError):
        _change(entry.id, OFFERER, deps, "offer_lapsed", lambda e, now: e.offer_lapsed(now))


def register_handlers(registry: HandlerRegistry, deps: WaitlistDeps) -> None:
    """Freed time → the waitlist: cancellations, moves, lapsed offers."""
    registry.register("BookingCancelled", "waitlist", Standalone(_after_cancel(deps)))
    registry.register("BookingRescheduled", "waitlist", Standalone(_after_move(deps)))
    registry.register("HoldExpired", "waitlist", Standalone(_after_expiry(deps)))


