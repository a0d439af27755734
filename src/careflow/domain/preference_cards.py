"""Services and their preference cards: what a visit or procedure needs.

A ``Service`` is what can be booked. Its card lists clinician roles, staff-pool roles,
the room, equipment, implants and supplies, the duration with setup and turnover
buffers, prerequisites and a post-procedure bed. ``Service.needs()`` flattens the card
into ``Need``s: one per role, each with the resource kind it takes, how many, and the
part of the case it covers, relative to the case's start and end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import ServiceId
from careflow.domain.resources import ResourceKind
from careflow.domain.sites import SiteKind

__all__ = [
    "Anchor",
    "BedRequirement",
    "BookingWindow",
    "EquipmentRequirement",
    "ItemRequirement",
    "Need",
    "PrepItem",
    "Prerequisites",
    "RoleRequirement",
    "RoomRequirement",
    "Service",
    "ServiceKind",
    "StaffRequirement",
]


class ServiceKind(enum.StrEnum):
    VISIT = "visit"
    PROCEDURE = "procedure"
    SURGERY = "surgery"
    IMAGING = "imaging"
    INFUSION = "infusion"


@dataclass(frozen=True, slots=True)
class RoleRequirement:
    """Clinicians in a role: ``count`` of ``profession``, with specialty and privilege."""

    role: str
    profession: str
    count: int = 1
    specialty: str | None = None
    privilege: str | None = None
    credentials: frozenset[str] = frozenset({"license"})


@dataclass(frozen=True, slots=True)
class StaffRequirement:
    """Units from a staff pool (pre-op nurses, anesthesia, technologists)."""

    role: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class RoomRequirement:
    """The room (or chair, for ``kind`` chair) the case takes, with capabilities."""

    room_type: str
    capabilities: frozenset[str] = frozenset()
    kind: ResourceKind = ResourceKind.ROOM


@dataclass(frozen=True, slots=True)
class EquipmentRequirement:
    equipment_type: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class ItemRequirement:
    """An implant or supply consumed by the case, reserved at booking."""

    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise InvalidRequest(f"quantity of {self.sku} must be positive", "quantity")


@dataclass(frozen=True, slots=True)
class BedRequirement:
    """A post-procedure bed of ``bed_type`` for the expected length of stay."""

    bed_type: str
    los_hours: int

    def __post_init__(self) -> None:
        if self.los_hours <= 0:
            raise InvalidRequest("expected length of stay must be positive", "los_hours")


@dataclass(frozen=True, slots=True)
class PrepItem:
    """A readiness item (clearance, labs, consent) due ``due_days_before`` the case."""

    code: str
    due_days_before: int = 0


@dataclass(frozen=True, slots=True)
class Prerequisites:
    authorization: bool = False
    prep: tuple[PrepItem, ...] = ()
    interpreter: bool = True  # provide one when the patient needs it


@dataclass(frozen=True, slots=True)
class BookingWindow:
    """How soon and how far ahead the service may be booked."""

    min_lead_minutes: int = 0
    max_days_ahead: int = 365


class Anchor(enum.StrEnum):
    """What a need's interval is measured from."""

    CASE = "case"  # [start - before, end + after)
    AFTER = "after"  # [end, end + after): the post-procedure bed


@dataclass(frozen=True, slots=True)
class Need:
    """One role of a case: which kind of resource, how many, for which part of the case."""

    role: str
    kind: ResourceKind
    count: int
    before: int = 0  # seconds before the case start
    after: int = 0  # seconds after the case end (or the stay, for Anchor.AFTER)
    anchor: Anchor = Anchor.CASE
    clinician: RoleRequirement | None = None
    room: RoomRequirement | None = None
    equipment_type: str | None = None
    pool_role: str | None = None
    bed: BedRequirement | None = None
    language: str | None = None

    def span(self, start: int, end: int, tail: int = 0) -> tuple[int, int]:
        """The interval this need occupies for a case ``[start, end)``; ``tail`` adds reprocessing."""
        if self.anchor is Anchor.AFTER:
            return (end, end + self.after)
        return (start - self.before, end + self.after + tail)


@dataclass(frozen=True, slots=True)
class Service:
    """A bookable visit type or procedure with its preference card."""

    id: ServiceId
    code: str
    name: str
    kind: ServiceKind
    duration_minutes: int
    specialty: str | None = None
    setup_minutes: int = 0
    turnover_minutes: int = 0
    roles: tuple[RoleRequirement, ...] = ()
    staff: tuple[StaffRequirement, ...] = ()
    room: RoomRequirement | None = None
    equipment: tuple[EquipmentRequirement, ...] = ()
    items: tuple[ItemRequirement, ...] = ()
    prerequisites: Prerequisites = field(default_factory=Prerequisites)
    bed: BedRequirement | None = None
    window: BookingWindow = field(default_factory=BookingWindow)
    site_kinds: frozenset[SiteKind] = frozenset()
    slot_minutes: int = 15
    active: bool = True

    def __post_init__(self) -> None:
        if self.duration_minutes <= 0:
            raise InvalidRequest("duration_minutes must be positive", "duration_minutes")
        if self.setup_minutes < 0 or self.turnover_minutes < 0:
            raise InvalidRequest("buffers cannot be negative", "setup_minutes")
        if not 1 <= self.slot_minutes <= 240:
            raise InvalidRequest("slot_minutes must be between 1 and 240", "slot_minutes")
        counts = [r.count for r in self.roles] + [s.count for s in self.staff]
        counts += [e.count for e in self.equipment]
        if any(c <= 0 for c in counts):
            raise InvalidRequest("every role count must be positive", "count")
        skus = [i.sku for i in self.items]
        if len(skus) != len(set(skus)):
            raise InvalidRequest(f"each item may appear once on a preference card: {skus}", "items")
        roles = [n.role for n in self.needs("any")]  # with the interpreter a patient may need
        if len(roles) != len(set(roles)):
            raise InvalidRequest(f"roles on a preference card must be unique: {roles}", "roles")

    @property
    def duration(self) -> int:
        """Case duration in seconds."""
        return self.duration_minutes * 60

    def needs(self, interpreter_language: str | None) -> list[Need]:
        """The card as needs; an interpreter need is added for a patient who requires one."""
        needs: list[Need] = []
        if self.room is not None:
            needs.append(Need(role="room", kind=self.room.kind, count=1,
                              before=self.setup_minutes * 60, after=self.turnover_minutes * 60,
                              room=self.room))
        needs.extend(Need(role=r.role, kind=ResourceKind.CLINICIAN, count=r.count, clinician=r)
                     for r in self.roles)
        needs.extend(Need(role=s.role, kind=ResourceKind.STAFF_POOL, count=s.count,
                          pool_role=s.role) for s in self.staff)
        needs.extend(Need(role=e.equipment_type, kind=ResourceKind.EQUIPMENT, count=e.count,
                          equipment_type=e.equipment_type) for e in self.equipment)
        if interpreter_language is not None and self.prerequisites.interpreter:
            needs.append(Need(role="interpreter", kind=ResourceKind.STAFF_POOL, count=1,
                              pool_role="interpreter", language=interpreter_language))
        if self.bed is not None:
            needs.append(Need(role="bed", kind=ResourceKind.BED, count=1,
                              after=self.bed.los_hours * 3600, anchor=Anchor.AFTER, bed=self.bed))
        return needs
