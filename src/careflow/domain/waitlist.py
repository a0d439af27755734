"""The waitlist: patients who want an earlier time for a service, offered freed slots.

An entry waits until a slot frees (a cancellation, a re-coordinated booking's old time,
equipment back in service); the best-placed entry that fits is offered it as a hold.
Its lifecycle:

    waiting ──offer──▶ offered ──accept──▶ booked
       ▲                 │
       └──decline/expire─┘        waiting/offered ──withdraw──▶ withdrawn
                                  waiting ──(past latest)──▶ expired

Offers go by priority (urgent first), then by age (first come, first served).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.timespans import require_aware

__all__ = ["PRIORITIES", "WaitlistEntry", "WaitlistStatus"]

PRIORITIES = ("urgent", "high", "normal", "low")  # in offer order


class WaitlistStatus:
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    ALL = ("waiting", "offered", "booked", "withdrawn", "expired")
    OPEN = ("waiting", "offered")


W = WaitlistStatus


@dataclass(slots=True)
class WaitlistEntry:
    id: str
    patient_id: str
    service_id: str
    site_ids: tuple[str, ...]  # empty: any site that offers the service
    earliest: datetime
    latest: datetime
    priority: str
    created_at: datetime
    created_by: str
    status: str = W.WAITING
    booking_id: str | None = None
    offer_booking_id: str | None = None
    offered_at: datetime | None = None
    offer_expires_at: datetime | None = None
    offers: int = 0
    updated_at: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        self.earliest = require_aware(self.earliest, "earliest")
        self.latest = require_aware(self.latest, "latest")
        if self.latest <= self.earliest:
            raise InvalidRequest("latest must be after earliest", "latest")
        if self.priority not in PRIORITIES:
            raise InvalidRequest(f"priority must be one of {', '.join(PRIORITIES)}", "priority")
        if self.updated_at is None:
            self.updated_at = self.created_at

    @property
    def priority_rank(self) -> int:
        return PRIORITIES.index(self.priority)

    def wants(self, site_id: str, start: datetime) -> bool:
        """Would this entry take a slot at ``site_id`` starting at ``start``?"""
        if self.status != W.WAITING:
            return False
        if self.site_ids and site_id not in self.site_ids:
            return False
        return self.earliest <= start < self.latest

    def _require(self, *allowed: str, step: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"cannot {step} waitlist entry {self.id}: it is {self.status}")

    def offer(self, hold_id: str, at: datetime, expires_at: datetime) -> None:
        self._require(W.WAITING, step="offer")
        self.status = W.OFFERED
        self.offer_booking_id, self.offered_at, self.offer_expires_at = hold_id, at, expires_at
        self.offers += 1
        self.updated_at = at

    def accepted(self, booking_id: str, at: datetime) -> None:
        self._require(W.OFFERED, step="accept an offer for")
        self.status = W.BOOKED
        self.booking_id = booking_id
        self.updated_at = at

    def offer_lapsed(self, at: datetime) -> None:
        """Declined, or the hold expired: back to waiting for the next slot."""
        self._require(W.OFFERED, step="decline an offer for")
        self.status = W.WAITING
        self.offer_booking_id = self.offered_at = self.offer_expires_at = None
        self.updated_at = at

    def withdraw(self, at: datetime) -> None:
        self._require(*W.OPEN, step="withdraw")
        self.status = W.WITHDRAWN
        self.updated_at = at

    def expire(self, at: datetime) -> None:
        self._require(W.WAITING, step="expire")
        self.status = W.EXPIRED
        self.updated_at = at
