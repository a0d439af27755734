"""Request and response bodies of the bed-placement API (separate from the domain)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from careflow.api.exception_schemas import ShortId
from careflow.api.schemas import Input, Instant, Text
from careflow.domain.beds import MAX_STAY_HOURS, Admission, RequestAdmission
from careflow.domain.bookings import Urgency
from careflow.services.beds.board import Board

__all__ = ["AdmissionBody", "AdmissionOut", "BoardOut", "CleanedBody", "CleanedOut", "OutOfServiceBody",
           "ReasonBody", "Source", "UrgencyIn"]

Source = Literal["ed", "pacu", "elective", "transfer", "direct"]
UrgencyIn = Literal["routine", "urgent", "emergent"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")]
Hours = Annotated[int, Field(strict=True, ge=1, le=MAX_STAY_HOURS)]


class AdmissionBody(Input):
    """An admission request: the unit or the bed type (unit type) wanted, or both."""

    patient_id: ShortId
    site_id: ShortId
    unit: Name | None = Field(default=None, description="a unit by name (e.g. 4W, ICU)")
    bed_type: Name | None = Field(default=None, description="surgical, medical, icu, step_down, ...")
    isolation: bool = Field(default=False, description="an isolation bed even if the record does not say so")
    wanted_from: Instant | None = Field(default=None, description="when the bed is needed (default: now)")
    expected_los_hours: Hours
    urgency: UrgencyIn = "routine"
    source: Source = "elective"

    def to_domain(self, now: datetime) -> RequestAdmission:
        return RequestAdmission(self.patient_id, self.site_id, self.wanted_from or now,
                                self.expected_los_hours, self.unit, self.bed_type, self.isolation,
                                Urgency(self.urgency), self.source)


class AdmissionOut(BaseModel):
    id: str
    status: str
    patient_id: str
    site_id: str
    unit: str | None
    bed_type: str | None
    isolation: bool
    wanted_from: datetime
    expected_los_hours: int
    urgency: str
    source: str
    requested_at: datetime
    requested_by: str
    sla_due_at: datetime
    bed_id: str | None
    booking_id: str | None
    placed_at: datetime | None
    exception_id: str | None

    @classmethod
    def of(cls, a: Admission) -> AdmissionOut:
        return cls(id=a.id, status=a.status.value, patient_id=a.patient_id, site_id=a.site_id, unit=a.unit,
                   bed_type=a.bed_type, isolation=a.isolation, wanted_from=a.wanted_from,
                   expected_los_hours=a.los_hours, urgency=a.urgency.value, source=a.source,
                   requested_at=a.requested_at, requested_by=a.requested_by, sla_due_at=a.sla_due_at,
                   bed_id=a.bed_id, booking_id=a.booking_id, placed_at=a.placed_at,
                   exception_id=a.exception_id)


class CleanedBody(Input):
    at: Instant | None = Field(default=None, description="when cleaning finished (default: now)")


class ReasonBody(Input):
    reason: Text


OutOfServiceBody = ReasonBody


class CleanedOut(BaseModel):
    bed_id: str
    status: str
    since: datetime
    placed: list[AdmissionOut] = Field(description="admissions placed as the bed came back")


class BoardOut(BaseModel):
    """Per unit, every bed's status now (clean, occupied, dirty, out_of_service) and the
    admissions waiting for one; ids only."""

    site_id: str
    at: datetime
    units: list[dict[str, Any]]
    waiting: list[AdmissionOut]

    @classmethod
    def of(cls, b: Board) -> BoardOut:
        units = [{"unit": u.unit,
                  "counts": {s: u.count(s) for s in ("clean", "occupied", "dirty", "out_of_service")},
                  "beds": [{"bed_id": x.bed_id, "bed_type": x.bed_type, "gender": x.gender,
                            "isolation": x.isolation, "status": x.status,
                            "since": x.since.isoformat() if x.since else None, "booking_id": x.booking_id,
                            "until": x.until.isoformat() if x.until else None, "task_id": x.task_id}
                           for x in u.beds],
                  "waiting": [a.id for a in u.waiting]} for u in b.units]
        return cls(site_id=b.site_id, at=b.at, units=units, waiting=[AdmissionOut.of(a) for a in b.waiting])
