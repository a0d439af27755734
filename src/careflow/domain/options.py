"""Find requests and options: what a scheduler asks for and what careflow proposes.

An ``Option`` is a complete proposal: site, start, one allocation per unit of every
need on the preference card (room, clinicians, pool units, equipment, interpreter, bed)
and the items to reserve. ``find`` returns options ranked with their reasons; ``hold``
and ``book`` accept one back exactly as returned. Booking trusts only the option's
choices (service, patient, site, start, resource per role) and re-derives every
interval from the current preference card, so a stale or edited option cannot book
the wrong length of time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from careflow.domain.bookings import Allocation, ItemReservation, Urgency
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.preference_cards import Need, Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import MAX_WINDOW, from_ts, require_aware, to_ts
from careflow.domain.violations import Violation

__all__ = [
    "Assignment",
    "FindRequest",
    "Option",
    "RankReason",
    "build_allocations",
    "equipment_tail",
]

MAX_OPTIONS = 100


@dataclass(frozen=True, slots=True)
class FindRequest:
    """Find options for ``service`` for ``patient`` starting within [earliest, latest)."""

    service_id: ServiceId
    patient_id: PatientId
    earliest: datetime
    latest: datetime
    site_ids: frozenset[SiteId] = frozenset()
    urgency: Urgency = Urgency.ROUTINE
    preferred_clinicians: frozenset[ResourceId] = frozenset()
    max_travel_km: float | None = None
    limit: int = 10
    reschedule_of: BookingId | None = None  # its own time and resources count as free

    def __post_init__(self) -> None:
        earliest = require_aware(self.earliest, "earliest")
        latest = require_aware(self.latest, "latest")
        object.__setattr__(self, "earliest", earliest)
        object.__setattr__(self, "latest", latest)
        if latest <= earliest:
            raise InvalidRequest("latest must be after earliest", "latest")
        if latest - earliest > MAX_WINDOW:
            raise InvalidRequest(f"the search window is longer than {MAX_WINDOW.days} days", "latest")
        if not 1 <= self.limit <= MAX_OPTIONS:
            raise InvalidRequest(f"limit must be between 1 and {MAX_OPTIONS}", "limit")
        if self.max_travel_km is not None and self.max_travel_km <= 0:
            raise InvalidRequest("max_travel_km must be positive", "max_travel_km")


@dataclass(frozen=True, slots=True)
class RankReason:
    """One term of an option's score: the factor, its raw value and the points it adds."""

    factor: str
    value: float
    points: float
    detail: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """A resource chosen for a role (the lane is chosen by the engine)."""

    role: str
    resource_id: ResourceId


@dataclass(frozen=True, slots=True)
class Option:
    """A complete proposal for one case; ``score`` is a penalty (lower ranks higher)."""

    service_id: ServiceId
    patient_id: PatientId
    site_id: SiteId
    start: datetime
    end: datetime
    allocations: tuple[Allocation, ...]
    items: tuple[ItemReservation, ...] = ()
    urgency: Urgency = Urgency.ROUTINE
    score: float = 0.0
    reasons: tuple[RankReason, ...] = ()
    warnings: tuple[Violation, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "start"))
        object.__setattr__(self, "end", require_aware(self.end, "end"))
        if self.end <= self.start:
            raise InvalidRequest("option end must be after its start", "end")

    @property
    def assignments(self) -> tuple[Assignment, ...]:
        return tuple(Assignment(a.role, a.resource_id) for a in self.allocations)


def equipment_tail(resource: Resource) -> int:
    """Seconds of reprocessing a unit needs after each use (0 for all but equipment)."""
    if resource.kind is ResourceKind.EQUIPMENT:
        return resource.equipment.sterilization_minutes * 60
    return 0


def build_allocations(
    service: Service,
    needs: Sequence[Need],
    start: datetime,
    assignments: Sequence[Assignment],
    resources: Mapping[ResourceId, Resource],
) -> tuple[datetime, tuple[Allocation, ...]]:
    """Derive every allocation's interval from the card, the start and the chosen resources.

    A pool listed ``count`` times in the assignments takes that many lanes; lanes are
    numbered here provisionally and fixed against the store when the booking is written.
    Unknown roles are refused; missing ones are left for the checks to explain.
    """
    start_ts = to_ts(require_aware(start, "start"))
    end_ts = start_ts + service.duration
    by_role = {n.role: n for n in needs}
    allocations: list[Allocation] = []
    lanes: dict[ResourceId, int] = {}
    for a in assignments:
        need = by_role.get(a.role)
        if need is None:
            raise InvalidRequest(
                f"role {a.role!r} is not on the preference card of {service.code}", "allocations")
        resource = resources.get(a.resource_id)
        tail = equipment_tail(resource) if resource is not None else 0
        lo, hi = need.span(start_ts, end_ts, tail)
        lane = lanes.get(a.resource_id, 0)
        lanes[a.resource_id] = lane + 1
        allocations.append(Allocation(a.resource_id, a.role, from_ts(lo), from_ts(hi), lane))
    return from_ts(end_ts), tuple(allocations)

