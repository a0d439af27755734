"""Patients (minimal, synthetic) and payer authorizations."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import AuthorizationId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.sites import Position

__all__ = [
    "Authorization",
    "AuthorizationStatus",
    "Patient",
    "Preferences",
]


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the patient asked for; used to rank options, never to refuse them."""

    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    time_of_day: str | None = None  # morning, afternoon, evening
    sites: frozenset[SiteId] = frozenset()
    clinicians: frozenset[ResourceId] = frozenset()
    max_travel_km: float | None = None

    def __post_init__(self) -> None:
        if self.time_of_day not in (None, "morning", "afternoon", "evening"):
            raise InvalidRequest("time_of_day must be morning, afternoon or evening", "time_of_day")


@dataclass(frozen=True, slots=True)
class Patient:
    """Only what scheduling needs: language, home position, preferences, readiness."""

    id: PatientId
    mrn: str
    name: str
    birth_date: date
    sex: str = "unknown"  # female, male, other, unknown
    language: str = "en"
    needs_interpreter: bool = False
    home: Position | None = None
    preferences: Preferences = field(default_factory=Preferences)
    isolation_required: bool = False
    completed_prep: dict[str, date] = field(default_factory=dict, hash=False)
    usual_clinicians: frozenset[ResourceId] = frozenset()
    email: str | None = None  # a contact for the e-mail notification channel (clinical view only)

    @property
    def interpreter_language(self) -> str | None:
        return self.language if self.needs_interpreter else None


class AuthorizationStatus(enum.StrEnum):
    APPROVED = "approved"
    PENDING = "pending"
    DENIED = "denied"
    NOT_REQUIRED = "not_required"


@dataclass(frozen=True, slots=True)
class Authorization:
    """A payer's decision for a patient and service, valid on [valid_from, valid_to]."""

    id: AuthorizationId
    patient_id: PatientId
    service_id: ServiceId
    payer: str
    status: AuthorizationStatus
    valid_from: date | None = None
    valid_to: date | None = None
    reference: str = ""

    def __post_init__(self) -> None:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise InvalidRequest("authorization valid_to is before valid_from", "valid_to")

    def covers(self, day: date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to
