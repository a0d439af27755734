"""In-memory fakes of the ports in ``careflow.services.ports``, and a settable clock.

A unit of work copies the committed state when it begins; ``commit`` publishes its writes
(bookings, lanes, stock, outbox, audit), leaving without one rolls back. Like the database,
the store is the last guard: ``add``/``replace`` raise ``RaceLost`` when stock is short, a
resource lane is taken (even by the same booking) or the patient is booked then; ``save``
when the version moved. One writer at a time, like SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from careflow.domain.bookings import Allocation, Booking, BookingStatus, ItemReservation
from careflow.domain.catalog import Catalog
from careflow.domain.events import Event
from careflow.domain.exceptions_queue import ExceptionItem, ExceptionStatus, queue_order
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.patients import Authorization, Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource
from careflow.domain.sites import Site
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span, overlaps, require_aware
from careflow.services.ports import AuditEntry, BookingFilter, ExceptionFilter, Notification, RaceLost

__all__ = ["FakeNotifier", "FakeUnitOfWork", "FakeUnitOfWorkFactory", "FixedClock", "State"]

Reserved = tuple[SiteId, tuple[ItemReservation, ...]]


@dataclass
class State:
    """Everything the stores hold; ``lanes`` are the allocations that occupy resources."""

    version: int
    master: dict[type, dict[str, Any]]  # Site, Resource, Service, Patient, Authorization by id
    stock: dict[tuple[SiteId, str], StockLevel]
    bookings: dict[str, Booking] = field(default_factory=dict)
    lanes: dict[str, tuple[Allocation, ...]] = field(default_factory=dict)
    reservations: dict[str, Reserved] = field(default_factory=dict)
    outbox: list[Event] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    exceptions: dict[str, ExceptionItem] = field(default_factory=dict)

    def copy(self) -> State:
        return State(self.version, {k: dict(v) for k, v in self.master.items()}, dict(self.stock),
                     {k: _copy(b) for k, b in self.bookings.items()}, dict(self.lanes),
                     dict(self.reservations), list(self.outbox), list(self.audit),
                     {k: _copy_item(i) for k, i in self.exceptions.items()})

    def of(self, kind: type) -> dict[str, Any]:
        return self.master.setdefault(kind, {})

    def occupying(self) -> list[tuple[str, Allocation]]:
        """(booking id, allocation) for every allocation of an active booking."""
        return [(bid, a) for bid, allocs in self.lanes.items() if self.bookings[bid].active for a in allocs]


def _copy(booking: Booking) -> Booking:
    return replace(booking, events=[])


def _copy_item(item: ExceptionItem) -> ExceptionItem:
    return replace(item, comments=list(item.comments), alternatives=[dict(a) for a in item.alternatives],
                   events=[])


class FakeExceptionStore:
    """The exception queue in memory (optimistic on version, like the SQL store)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, item_id: str, *, lock: bool = False) -> ExceptionItem | None:
        found = self._uow.state.exceptions.get(item_id)
        return _copy_item(found) if found is not None else None

    def add(self, item: ExceptionItem) -> None:
        if item.id in self._uow.state.exceptions:
            raise RaceLost(f"exception {item.id} exists")
        self._uow.state.exceptions[item.id] = _copy_item(item)

    def save(self, item: ExceptionItem, expected_version: int) -> None:
        self._uow.factory.run_concurrent_writer(self._uow)
        stored = self._uow.state.exceptions.get(item.id)
        if stored is None or stored.version != expected_version:
            raise RaceLost(f"exception {item.id} was changed concurrently")
        self._uow.state.exceptions[item.id] = _copy_item(item)

    def find(self, flt: ExceptionFilter, offset: int, limit: int) -> tuple[list[ExceptionItem], int]:
        def keep(i: ExceptionItem) -> bool:
            return (all(want is None or have == want for have, want in (
                (i.status, flt.status), (i.owner_team, flt.owner_team), (i.category, flt.category),
                (i.priority, flt.priority), (i.assignee, flt.assignee), (i.booking_id, flt.booking_id),
                (i.case_id, flt.case_id)))
                and (flt.breached_at is None or (not i.resolved and i.sla_due_at < flt.breached_at))
                and (flt.site_ids is None or i.site_id is None or i.site_id in flt.site_ids))

        kept = sorted((i for i in self._uow.state.exceptions.values() if keep(i)), key=queue_order)
        return [_copy_item(i) for i in kept[offset:offset + limit]], len(kept)

    def unresolved(self, limit: int = 100_000) -> list[ExceptionItem]:
        items = [i for i in self._uow.state.exceptions.values() if i.status != ExceptionStatus.RESOLVED]
        return [_copy_item(i) for i in sorted(items, key=lambda i: (i.sla_due_at, i.id))[:limit]]

    def resolved_between(self, start: datetime, end: datetime) -> list[ExceptionItem]:
        return [_copy_item(i) for i in self._uow.state.exceptions.values()
                if i.resolution is not None and start <= i.resolution.at < end]


