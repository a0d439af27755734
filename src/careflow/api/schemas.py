"""Wire schemas (pydantic), kept apart from the domain objects they carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from careflow.domain.bookings import Allocation, Booking, ItemReservation, Urgency
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import FindRequest, Option, RankReason
from careflow.domain.violations import Violation

T = TypeVar("T")

# --- input types shared by every body, query and path ----------------------------------
#
# Instants are bounded so that no date arithmetic downstream (weeks around a case, days
# around a window, local dates in a site's zone) can leave the range Python's datetime
# represents: year 1 or 9999 used to be a 500. Identifiers and free text refuse control
# characters: PostgreSQL cannot store NUL, and no id or reason needs the others.

EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)
ID_PATTERN = r"^[^\u0000-\u001f\u007f]+$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
_TEXT_ALLOWED = frozenset("\t\n\r")


def _iso_text(value: Any) -> Any:
    """Refuse numbers for instants (pydantic would read 20260601 as seconds after 1970)."""
    numeric = isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    if isinstance(value, (int, float)) or numeric:  # a query string "0.5" is a number too
        raise PydanticCustomError(
            "datetime_type", "must be an ISO 8601 string with a UTC offset, e.g. 2026-12-01T08:00:00-05:00")
    return value


def _in_range(value: datetime) -> datetime:
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise PydanticCustomError(
            "datetime_range", "must be between {earliest} and {latest} (UTC)",
            {"earliest": EARLIEST_INSTANT.date().isoformat(), "latest": LATEST_INSTANT.date().isoformat()})
    return value


def no_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> str:
    """Refuse control characters (NUL, ESC, ...) in an id or a search term."""
    bad = next((c for c in value if (c < " " or c == "\x7f") and c not in allowed), None)
    if bad is not None:
        raise PydanticCustomError("control_character", "must not contain control characters (found {char})",
                                  {"char": repr(bad)})
    return value


def _text(value: str) -> str:
    return no_control_characters(value, _TEXT_ALLOWED)


def _after_start(end: datetime, info: ValidationInfo) -> datetime:
    """An ``end`` field validator: refuse an end that is not after the ``start`` beside it."""
    start = info.data.get("start")
    if start is not None and end <= start:
        raise PydanticCustomError("end_before_start", "must be after start")
    return end


def clean_optional(value: str | None) -> str | None:
    """``no_control_characters`` for an optional query parameter."""
    return None if value is None else no_control_characters(value)


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_range),
                    Field(description="ISO 8601 with a UTC offset, between 1970-01-01 and 2200-01-01")]
Id = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": ID_PATTERN}),
               AfterValidator(no_control_characters)]
Text = Annotated[str, Field(min_length=1, max_length=2000, json_schema_extra={"pattern": TEXT_PATTERN}),
                 AfterValidator(_text)]
Count = Annotated[int, Field(strict=True)]
MAX_LANE = 100_000  # no resource has this many units; lanes are re-derived on booking anyway


class Input(BaseModel):
    """A request body: unknown fields are refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    errors: list[FieldError] | None = None
    violations: list[ViolationOut] | None = None
    permission: str | None = None


class FieldError(BaseModel):
    field: str
    message: str


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
    resource_id: Id
    role: Annotated[Id, Field(max_length=100)]
    start: Instant
    end: Instant
    lane: Count = Field(default=0, ge=0, le=MAX_LANE)

    _ordered = field_validator("end")(_after_start)

    @classmethod
    def of(cls, a: Allocation) -> AllocationIO:
        return cls(resource_id=a.resource_id, role=a.role, start=a.start, end=a.end, lane=a.lane)

    def to_domain(self) -> Allocation:
        return Allocation(ResourceId(self.resource_id), self.role, self.start, self.end, self.lane)


class ItemIO(BaseModel):
    sku: Id
    quantity: Count = Field(gt=0, le=10_000)


class AllocationOut(BaseModel):
    """An allocation as stored (output only: no input constraints to trip over)."""

    resource_id: str
    role: str
    start: datetime
    end: datetime
    lane: int

    @classmethod
    def of(cls, a: Allocation) -> AllocationOut:
        return cls(resource_id=a.resource_id, role=a.role, start=a.start, end=a.end, lane=a.lane)


