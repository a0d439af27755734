"""Resources: anything that can be booked for an interval.

One ``Resource`` type with a ``kind`` and a kind-specific profile keeps storage and
checks uniform (every resource has a site, availability and a capacity) while the
profiles carry what only some kinds have: a clinician's credentials, privileges and
contract; a room's type and capabilities; a bed's unit and attributes; equipment's
mobility, sterilization cycle and readiness; a staff pool's role and languages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from careflow.domain.calendars import Availability
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import ResourceId, SiteId

__all__ = [
    "BedProfile",
    "ClinicianProfile",
    "ContractLimits",
    "Credential",
    "EquipmentProfile",
    "Profile",
    "Resource",
    "ResourceKind",
    "RoomProfile",
    "StaffPoolProfile",
    "limit_seconds",
]


class ResourceKind(enum.StrEnum):
    CLINICIAN = "clinician"
    ROOM = "room"
    BED = "bed"
    CHAIR = "chair"
    EQUIPMENT = "equipment"
    STAFF_POOL = "staff_pool"


@dataclass(frozen=True, slots=True)
class Credential:
    """A license or certification, valid through ``expires_on`` (inclusive)."""

    code: str
    expires_on: date

    def valid_on(self, day: date) -> bool:
        return day <= self.expires_on


def limit_seconds(hours: float) -> int:
    """A working-time limit in whole seconds: limits are compared in seconds, and as a float
    ``4.1 * 3600`` is a hair short of 14,760."""
    return round(hours * 3600)


@dataclass(frozen=True, slots=True)
class ContractLimits:
    """Working-time limits. Beyond ``overtime_threshold_week`` needs approval; beyond a max is refused."""

    max_hours_day: float = 12.0
    max_hours_week: float = 60.0
    overtime_threshold_week: float = 40.0

    def __post_init__(self) -> None:
        if not 0 < self.overtime_threshold_week <= self.max_hours_week:
            raise InvalidRequest("overtime threshold must be positive and at most the weekly maximum",
                                 "overtime_threshold_week")
        if self.max_hours_day <= 0:
            raise InvalidRequest("max_hours_day must be positive", "max_hours_day")


@dataclass(frozen=True, slots=True)
class ClinicianProfile:
    """What a clinician is, may do and may work."""

    profession: str  # surgeon, physician, radiologist, anesthesiologist, nurse, ...
    specialties: frozenset[str] = frozenset()
    privileges: frozenset[str] = frozenset()
    credentials: tuple[Credential, ...] = ()
    languages: frozenset[str] = frozenset({"en"})
    contract: ContractLimits = field(default_factory=ContractLimits)

    def credential(self, code: str) -> Credential | None:
        best: Credential | None = None
        for cred in self.credentials:
            if cred.code == code and (best is None or cred.expires_on > best.expires_on):
                best = cred
        return best


@dataclass(frozen=True, slots=True)
class RoomProfile:
    """An operating, exam, imaging or procedure room (also used for infusion bays)."""

    room_type: str  # operating, exam, ct, mri, ultrasound, procedure, infusion
    capabilities: frozenset[str] = frozenset()
    unit: str = ""


@dataclass(frozen=True, slots=True)
class BedProfile:
    """An inpatient bed. ``gender`` is the room's assignment (any, female, male)."""

    unit: str
    bed_type: str  # surgical, medical, icu, step_down, pediatric
    gender: str = "any"
    isolation: bool = False


@dataclass(frozen=True, slots=True)
class EquipmentProfile:
    """Equipment: fixed in a room, or mobile between the rooms of its site.

    ``sterilization_minutes`` is the reprocessing time after each use; ``ready_at``
    is when the unit comes back from sterilization now (None: ready).
    """

    equipment_type: str
    mobile: bool = True
    room_id: ResourceId | None = None
    sterilization_minutes: int = 0
    ready_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.sterilization_minutes < 0:
            raise InvalidRequest("sterilization_minutes cannot be negative", "sterilization_minutes")
        if not self.mobile and self.room_id is None:
            raise InvalidRequest("fixed equipment must name its room", "room_id")


@dataclass(frozen=True, slots=True)
class StaffPoolProfile:
    """A pool of interchangeable staff (pre-op nurses, anesthesia, interpreters).

    The headcount on duty comes from the template blocks' capacities (shift counts).
    """

    role: str
    languages: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()


Profile = ClinicianProfile | RoomProfile | BedProfile | EquipmentProfile | StaffPoolProfile


@dataclass(frozen=True, slots=True)
class Resource:
    """A bookable thing at a site, with availability and a capacity (1 unless a pool)."""

    id: ResourceId
    site_id: SiteId
    kind: ResourceKind
    name: str
    profile: Profile
    availability: Availability = field(default_factory=Availability)
    capacity: int = 1
    active: bool = True

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise InvalidRequest("capacity must be at least 1", "capacity")
        expected = _PROFILE_OF_KIND[self.kind]
        if not isinstance(self.profile, expected):
            raise InvalidRequest(
                f"a {self.kind.value} needs a {expected.__name__}, not {type(self.profile).__name__}",
                "profile",
            )

    @property
    def laned(self) -> bool:
        """Whether each unit is a lane a case holds throughout (a pool, or anything of capacity
        above 1), not a headcount checked at each instant."""
        return self.kind is ResourceKind.STAFF_POOL or self.capacity > 1

    @property
    def clinician(self) -> ClinicianProfile:
        assert isinstance(self.profile, ClinicianProfile)
        return self.profile

    @property
    def room(self) -> RoomProfile:
        assert isinstance(self.profile, RoomProfile)
        return self.profile

    @property
    def bed(self) -> BedProfile:
        assert isinstance(self.profile, BedProfile)
        return self.profile

    @property
    def equipment(self) -> EquipmentProfile:
        assert isinstance(self.profile, EquipmentProfile)
        return self.profile

    @property
    def pool(self) -> StaffPoolProfile:
        assert isinstance(self.profile, StaffPoolProfile)
        return self.profile


_PROFILE_OF_KIND: dict[ResourceKind, type] = {
    ResourceKind.CLINICIAN: ClinicianProfile,
    ResourceKind.ROOM: RoomProfile,
    ResourceKind.CHAIR: RoomProfile,
    ResourceKind.BED: BedProfile,
    ResourceKind.EQUIPMENT: EquipmentProfile,
    ResourceKind.STAFF_POOL: StaffPoolProfile,
}
