"""Events: facts that happened, named in the past tense, written to the outbox."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "INGESTED",
    "AuthorizationChanged",
    "BedCleaned",
    "BookingCancelled",
    "BookingConfirmed",
    "BookingFulfilled",
    "BookingRescheduled",
    "ClinicianAvailabilityChanged",
    "ClinicianCalledOut",
    "EquipmentCameBack",
    "EquipmentWentDown",
    "Event",
    "HoldExpired",
    "HoldPlaced",
    "MaintenanceScheduled",
    "PatientArrived",
    "PatientDidNotArrive",
    "PatientDischarged",
    "ReferralReceived",
    "SoftViolationsOverridden",
    "StockChanged",
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
    old_end: datetime | None = None
    old_site_id: str = ""


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


# --- what other systems report (HR, ERP, biomedical engineering, the EHR, bed boards) ---
# Written by the ingest use cases (services/ingest.py) in the transaction that applies the
# change to careflow's own records; ``source`` names the reporting system, ``reference``
# its own id for the fact (so a report sent twice is recognised).


@dataclass(frozen=True, slots=True)
class ClinicianCalledOut(Event):
    """A clinician cannot work [start, end) (sickness, emergency); ``aggregate_id`` is the
    clinician's resource id."""

    name: ClassVar[str] = "ClinicianCalledOut"
    start: datetime | None = None
    end: datetime | None = None
    reason: str = ""
    source: str = ""
    reference: str = ""
    capacity_delta: int | None = None  # staff-pool units called out (None: all of it)


@dataclass(frozen=True, slots=True)
class ClinicianAvailabilityChanged(Event):
    """A clinician's availability changed for [start, end): ``available`` False removes
    time (vacation, training), True adds an extra session."""

    name: ClassVar[str] = "ClinicianAvailabilityChanged"
    start: datetime | None = None
    end: datetime | None = None
    available: bool = False
    reason: str = ""
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class EquipmentWentDown(Event):
    """Equipment (or a room) failed at ``start``; expected back at ``end``."""

    name: ClassVar[str] = "EquipmentWentDown"
    start: datetime | None = None
    end: datetime | None = None
    reason: str = ""
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class EquipmentCameBack(Event):
    """Equipment is usable again from ``at`` (the open downtime is cut there)."""

    name: ClassVar[str] = "EquipmentCameBack"
    at: datetime | None = None
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class MaintenanceScheduled(Event):
    """Planned maintenance or sterilization downtime over [start, end)."""

    name: ClassVar[str] = "MaintenanceScheduled"
    start: datetime | None = None
    end: datetime | None = None
    reason: str = ""
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class StockChanged(Event):
    """The on-hand count of ``sku`` at ``site_id`` changed (a count, a delivery, a recall);
    ``aggregate_id`` is ``site_id/sku``. ``on_hand`` is the count reported; when it is below
    what booked cases have reserved, ``shortfall`` says by how much."""

    name: ClassVar[str] = "StockChanged"
    site_id: str = ""
    sku: str = ""
    on_hand: int = 0
    previous_on_hand: int = 0
    reserved: int = 0
    source: str = ""
    reference: str = ""
    shortfall: int = 0  # counted below what booked cases hold: their reservations are at risk


@dataclass(frozen=True, slots=True)
class AuthorizationChanged(Event):
    """A payer's decision changed; ``aggregate_id`` is the authorization id."""

    name: ClassVar[str] = "AuthorizationChanged"
    patient_id: str = ""
    service_id: str = ""
    status: str = ""
    previous_status: str = ""
    valid_from: str = ""
    valid_to: str = ""
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class PatientDischarged(Event):
    """An inpatient left ``bed_id`` at ``at``; the bed needs cleaning before the next
    placement. ``aggregate_id`` is the bed's resource id."""

    name: ClassVar[str] = "PatientDischarged"
    patient_id: str = ""
    booking_id: str = ""
    at: datetime | None = None
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class BedCleaned(Event):
    """Housekeeping finished the bed at ``at``; ``aggregate_id`` is the bed's resource id."""

    name: ClassVar[str] = "BedCleaned"
    at: datetime | None = None
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class ReferralReceived(Event):
    """A referral arrived from the EHR; ``aggregate_id`` is careflow's referral id."""

    name: ClassVar[str] = "ReferralReceived"
    patient_id: str = ""
    service_id: str = ""
    urgency: str = "routine"
    earliest: datetime | None = None
    latest: datetime | None = None
    site_ids: tuple[str, ...] = ()
    referring: str = ""
    source: str = ""
    reference: str = ""


INGESTED: tuple[type[Event], ...] = (
    ClinicianCalledOut, ClinicianAvailabilityChanged, EquipmentWentDown, EquipmentCameBack,
    MaintenanceScheduled, StockChanged, StockFellBelowThreshold, AuthorizationChanged,
    BookingCancelled, PatientDidNotArrive, PatientDischarged, BedCleaned, ReferralReceived)
"""The events other systems may report through ``POST /api/v1/events/{name}``."""
