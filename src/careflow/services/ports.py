"""Ports: the small interfaces that adapters implement and use cases depend on.

The unit of work is one transaction. Opened for writing it serializes writers on SQLite
(``BEGIN IMMEDIATE``); on PostgreSQL the exclusion constraints are the last guard and a
lost race surfaces as ``RaceLost``, which the use cases retry after re-reading.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.catalog import Catalog
from careflow.domain.errors import Conflict
from careflow.domain.events import Event
from careflow.domain.exceptions_queue import ExceptionItem
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.patients import Authorization, Patient
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span

__all__ = [
    "AuditEntry",
    "BookingFilter",
    "BookingStore",
    "Clock",
    "ExceptionFilter",
    "ExceptionStore",
    "InUse",
    "Key",
    "MasterAdminStore",
    "MasterStore",
    "Notification",
    "NotificationFailed",
    "Notifier",
    "RaceLost",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "Usage",
    "Versioned",
]

Clock = Callable[[], datetime]


class RaceLost(Conflict):
    """A concurrent writer committed first (an exclusion or stock guard fired)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which entity, with what outcome, why and under which rules."""

    actor: str
    action: str
    entity_type: str
    entity_id: str
    outcome: str
    reason: str = ""
    rule_version: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BookingFilter:
    patient_id: PatientId | None = None
    site_id: SiteId | None = None
    resource_id: ResourceId | None = None
    status: BookingStatus | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    site_ids: frozenset[SiteId] | None = None  # an actor's site limit (None: every site)


class MasterStore(Protocol):
    """Master data: the catalog and the per-patient facts a check reads."""

    def version(self) -> int: ...

    def load_catalog(self) -> Catalog: ...

    def patient(self, patient_id: str) -> Patient | None: ...

    def patients(self, offset: int, limit: int, search: str | None = None) -> tuple[list[Patient], int]: ...

    def authorizations(self, patient_id: PatientId) -> list[Authorization]: ...

    def stock(self, site_id: SiteId, skus: Collection[str]) -> dict[str, StockLevel]: ...


class BookingStore(Protocol):
    """Bookings with their allocations and stock reservations."""

    def get(self, booking_id: str, *, lock: bool = False) -> Booking | None: ...

    def find(self, flt: BookingFilter, offset: int, limit: int) -> tuple[list[Booking], int]: ...

    def busy(self, resource_ids: Collection[ResourceId], window: Span) -> dict[ResourceId, list[Busy]]:
        """Active allocations overlapping ``window`` per resource."""
        ...

    def lock_resources(self, resource_ids: Collection[ResourceId]) -> None:
        """Serialize writers that read these resources' limits (working hours) until commit.

        The exclusion constraints guard overlaps; a limit summed over many allocations
        (hours in a day or a week) can only be guarded by making writers take turns.
        A no-op where writers are serialized anyway (SQLite).
        """
        ...

    def patient_busy(self, patient_id: PatientId, window: Span, exclude: str | None) -> list[Span]:
        """Spans of the patient's other active bookings overlapping ``window``."""
        ...

    def open_holds(self, patient_id: PatientId, now: datetime) -> int:
        """How many unexpired holds the patient has. On PostgreSQL the patient's row is
        locked first, so writers placing holds for one patient take turns until commit
        (SQLite writers are serialized anyway)."""
        ...

    def add(self, booking: Booking) -> None:
        """Insert the booking, its allocations and reservations; reserve stock (or ``RaceLost``)."""
        ...

    def save(self, booking: Booking, expected_version: int) -> None:
        """Write status, version, hold expiry, reason and overrides (optimistic on version)."""
        ...

    def release(self, booking: Booking) -> None:
        """Free the allocations and release the stock reservations."""
        ...

    def consume(self, booking: Booking) -> None:
        """Turn the stock reservations into consumption (on hand goes down)."""
        ...

    def replace(self, booking: Booking, previous: Booking) -> None:
        """Swap ``previous``'s allocations and reservations for ``booking``'s (reschedule)."""
        ...

    def expired_holds(self, now: datetime, limit: int = 100) -> list[Booking]: ...

    def change_head(self) -> int:
        """The highest outbox id (0 when empty): where a change feed starts."""
        ...

    def changes_since(self, after: int, limit: int = 10_000) -> list[tuple[int, str]]:
        """(outbox id, aggregate id) of events with id > ``after``, in id order."""
        ...

    def allocations_of(self, booking_ids: Collection[str]) -> list[tuple[ResourceId, Busy]]:
        """The *active* allocations of these bookings (any status), per resource."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the stores, the outbox and the audit trail."""

    master: MasterStore
    bookings: BookingStore
    exceptions: ExceptionStore

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def publish(self, events: Sequence[Event]) -> None:
        """Write events to the outbox, in this transaction."""
        ...

    def audit(self, entry: AuditEntry) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False) -> UnitOfWork: ...


# --- master-data administration (services/management.py) -----------------------------

