"""Bookings and their lifecycle.

    (option) ──hold──▶ held ──book──▶ booked ──arrive──▶ arrived ──fulfil──▶ fulfilled
                        │  ╲expire▶ expired     │ ╲no-show▶ no_show
                        └──cancel──▶ cancelled ◀┘ (also from arrived)

A ``Booking`` is the aggregate: its allocations (resource, lane, interval), stock
reservations and bed go and come together. Each transition records an event instead of
calling out; the unit of work writes those events to the outbox in the same transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from careflow.domain.errors import InvalidTransition
from careflow.domain.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingFulfilled,
    BookingRescheduled,
    Event,
    HoldExpired,
    HoldPlaced,
    PatientArrived,
    PatientDidNotArrive,
)
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.timespans import Interval, Span, to_ts

__all__ = [
    "ACTIVE_STATUSES",
    "Allocation",
    "Booking",
    "BookingStatus",
    "ItemReservation",
    "Override",
    "Urgency",
]


class BookingStatus(enum.StrEnum):
    HELD = "held"
    BOOKED = "booked"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    EXPIRED = "expired"


# Statuses whose allocations occupy their resources.
ACTIVE_STATUSES = frozenset({BookingStatus.HELD, BookingStatus.BOOKED,
                             BookingStatus.ARRIVED, BookingStatus.FULFILLED})


class Urgency(enum.StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENT = "emergent"


@dataclass(frozen=True, slots=True)
class Allocation:
    """One resource (one lane of it, for pools) for one interval of a booking."""

    resource_id: ResourceId
    role: str
    start: datetime
    end: datetime
    lane: int = 0

    @property
    def span(self) -> Span:
        return (to_ts(self.start), to_ts(self.end))

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


@dataclass(frozen=True, slots=True)
class ItemReservation:
    """Implants or supplies reserved at the case's site."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Override:
    """Soft violations accepted by an actor with the permission, with the reason."""

    codes: tuple[str, ...]
    reason: str
    by: str
    at: datetime


@dataclass(eq=False)
class Booking:
    """A visit or case: its allocations, stock reservations and bed, all or nothing."""

    id: BookingId
    patient_id: PatientId
    service_id: ServiceId
    site_id: SiteId
    start: datetime
    end: datetime
    status: BookingStatus
    allocations: tuple[Allocation, ...]
    items: tuple[ItemReservation, ...] = ()
    urgency: Urgency = Urgency.ROUTINE
    created_at: datetime | None = None
    created_by: str = ""
    expires_at: datetime | None = None
    overrides: tuple[Override, ...] = ()
    rule_version: str = ""
    reason: str = ""
    version: int = 1
    events: list[Event] = field(default_factory=list, repr=False)

    @property
    def span(self) -> Span:
        return (to_ts(self.start), to_ts(self.end))

    @property
    def resource_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.resource_id for a in self.allocations))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def hold_expired(self, now: datetime) -> bool:
        return (self.status is BookingStatus.HELD and self.expires_at is not None
                and self.expires_at <= now)

    def _require(self, *allowed: BookingStatus, step: str) -> None:
        if self.status not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise InvalidTransition(
                f"cannot {step} booking {self.id}: it is {self.status.value} (needs {names})")

    def _move(self, status: BookingStatus) -> None:
        self.status = status
        self.version += 1

    def placed_as_hold(self) -> None:
        self.events.append(HoldPlaced(self.id, self.patient_id, self.service_id, self.site_id,
                                      self.start, self.expires_at, self.resource_ids))

    def confirm(self, from_hold: bool) -> None:
        """held → booked (or a new booking straight from an option)."""
        if from_hold:
            self._require(BookingStatus.HELD, step="book")
            self._move(BookingStatus.BOOKED)
            self.expires_at = None
        self.events.append(BookingConfirmed(self.id, self.patient_id, self.service_id,
                                            self.site_id, self.start, self.end,
                                            self.resource_ids, from_hold, self.rule_version))

    def expire(self) -> None:
        self._require(BookingStatus.HELD, step="expire")
        self._move(BookingStatus.EXPIRED)
        self.events.append(HoldExpired(self.id, self.resource_ids))

    def cancel(self, reason: str, by: str) -> None:
        self._require(BookingStatus.HELD, BookingStatus.BOOKED, BookingStatus.ARRIVED,
                      step="cancel")
        self._move(BookingStatus.CANCELLED)
        self.reason = reason
        self.events.append(BookingCancelled(self.id, reason, by, self.resource_ids))

    def arrive(self, at: datetime) -> None:
        self._require(BookingStatus.BOOKED, step="check in")
        self._move(BookingStatus.ARRIVED)
        self.events.append(PatientArrived(self.id, at))

    def fulfil(self, at: datetime) -> None:
        self._require(BookingStatus.ARRIVED, step="fulfil")
        self._move(BookingStatus.FULFILLED)
        self.events.append(BookingFulfilled(self.id, at))

    def mark_no_show(self, at: datetime) -> None:
        self._require(BookingStatus.BOOKED, step="mark as no-show")
        if at < self.start:
            raise InvalidTransition(
                f"cannot mark booking {self.id} as a no-show before it starts ({self.start.isoformat()})")
        self._move(BookingStatus.NO_SHOW)
        self.events.append(PatientDidNotArrive(self.id, at, self.resource_ids))

    def move_to(self, site_id: SiteId, start: datetime, end: datetime,
                allocations: tuple[Allocation, ...], items: tuple[ItemReservation, ...],
                reason: str) -> None:
        """Reschedule: the same booking at a new time (and possibly site and resources)."""
        self._require(BookingStatus.BOOKED, BookingStatus.HELD, step="reschedule")
        old_start, old_end, old_site = self.start, self.end, self.site_id
        self.site_id, self.start, self.end = site_id, start, end
        self.allocations, self.items = allocations, items
        self.version += 1
        self.events.append(BookingRescheduled(self.id, old_start, start, site_id, reason,
                                              self.resource_ids, old_end, old_site))
