"""Bed placement: admission requests, bed status, and which bed suits which patient.

An ``Admission`` asks for a bed at a site, by unit or unit type (the bed type: surgical,
medical, icu, ...), from a time, for an expected length of stay, with an urgency and a
source (ED, PACU, elective, ...). It waits until a bed is placed:

    waiting ──place──▶ placed
       └──cancel──▶ cancelled

A bed is ``clean`` (ready), ``dirty`` (vacated, waiting for housekeeping) or
``out_of_service``; only a clean bed is offered. A bed never seen by the bed board is
clean. Which bed suits a patient is a pure function of the bed's profile, the request
and the patient: ``mismatches`` says why a bed cannot take the patient, ``penalty``
ranks the beds that can (lower first; an isolation bed given to a patient who does not
need isolation costs most, so those beds stay free for those who do).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from careflow.domain.bookings import Urgency
from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.events import Event
from careflow.domain.patients import Patient
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import require_aware

__all__ = [
    "MAX_STAY_HOURS",
    "SOURCES",
    "URGENCY_RANK",
    "WAIT_SLA_MINUTES",
    "Admission",
    "AdmissionCancelled",
    "AdmissionPlaced",
    "AdmissionRequested",
    "AdmissionStatus",
    "BedMarkedDirty",
    "BedReady",
    "BedState",
    "BedStatus",
    "RequestAdmission",
    "mismatches",
    "needs_isolation",
    "penalty",
    "waiting_order",
]

SOURCES = ("ed", "pacu", "elective", "transfer", "direct")
URGENCY_RANK = {Urgency.EMERGENT: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}
# How long an admission may wait for a bed before a person is asked (bed_placement exception).
WAIT_SLA_MINUTES = {Urgency.EMERGENT: 15, Urgency.URGENT: 30, Urgency.ROUTINE: 120}
# The exception queue's priority for an admission that waited too long.
EXCEPTION_PRIORITY = {Urgency.EMERGENT: "urgent", Urgency.URGENT: "high", Urgency.ROUTINE: "normal"}
MAX_STAY_HOURS = 24 * 90
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")

# Ranking penalties (points, lower ranks first).
ISOLATION_WASTE = 100.0  # an isolation-capable bed for a patient who does not need one
OPEN_GENDER_ROOM = 5.0  # a mixed room for a patient a gendered room would have suited


class BedStatus(enum.StrEnum):
    CLEAN = "clean"
    DIRTY = "dirty"
    OUT_OF_SERVICE = "out_of_service"


class AdmissionStatus(enum.StrEnum):
    WAITING = "waiting"
    PLACED = "placed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AdmissionRequested(Event):
    name: ClassVar[str] = "AdmissionRequested"
    patient_id: str = ""
    site_id: str = ""
    urgency: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class AdmissionPlaced(Event):
    """``aggregate_id`` is the admission; the bed is held by ``booking_id``."""

    name: ClassVar[str] = "AdmissionPlaced"
    bed_id: str = ""
    booking_id: str = ""
    site_id: str = ""


@dataclass(frozen=True, slots=True)
class AdmissionCancelled(Event):
    name: ClassVar[str] = "AdmissionCancelled"
    reason: str = ""
    by: str = ""
    booking_id: str = ""


@dataclass(frozen=True, slots=True)
class BedMarkedDirty(Event):
    """``aggregate_id`` is the bed; housekeeping's task is ``task_id``."""

    name: ClassVar[str] = "BedMarkedDirty"
    site_id: str = ""
    at: datetime | None = None
    task_id: str = ""


@dataclass(frozen=True, slots=True)
class BedReady(Event):
    """The bed is clean and may be offered again; ``aggregate_id`` is the bed."""

    name: ClassVar[str] = "BedReady"
    site_id: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RequestAdmission:
    """What an admission asks for; ``unit`` or ``bed_type`` (or both) must be given.

    ``isolation`` asks for an isolation-capable bed even when the patient's record does
    not say so (a suspected infection in the ED)."""

    patient_id: str
    site_id: str
    wanted_from: datetime
    los_hours: int
    unit: str | None = None
    bed_type: str | None = None
    isolation: bool = False
    urgency: Urgency = Urgency.ROUTINE
    source: str = "elective"

    def __post_init__(self) -> None:
        object.__setattr__(self, "wanted_from", require_aware(self.wanted_from, "wanted_from"))
        if self.unit is None and self.bed_type is None:
            raise InvalidRequest("name the wanted unit or the bed type (unit type)", "unit")
        for name in ("unit", "bed_type"):
            value = getattr(self, name)
            if value is not None and not _NAME.fullmatch(value):
                raise InvalidRequest(f"{name} must be a short name (letters, digits, space, _ . -)", name)
        if not 1 <= self.los_hours <= MAX_STAY_HOURS:
            raise InvalidRequest(f"los_hours must be between 1 and {MAX_STAY_HOURS}", "los_hours")
        if self.source not in SOURCES:
            raise InvalidRequest(f"source must be one of {', '.join(SOURCES)}", "source")