class ItemOut(BaseModel):
    sku: str
    quantity: int


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

    service_id: Id
    patient_id: Id
    site_id: Id
    start: Instant
    end: Instant
    urgency: Urgency = Urgency.ROUTINE
    allocations: list[AllocationIO] = Field(min_length=1, max_length=200)
    items: list[ItemIO] = Field(default_factory=list, max_length=200)
    rank: Count | None = None
    score: float | None = None
    reasons: list[RankReasonOut] = Field(default_factory=list, max_length=200)
    warnings: list[ViolationOut] = Field(default_factory=list, max_length=200)

    _ordered = field_validator("end")(_after_start)

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


class FindBody(Input):
    """Find options for a service for a patient. Give ``earliest``/``latest`` or ``within_days``."""

    service_id: Id = Field(description="service id or code")
    patient_id: Id
    earliest: Instant | None = Field(default=None, description="default: now")
    latest: Instant | None = Field(default=None, description="default: earliest + within_days")
    within_days: Count = Field(default=14, ge=1, le=366)
    site_ids: list[Id] = Field(default_factory=list, max_length=500)
    urgency: Urgency = Urgency.ROUTINE
    preferred_clinician_ids: list[Id] = Field(default_factory=list, max_length=100)
    max_travel_km: float | None = Field(default=None, gt=0, le=20_000, strict=True, allow_inf_nan=False)
    limit: Count = Field(default=10, ge=1, le=100)
    reschedule_of: Id | None = Field(
        default=None, description="a booking being moved: its own time and resources count as free")

    def to_domain(self, now: datetime) -> FindRequest:
        earliest = self.earliest or now
        latest = self.latest or earliest + timedelta(days=self.within_days)
        return FindRequest(ServiceId(self.service_id), PatientId(self.patient_id), earliest, latest,
                           frozenset(SiteId(s) for s in self.site_ids), self.urgency,
                           frozenset(ResourceId(c) for c in self.preferred_clinician_ids),
                           self.max_travel_km, self.limit,
                           BookingId(self.reschedule_of) if self.reschedule_of else None)


class FindOut(BaseModel):
    options: list[OptionIO]
    blockers: list[ViolationOut]
    considered: int
    proven: bool = Field(description="no slot that could rank in the top `limit` went unchecked, and each "
                                     "option's people and units are the proven cheapest at its start")
    cp_sat: bool = Field(False, description="checking slots one by one ran out of its budget, and CP-SAT "
                                            "ranked every start, room and team that could still rank")
    earliest: datetime
    latest: datetime


class OverrideIn(Input):
    reason: Text


class CheckBody(Input):
    option: OptionIO


class CheckOut(BaseModel):
    ok: bool
    bookable_with_override: bool
    violations: list[ViolationOut]


class HoldBody(Input):
    option: OptionIO
    hold_minutes: Count | None = Field(default=None, ge=1, le=1440)
    override: OverrideIn | None = None


class BookBody(Input):
    """Book from a hold (``hold_id``) or straight from an option (``option``)."""

    hold_id: Id | None = None
    option: OptionIO | None = None
    override: OverrideIn | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BookBody:
        if (self.hold_id is None) == (self.option is None):
            raise PydanticCustomError("one_source", "give exactly one of hold_id or option")
        return self


class CancelBody(Input):
    reason: Text


class RescheduleBody(Input):
    option: OptionIO
    reason: Text
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
    allocations: list[AllocationOut]
    items: list[ItemOut]
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
                   expires_at=b.expires_at, allocations=[AllocationOut.of(a) for a in b.allocations],
                   items=[ItemOut(sku=i.sku, quantity=i.quantity) for i in b.items],
                   overrides=[OverrideOut(codes=list(o.codes), reason=o.reason, by=o.by, at=o.at)
                              for o in b.overrides],
                   rule_version=b.rule_version, created_at=b.created_at, created_by=b.created_by,
                   reason=b.reason, version=b.version)


JSON = dict[str, Any]