Key = tuple[str, ...]
"""An item's key: ``(id,)`` for most kinds, ``(site_id, sku)`` for a stock item."""


@dataclass(frozen=True, slots=True)
class Versioned:
    """A master-data item with its strong ETag (a hash of its canonical JSON, quoted)."""

    item: Any
    etag: str


@dataclass(frozen=True, slots=True)
class InUse:
    """Something that refers to an item: what, how many, and a few of their ids."""

    what: str  # "booking", "resource", "stock_item", ...
    count: int
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Usage:
    """What stands in the way of deleting an item.

    ``blocking`` must go first (active or future bookings, items that would dangle);
    ``history`` says past records refer to the item, so it can only be retired.
    """

    blocking: tuple[InUse, ...] = ()
    history: bool = False


class MasterAdminStore(Protocol):
    """Create, read, update and delete master data inside one unit of work.

    ``kind`` is one of ``site``, ``resource``, ``service``, ``stock_item``, ``patient``,
    ``authorization``; items are domain objects. Writes do not commit or audit (the use
    case does) and do not move the catalog version (``bump_version`` does).
    """

    def get(self, kind: str, key: Key, *, lock: bool = False) -> Versioned | None:
        """The item, or None; ``lock`` holds its row until commit (``FOR UPDATE``)."""
        ...

    def page(self, kind: str, filters: dict[str, Any], sites: frozenset[str] | None,
             offset: int, limit: int) -> tuple[list[Versioned], int]:
        """A page of items in key order, and the total; ``sites`` limits site-bound kinds."""
        ...

    def insert(self, kind: str, item: Any) -> Versioned:
        """Add a new item (``Conflict`` when its key is taken)."""
        ...

    def update(self, kind: str, item: Any) -> Versioned:
        """Replace the item with the same key."""
        ...

    def delete(self, kind: str, key: Key) -> None:
        """Remove the item (and what belongs only to it: a patient's authorizations)."""
        ...

    def check_references(self, kind: str, item: Any) -> None:
        """``InvalidRequest`` naming the field when the item refers to something missing."""
        ...

    def usage(self, kind: str, key: Key, now: datetime) -> Usage:
        """What refers to the item: active or future bookings and other blockers, history."""
        ...

    def bump_version(self) -> int:
        """Move the catalog version on, so every process's catalog cache reloads."""
        ...


# --- the exception queue (services/exception_queue.py) --------------------------------


@dataclass(frozen=True, slots=True)
class ExceptionFilter:
    """What a queue listing keeps; ``breached_at`` keeps unresolved items due before it."""

    status: str | None = None
    owner_team: str | None = None
    category: str | None = None
    priority: str | None = None
    assignee: str | None = None
    breached_at: datetime | None = None
    site_ids: frozenset[str] | None = None  # an actor's site limit (None: every site)
    booking_id: str | None = None
    case_id: str | None = None


class ExceptionStore(Protocol):
    """Exception-queue items, with their comments, alternatives and resolution."""

    def get(self, item_id: str, *, lock: bool = False) -> ExceptionItem | None:
        """The item, or None; ``lock`` holds its row until commit (``FOR UPDATE``)."""
        ...

    def add(self, item: ExceptionItem) -> None: ...

    def save(self, item: ExceptionItem, expected_version: int) -> None:
        """Write the item if its stored version is still ``expected_version`` (else
        ``RaceLost``): of two claimers at once, exactly one wins."""
        ...

    def find(self, flt: ExceptionFilter, offset: int, limit: int) -> tuple[list[ExceptionItem], int]:
        """A page in queue order (priority, then due time, then id) and the total."""
        ...

    def unresolved(self, limit: int = 100_000) -> list[ExceptionItem]:
        """Every open or claimed item (for escalation and figures)."""
        ...

    def resolved_between(self, start: datetime, end: datetime) -> list[ExceptionItem]:
        """Items resolved in ``[start, end)``."""
        ...


# --- notifications (adapters/notify) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """A message to a patient or a care team about a booking, a case or an offer.

    ``key`` makes sending idempotent: a notifier sends a given key once, however often it
    is asked (a workflow step or an event handler that runs again after a crash asks
    again). ``audience`` is ``patient`` (``recipient`` is a patient id) or ``team``
    (``recipient`` is a team name such as ``procurement``). ``topic`` is a stable dotted
    name (``booking.rescheduled``, ``waitlist.offer``, ``case.booked``, ...); ``data`` holds
    ids and times only, never a name or a clinical detail.
    """

    key: str
    audience: str
    recipient: str
    topic: str
    subject: str
    body: str
    booking_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, hash=False)


class NotificationFailed(Exception):
    """A channel could not deliver the notification; it is recorded as failed, and a later
    ``notify`` of the same key retries it (only through the channels that failed)."""


class Notifier(Protocol):
    def notify(self, notification: Notification) -> bool:
        """Send it through the configured channels; False when its key was sent before.
        Raises ``NotificationFailed`` when a channel failed (ask again later to retry)."""
        ...