class FakeMasterStore:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def version(self) -> int:
        return self._uow.state.version

    def load_catalog(self) -> Catalog:
        s = self._uow.state
        return Catalog(s.version, dict(s.of(Site)), dict(s.of(Resource)), dict(s.of(Service)))

    def patient(self, patient_id: str) -> Patient | None:
        return self._uow.state.of(Patient).get(patient_id)  # type: ignore[no-any-return]

    def patients(self, offset: int, limit: int, search: str | None = None) -> tuple[list[Patient], int]:
        found = sorted((p for p in self._uow.state.of(Patient).values()
                        if (search or "").lower() in f"{p.name} {p.mrn}".lower()), key=lambda p: p.id)
        return found[offset:offset + limit], len(found)

    def authorizations(self, patient_id: PatientId) -> list[Authorization]:
        return [a for a in self._uow.state.of(Authorization).values() if a.patient_id == patient_id]

    def stock(self, site_id: SiteId, skus: Collection[str]) -> dict[str, StockLevel]:
        return {sku: lvl for (site, sku), lvl in self._uow.state.stock.items()
                if site == site_id and sku in skus}


class FakeBookingStore:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> State:
        return self._uow.state

    def get(self, booking_id: str, *, lock: bool = False) -> Booking | None:
        found = self._s.bookings.get(booking_id)
        return _copy(found) if found is not None else None

    def find(self, flt: BookingFilter, offset: int, limit: int) -> tuple[list[Booking], int]:
        def wanted(b: Booking) -> bool:
            return ((flt.patient_id is None or b.patient_id == flt.patient_id)
                    and (flt.site_id is None or b.site_id == flt.site_id)
                    and (flt.site_ids is None or b.site_id in flt.site_ids)
                    and (flt.resource_id is None or flt.resource_id in b.resource_ids)
                    and (flt.status is None or b.status is flt.status)
                    and (flt.start_from is None or b.start >= flt.start_from)
                    and (flt.start_to is None or b.start < flt.start_to))
        found = sorted((b for b in self._s.bookings.values() if wanted(b)), key=lambda b: (b.start, b.id))
        return [_copy(b) for b in found[offset:offset + limit]], len(found)

    def busy(self, resource_ids: Collection[ResourceId], window: Span) -> dict[ResourceId, list[Busy]]:
        out: dict[ResourceId, list[Busy]] = {}
        for bid, a in self._s.occupying():
            if a.resource_id in resource_ids and overlaps(a.span, window):
                out.setdefault(a.resource_id, []).append(Busy(*a.span, a.lane, bid, a.role))
        return out

    def patient_busy(self, patient_id: PatientId, window: Span, exclude: str | None) -> list[Span]:
        return [b.span for b in self._s.bookings.values() if b.patient_id == patient_id
                and b.active and b.id != exclude and overlaps(b.span, window)]

    def open_holds(self, patient_id: PatientId, now: datetime) -> int:
        return sum(1 for b in self._s.bookings.values() if b.patient_id == patient_id
                   and b.status is BookingStatus.HELD and b.expires_at is not None and b.expires_at > now)

    def add(self, booking: Booking) -> None:
        assert booking.id not in self._s.bookings, f"duplicate booking id {booking.id}"
        self._uow.factory.run_concurrent_writer(self._uow)
        self._take(booking)
        self._s.bookings[booking.id] = _copy(booking)

    def save(self, booking: Booking, expected_version: int) -> None:
        stored = self._s.bookings.get(booking.id)
        if stored is None or stored.version != expected_version:
            raise RaceLost(f"booking {booking.id} changed since it was read")
        self._s.bookings[booking.id] = replace(  # the status columns only; replace() moves lanes
            stored, status=booking.status, version=booking.version, expires_at=booking.expires_at,
            reason=booking.reason, overrides=booking.overrides, events=[])

    def release(self, booking: Booking) -> None:
        self._s.lanes.pop(booking.id, None)
        self._unreserve(booking.id, consume=False)

    def consume(self, booking: Booking) -> None:
        self._unreserve(booking.id, consume=True)

    def replace(self, booking: Booking, previous: Booking) -> None:
        self.release(previous)
        self._take(booking)
        self._s.bookings[booking.id] = replace(
            self._s.bookings[booking.id], site_id=booking.site_id, start=booking.start, end=booking.end,
            allocations=booking.allocations, items=booking.items, events=[])

    def expired_holds(self, now: datetime, limit: int = 100) -> list[Booking]:
        due = sorted((b for b in self._s.bookings.values() if b.hold_expired(now)),
                     key=lambda b: (b.expires_at, b.id))
        return [_copy(b) for b in due[:limit]]

    def change_head(self) -> int:
        return len(self._s.outbox)  # outbox ids are 1-based positions

    def changes_since(self, after: int, limit: int = 10_000) -> list[tuple[int, str]]:
        return [(i, e.aggregate_id) for i, e in enumerate(self._s.outbox, 1) if i > after][:limit]

    def lock_resources(self, resource_ids: Collection[ResourceId]) -> None:
        """Writers are serialized by the fake already."""

    def allocations_of(self, booking_ids: Collection[str]) -> list[tuple[ResourceId, Busy]]:
        return [(a.resource_id, Busy(*a.span, a.lane, bid, a.role))
                for bid in booking_ids for a in self._s.lanes.get(bid, ())]

    def _take(self, booking: Booking) -> None:
        """Reserve the stock and occupy the lanes, or refuse as the database's guards would."""
        for i, a in enumerate(booking.allocations):
            mine = [(booking.id, o) for o in booking.allocations[:i]]
            for bid, o in self._s.occupying() + mine:
                if (o.resource_id, o.lane) == (a.resource_id, a.lane) and overlaps(o.span, a.span):
                    raise RaceLost(f"{a.resource_id} lane {a.lane} is taken by {bid}")
        if self.patient_busy(booking.patient_id, booking.span, booking.id):
            raise RaceLost(f"patient {booking.patient_id} has another booking then")
        stock = self._s.stock
        for item in booking.items:
            level = stock.get((booking.site_id, item.sku))
            if level is None or level.available < item.quantity:
                raise RaceLost(f"{item.sku} at {booking.site_id} is short")
        for item in booking.items:
            key = (booking.site_id, item.sku)
            stock[key] = replace(stock[key], reserved=stock[key].reserved + item.quantity)
        self._s.lanes[booking.id] = booking.allocations
        self._s.reservations[booking.id] = (booking.site_id, booking.items)

    def _unreserve(self, booking_id: str, *, consume: bool) -> None:
        site_id, items = self._s.reservations.pop(booking_id, (SiteId(""), ()))
        for item in items:
            level = self._s.stock[(site_id, item.sku)]
            self._s.stock[(site_id, item.sku)] = replace(level, reserved=level.reserved - item.quantity,
                                                         on_hand=level.on_hand - item.quantity * consume)