@dataclass(slots=True)
class Admission:
    """An admission request and where it stands (the aggregate; ``version`` guards writers)."""

    id: str
    patient_id: str
    site_id: str
    wanted_from: datetime
    los_hours: int
    unit: str | None
    bed_type: str | None
    isolation: bool
    urgency: Urgency
    source: str
    requested_at: datetime
    requested_by: str
    status: AdmissionStatus = AdmissionStatus.WAITING
    bed_id: str | None = None
    booking_id: str | None = None
    placed_at: datetime | None = None
    exception_id: str | None = None
    version: int = 1
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def requested(cls, admission_id: str, cmd: RequestAdmission, now: datetime, by: str) -> Admission:
        adm = cls(admission_id, cmd.patient_id, cmd.site_id, cmd.wanted_from, cmd.los_hours, cmd.unit,
                  cmd.bed_type, cmd.isolation, cmd.urgency, cmd.source, now, by)
        adm.events.append(AdmissionRequested(admission_id, cmd.patient_id, cmd.site_id,
                                             cmd.urgency.value, cmd.source))
        return adm

    def stay(self, now: datetime) -> tuple[datetime, datetime]:
        """The stay a bed is needed for: from the wanted time (or now, if that has passed)."""
        start = max(self.wanted_from, now).replace(microsecond=0)
        return start, start + timedelta(hours=self.los_hours)

    @property
    def sla_due_at(self) -> datetime:
        """When the wait becomes a person's problem."""
        return self.requested_at + timedelta(minutes=WAIT_SLA_MINUTES[self.urgency])

    @property
    def exception_priority(self) -> str:
        return EXCEPTION_PRIORITY[self.urgency]

    def place(self, bed_id: str, booking_id: str, now: datetime) -> None:
        if self.status is not AdmissionStatus.WAITING:
            raise InvalidTransition(f"admission {self.id} is {self.status.value}, not waiting")
        self.status, self.bed_id, self.booking_id, self.placed_at = (
            AdmissionStatus.PLACED, bed_id, booking_id, now)
        self.version += 1
        self.events.append(AdmissionPlaced(self.id, bed_id, booking_id, self.site_id))


    def cancel(self, reason: str, by: str) -> None:
        """No bed needed any more (waiting or placed; the caller releases the bed)."""
        if self.status is AdmissionStatus.CANCELLED:
            raise InvalidTransition(f"admission {self.id} is already cancelled")
        if not reason.strip():
            raise InvalidRequest("reason must not be empty", "reason")
        self.status = AdmissionStatus.CANCELLED
        self.version += 1
        self.events.append(AdmissionCancelled(self.id, reason.strip(), by, self.booking_id or ""))


def waiting_order(adm: Admission) -> tuple[int, datetime, str]:
    """Who gets the next bed: the most urgent first, then the longest waiting."""
    return URGENCY_RANK[adm.urgency], adm.requested_at, adm.id


@dataclass(frozen=True, slots=True)
class BedState:
    """A bed's housekeeping status since ``since``; ``task_id`` is the open cleaning task."""

    bed_id: str
    site_id: str
    status: BedStatus
    since: datetime
    task_id: str | None = None
    version: int = 0  # 0: never written (a bed the board has not seen is clean)


def needs_isolation(adm: Admission, patient: Patient) -> bool:
    return adm.isolation or patient.isolation_required


def mismatches(bed: Resource, adm: Admission, patient: Patient) -> list[str]:
    """Why the bed cannot take the patient, whatever the time (empty when it can)."""
    if bed.kind is not ResourceKind.BED or not bed.active:
        return ["not an active bed"]
    profile, out = bed.bed, []
    if bed.site_id != adm.site_id:
        out.append(f"at {bed.site_id}, not {adm.site_id}")
    if adm.unit is not None and profile.unit != adm.unit:
        out.append(f"in unit {profile.unit}, not {adm.unit}")
    if adm.bed_type is not None and profile.bed_type != adm.bed_type:
        out.append(f"a {profile.bed_type} bed, not {adm.bed_type}")
    if profile.gender != "any" and patient.sex in ("female", "male") and profile.gender != patient.sex:
        out.append(f"in a {profile.gender} room")
    if needs_isolation(adm, patient) and not profile.isolation:
        out.append("cannot isolate")
    return out


def penalty(bed: Resource, adm: Admission, patient: Patient) -> float:
    """How much placing the patient in this (suitable) bed costs the beds' flexibility."""
    points = 0.0
    if bed.bed.isolation and not needs_isolation(adm, patient):
        points += ISOLATION_WASTE
    if bed.bed.gender == "any" and patient.sex in ("female", "male"):
        points += OPEN_GENDER_ROOM
    return points
