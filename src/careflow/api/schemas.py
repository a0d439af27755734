"""Wire schemas (pydantic), kept apart from the domain objects they carry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from careflow.domain.bookings import Allocation, Booking, ItemReservation, Urgency
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import FindRequest, Option, RankReason
from careflow.domain.violations import Violation

T = TypeVar("T")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    violations: list[ViolationOut] | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class ViolationOut(BaseModel):
    code: str
    severity: Literal["hard", "soft"]
    subject: str
    message: str
    remedy: str
    role: str | None = None

    @classmethod
    def of(cls, v: Violation) -> ViolationOut:
        return cls(code=v.code.value, severity=v.severity.value, subject=v.subject,
                   message=v.message, remedy=v.remedy, role=v.role)


class AllocationIO(BaseModel):
    resource_id: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=100)
    start: AwareDatetime
    end: AwareDatetime
    lane: int = Field(default=0, ge=0)

    @classmethod
    def of(cls, a: Allocation) -> AllocationIO:
        return cls(resource_id=a.resource_id, role=a.role, start=a.start, end=a.end, lane=a.lane)

    def to_domain(self) -> Allocation:
        return Allocation(ResourceId(self.resource_id), self.role, self.start, self.end, self.lane)


class ItemIO(BaseModel):
    sku: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0, le=10_000)


class RankReasonOut(BaseModel):
    factor: str
    value: float
    points: float
    detail: str

    @classmethod
    def of(cls, r: RankReason) -> RankReasonOut:
        return cls(factor=r.factor, value=r.value, points=r.points, detail=r.detail)


class OptionIO(BaseModel):
    """An option as ``find`` returns it; ``hold`` and ``book`` accept it back unchanged."""

    model_config = ConfigDict(extra="ignore")

    service_id: str = Field(min_length=1, max_length=200)
    patient_id: str = Field(min_length=1, max_length=200)
    site_id: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    urgency: Urgency = Urgency.ROUTINE
    allocations: list[AllocationIO] = Field(min_length=1, max_length=200)
    items: list[ItemIO] = Field(default_factory=list, max_length=200)
    rank: int | None = None
    score: float | None = None
    reasons: list[RankReasonOut] = Field(default_factory=list)
    warnings: list[ViolationOut] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> OptionIO:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        for a in self.allocations:
            if a.end <= a.start:
                raise ValueError(f"allocation for {a.role} ends before it starts")
        return self

    @classmethod
    def of(cls, o: Option, rank: int | None = None) -> OptionIO:
        return cls(service_id=o.service_id, patient_id=o.patient_id, site_id=o.site_id, start=o.start,
                   end=o.end, urgency=o.urgency, allocations=[AllocationIO.of(a) for a in o.allocations],
                   items=[ItemIO(sku=i.sku, quantity=i.quantity) for i in o.items], rank=rank,
                   score=o.score, reasons=[RankReasonOut.of(r) for r in o.reasons],
                   warnings=[ViolationOut.of(v) for v in o.warnings])

    def to_domain(self) -> Option:
        return Option(ServiceId(self.service_id), PatientId(self.patient_id), SiteId(self.site_id),
                      self.start, self.end, tuple(a.to_domain() for a in self.allocations),
                      tuple(ItemReservation(i.sku, i.quantity) for i in self.items), self.urgency)


class FindBody(BaseModel):
    """Find options for a service for a patient. Give ``earliest``/``latest`` or ``within_days``."""

    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, max_length=200, description="service id or code")
    patient_id: str = Field(min_length=1, max_length=200)
    earliest: AwareDatetime | None = Field(default=None, description="default: now")
    latest: AwareDatetime | None = Field(default=None, description="default: earliest + within_days")
    within_days: int = Field(default=14, ge=1, le=366)
    site_ids: list[str] = Field(default_factory=list, max_length=500)
    urgency: Urgency = Urgency.ROUTINE
    preferred_clinician_ids: list[str] = Field(default_factory=list, max_length=100)
    max_travel_km: float | None = Field(default=None, gt=0, le=20_000)
    limit: int = Field(default=10, ge=1, le=100)

    def to_domain(self, now: datetime) -> FindRequest:
        earliest = self.earliest or now
        latest = self.latest or earliest + timedelta(days=self.within_days)
        return FindRequest(ServiceId(self.service_id), PatientId(self.patient_id), earliest, latest,
                           frozenset(SiteId(s) for s in self.site_ids), self.urgency,
                           frozenset(ResourceId(c) for c in self.preferred_clinician_ids),
                           self.max_travel_km, self.limit)


class FindOut(BaseModel):
    options: list[OptionIO]
    blockers: list[ViolationOut]
    considered: int
    earliest: datetime
    latest: datetime


class OverrideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CheckBody(BaseModel):
    option: OptionIO


class CheckOut(BaseModel):
    ok: bool
    bookable_with_override: bool
    violations: list[ViolationOut]


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    option: OptionIO
    hold_minutes: int | None = Field(default=None, ge=1, le=1440)
    override: OverrideIn | None = None


class BookBody(BaseModel):
    """Book from a hold (``hold_id``) or straight from an option (``option``)."""

    model_config = ConfigDict(extra="forbid")

    hold_id: str | None = Field(default=None, min_length=1, max_length=200)
    option: OptionIO | None = None
    override: OverrideIn | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BookBody:
        if (self.hold_id is None) == (self.option is None):
            raise ValueError("give exactly one of hold_id or option")
        return self


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class RescheduleBody(BaseModel):
    option: OptionIO
    reason: str = Field(min_length=1, max_length=2000)
    override: OverrideIn | None = None


class OverrideOut(BaseModel):
    codes: list[str]
    reason: str
    by: str
    at: datetime


class BookingOut(BaseModel):
    id: str
    status: str
    patient_id: str
    service_id: str
    site_id: str
    start: datetime
    end: datetime
    urgency: str
    expires_at: datetime | None
    allocations: list[AllocationIO]
    items: list[ItemIO]
    overrides: list[OverrideOut]
    rule_version: str
    created_at: datetime | None
    created_by: str
    reason: str
    version: int

    @classmethod
    def of(cls, b: Booking) -> BookingOut:
        return cls(id=b.id, status=b.status.value, patient_id=b.patient_id, service_id=b.service_id,
                   site_id=b.site_id, start=b.start, end=b.end, urgency=b.urgency.value,
                   expires_at=b.expires_at, allocations=[AllocationIO.of(a) for a in b.allocations],
                   items=[ItemIO(sku=i.sku, quantity=i.quantity) for i in b.items],
                   overrides=[OverrideOut(codes=list(o.codes), reason=o.reason, by=o.by, at=o.at)
                              for o in b.overrides],
                   rule_version=b.rule_version, created_at=b.created_at, created_by=b.created_by,
                   reason=b.reason, version=b.version)


JSON = dict[str, Any]