class FakeUnitOfWork:
    """One transaction over a copy of the committed state."""

    def __init__(self, factory: FakeUnitOfWorkFactory, write: bool) -> None:
        self.factory, self.write = factory, write
        self.state = factory.committed.copy()  # copy-on-begin
        self.master = FakeMasterStore(self)
        self.bookings = FakeBookingStore(self)
        self.exceptions = FakeExceptionStore(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.rollback()  # whatever was not committed is gone

    def commit(self) -> None:
        assert self.write, "a read-only unit of work cannot commit"
        self.factory.committed = self.state.copy()
        self.factory.commits += 1

    def rollback(self) -> None:
        self.state = self.factory.committed.copy()

    def publish(self, events: Sequence[Event]) -> None:
        self.state.outbox.extend(events)

    def audit(self, entry: AuditEntry) -> None:
        self.state.audit.append(entry)


class FakeUnitOfWorkFactory:
    """Hands out units of work over one committed ``State``; tests read ``committed``."""

    def __init__(self, state: State) -> None:
        self.committed = state
        self.commits = 0
        self.concurrent_writer: Callable[[State], None] | None = None

    @classmethod
    def of(cls, system: HealthSystem) -> FakeUnitOfWorkFactory:
        fake = cls(State(1, {}, {}))
        fake.put(*system.sites, *system.resources, *system.services, *system.patients,
                 *system.authorizations, *system.stock)
        fake.committed.version = 1
        for booking in system.bookings:
            with fake(write=True) as uow:
                uow.bookings.add(booking)
                uow.commit()
        return fake

    def __call__(self, *, write: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, write)

    def put(self, *things: Any) -> None:
        """Insert or replace master data (by id, or site and sku for stock); bumps the version."""
        for thing in things:
            if isinstance(thing, StockLevel):
                self.committed.stock[(thing.site_id, thing.sku)] = thing
            else:
                self.committed.of(type(thing))[thing.id] = thing
        self.committed.version += 1

    def wipe(self) -> None:
        """Delete every booking, reservation, outbox and audit row, as ``careflow seed`` does
        before loading again: outbox ids start over at 1 (as SQLite's rowids do once the table
        is empty), and the master-data version moves on."""
        s = self.committed
        s.bookings.clear()
        s.lanes.clear()
        s.reservations.clear()
        s.outbox.clear()
        s.audit.clear()
        s.stock = {key: replace(level, reserved=0) for key, level in s.stock.items()}
        s.version += 1

    def run_concurrent_writer(self, uow: FakeUnitOfWork) -> None:
        """Let a writer that was set up by a test commit just before this write lands."""
        writer, self.concurrent_writer = self.concurrent_writer, None
        if writer is not None:
            writer(self.committed)
            writer(uow.state)

    # Views of the committed state, for assertions.
    def booking(self, booking_id: str) -> Booking:
        return self.committed.bookings[booking_id]

    def stock(self, site_id: str, sku: str) -> StockLevel:
        return self.committed.stock[(SiteId(site_id), sku)]

    def allocations(self) -> list[Allocation]:
        """Allocations of active bookings, which occupy their resources."""
        return [a for _, a in self.committed.occupying()]

    @property
    def events(self) -> list[Event]:
        return self.committed.outbox

    @property
    def audit(self) -> list[AuditEntry]:
        return self.committed.audit

    def event_names(self, booking_id: str) -> list[str]:
        return [e.name for e in self.events if e.aggregate_id == booking_id]


class FixedClock:
    """A clock that stands still until a test sets or advances it."""

    def __init__(self, now: datetime) -> None:
        self.now = require_aware(now, "now")

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = require_aware(now, "now")

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FakeNotifier:
    """The ``Notifier`` port in memory: records what it sent, each key once.

    ``sent`` holds the notifications in the order they were sent; ``asked`` counts every
    ``notify`` call (repeats included), so a test can tell "asked twice, sent once".
    ``fail_next`` makes the next send raise, like a channel that is down; the key is then
    not recorded and a later ``notify`` of it sends it.
    """

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.asked = 0
        self.fail_next: Exception | None = None
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def notify(self, notification: Notification) -> bool:
        with self._lock:
            self.asked += 1
            if notification.key in self._keys:
                return False
            if self.fail_next is not None:
                error, self.fail_next = self.fail_next, None
                raise error
            self._keys.add(notification.key)
            self.sent.append(notification)
            return True

    def to(self, recipient: str) -> list[Notification]:
        """What was sent to one patient id or team name."""
        return [n for n in self.sent if n.recipient == recipient]

    def topics(self) -> list[str]:
        return [n.topic for n in self.sent]
