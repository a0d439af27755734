"""Events: facts that happened, named in the past tense, written to the outbox."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "BookingCancelled",
    "BookingConfirmed",
    "BookingFulfilled",
    "BookingRescheduled",
    "Event",
    "HoldExpired",
    "HoldPlaced",
    "PatientArrived",
    "PatientDidNotArrive",
    "SoftViolationsOverridden",
    "StockFellBelowThreshold",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events. ``aggregate_id`` is the booking (or stock item) it is about."""

    name: ClassVar[str] = "Event"
    aggregate_id: str

    def payload(self) -> dict[str, Any]:
        """JSON-ready fields (datetimes as ISO strings); field by field, without
        ``dataclasses.asdict``'s recursive deep copy (the fields are flat)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            key = f.name
            value = getattr(self, key)
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, (tuple, frozenset, list)):
                out[key] = [v.isoformat() if isinstance(v, datetime) else v for v in value]
            elif isinstance(value, dict):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class HoldPlaced(Event):
    name: ClassVar[str] = "HoldPlaced"
    patient_id: str = ""
    service_id: str = ""
    site_id: str = ""
    start: datetime | None = None
    expires_at: datetime | None = None
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HoldExpired(Event):
    name: ClassVar[str] = "HoldExpired"
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BookingConfirmed(Event):
    name: ClassVar[str] = "BookingConfirmed"
    patient_id: str = ""
    service_id: str = ""
    site_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    resource_ids: tuple[str, ...] = ()
    from_hold: bool = False
    rule_version: str = ""


@dataclass(frozen=True, slots=True)
class BookingCancelled(Event):
    name: ClassVar[str] = "BookingCancelled"
    reason: str = ""
    by: str = ""
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BookingRescheduled(Event):
    name: ClassVar[str] = "BookingRescheduled"
    old_start: datetime | None = None
    new_start: datetime | None = None
    site_id: str = ""
    reason: str = ""
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PatientArrived(Event):
    name: ClassVar[str] = "PatientArrived"
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BookingFulfilled(Event):
    name: ClassVar[str] = "BookingFulfilled"
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PatientDidNotArrive(Event):
    name: ClassVar[str] = "PatientDidNotArrive"
    at: datetime | None = None
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SoftViolationsOverridden(Event):
    name: ClassVar[str] = "SoftViolationsOverridden"
    codes: tuple[str, ...] = ()
    reason: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class StockFellBelowThreshold(Event):
    """``aggregate_id`` is ``site_id/sku``."""

    name: ClassVar[str] = "StockFellBelowThreshold"
    site_id: str = ""
    sku: str = ""
    available: int = 0
    threshold: int = 0
    booking_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
