"""The day-of-surgery sequencing problem and its result, in careflow's vocabulary.

A ``DayProblem`` is one site's operating day: the cases booked (or held) in its rooms,
each with the resources it holds (surgeon, anesthesia, staff pools, shared equipment),
the rooms' open hours, every other resource's hours on duty, and what other bookings
already hold of them (``FixedUse``). Instants are POSIX seconds (``Span``), as in the
domain; the model works in whole minutes from ``origin`` (the local day's start).

A room holds a case over ``[start - setup, end + turnover)`` (the preference card's
buffers, exactly what the booking core allocates), equipment over ``[start, end + tail)``
(its reprocessing), clinicians and pools over ``[start, end)``. A staff pool (and anything of
capacity above 1) is also ``lanes`` single lanes, as the booking core keeps it: a case holds
one lane throughout, lane i is on duty while the headcount exceeds i, and a case that does not
move keeps its lanes; so a headcount that suffices at every instant is not enough when no one lane is
free for the whole case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import BookingId, PatientId, ResourceId
from careflow.domain.timespans import Span

__all__ = [
    "CasePlan",
    "DayCase",
    "DayProblem",
    "FixedUse",
    "Penalty",
    "RoomDay",
    "SequenceResult",
    "Shared",
    "SharedKind",
    "SolveStatus",
    "Use",
    "Weights",
]


class SharedKind(enum.StrEnum):
    """What a non-room resource is to the day: the rule that keeps it within its capacity."""

    SURGEON = "surgeon"  # a clinician in one room at a time
    ANESTHESIA = "anesthesia"  # an anesthesiologist (supervision ratio) or the anesthesia pool
    EQUIPMENT = "equipment"  # shared or mobile equipment, with its reprocessing tail
    STAFF = "staff"  # any other staff pool the cases draw on


@dataclass(frozen=True, slots=True)
class FixedUse:
    """``units`` of a resource held over ``span`` by something the plan does not move."""

    span: Span
    units: int = 1
    what: str = ""  # a booking id, or why the resource is held
    lane: int | None = None  # the pool lane it holds (pools with ``lanes``)


@dataclass(frozen=True, slots=True)
class RoomDay:
    """An operating room's day: its open hours (sorted, disjoint) and what else holds it."""

    id: ResourceId
    open: tuple[Span, ...]
    room_type: str = "operating"
    capabilities: frozenset[str] = frozenset()
    fixed: tuple[FixedUse, ...] = ()

    @property
    def opens(self) -> int | None:
        return self.open[0][0] if self.open else None

    @property
    def closes(self) -> int | None:
        return self.open[-1][1] if self.open else None


@dataclass(frozen=True, slots=True)
class Shared:
    """A surgeon, anesthesia, staff pool or piece of equipment the day's cases share.

    ``on_duty`` is the capacity as a step function ``(start, end, units)`` (a clinician's
    hours; a pool's headcount; equipment out of maintenance); outside it the capacity is 0.
    """

    id: ResourceId
    kind: SharedKind
    on_duty: tuple[tuple[int, int, int], ...]
    tail: int = 0  # seconds held after each case (equipment reprocessing)
    fixed: tuple[FixedUse, ...] = ()
    lanes: int = 0  # a pool's (or multi-unit resource's) lanes: lane i is on duty while capacity exceeds i

    def __post_init__(self) -> None:
        if self.lanes < 0 or any(f.lane is not None and not 0 <= f.lane < max(self.lanes, 1)
                                 for f in self.fixed):
            raise InvalidRequest(f"{self.id}: a lane outside the pool", "lanes")

    @property
    def capacity(self) -> int:
        return max((c for _, _, c in self.on_duty), default=0)


@dataclass(frozen=True, slots=True)
class Use:
    """A case's demand on a shared resource: ``units`` of it."""

    resource_id: ResourceId
    units: int = 1
    lanes: tuple[int, ...] = ()  # the pool lanes the case holds as booked


@dataclass(frozen=True, slots=True)
class DayCase:
    """One booked case: where and when it is booked, what it holds, how it may move."""

    booking_id: BookingId
    patient_id: PatientId
    service_code: str
    room_id: ResourceId
    start: int  # booked start (POSIX seconds)
    duration: int  # seconds
    setup: int = 0
    turnover: int = 0
    uses: tuple[Use, ...] = ()
    priority: tuple[str, ...] = ()  # why it should go early: "child", "urgent", "emergent"
    rooms: tuple[ResourceId, ...] = ()  # other rooms it may move to (their capabilities fit)
    locked: bool = False  # under way or otherwise not to be moved
    earliest_move: int | None = None  # a moved start may not be earlier (the booking notice)

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise InvalidRequest(f"case {self.booking_id} has no duration", "duration")
        if self.setup < 0 or self.turnover < 0:
            raise InvalidRequest(f"case {self.booking_id} has a negative buffer", "setup")

    @property
    def end(self) -> int:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Weights:
    """Soft-constraint weights (cost per unit of each penalty; 0 switches a term off)."""

    overtime_minute: int = 10  # per minute a room runs past its close
    surgeon_idle_minute: int = 1  # per minute a surgeon waits between their first and last case
    room_idle_minute: int = 1  # per minute a room stands empty between its first and last case
    priority_late_minute: int = 2  # per minute a priority case starts after its room opens
    moved_case: int = 30  # per case whose start or room changes
    moved_minute: int = 1  # per minute a case's start moves
    room_change: int = 60  # per case put in another room

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 10_000:
                raise InvalidRequest(f"weight {name} must be a whole number from 0 to 10000", name)


@dataclass(frozen=True, slots=True)
class DayProblem:
    """One site's operating day to sequence, and the policy to sequence it by."""

    origin: int  # the local day's start (POSIX seconds); minutes count from here
    horizon: int  # seconds after ``origin`` the day may run to
    rooms: tuple[RoomDay, ...]
    shared: tuple[Shared, ...]
    cases: tuple[DayCase, ...]
    weights: Weights = field(default_factory=Weights)
    overtime_allowance: int = 0  # seconds a room may run past its close (then penalized)
    allow_room_change: bool = False
    allow_swaps: bool = False  # moves that cannot be applied one case at a time (see sequencing_order)
    timezone: str = "UTC"  # the site's, for the times in explanations

    def __post_init__(self) -> None:
        if self.horizon <= 0:
            raise InvalidRequest("the day's horizon must be positive", "horizon")
        if self.overtime_allowance < 0:
            raise InvalidRequest("the overtime allowance cannot be negative", "overtime_allowance")
        ids = [c.booking_id for c in self.cases]
        if len(ids) != len(set(ids)):
            raise InvalidRequest("each case may appear once", "cases")
        rooms = {r.id for r in self.rooms}
        shared = {s.id for s in self.shared}
        for c in self.cases:
            if c.room_id not in rooms or any(r not in rooms for r in c.rooms):
                raise InvalidRequest(f"case {c.booking_id} names a room not in the day", "cases")
            if any(u.resource_id not in shared for u in c.uses):
                raise InvalidRequest(f"case {c.booking_id} uses a resource not in the day", "cases")

    def room(self, room_id: str) -> RoomDay:
        return next(r for r in self.rooms if r.id == room_id)

    def resource(self, resource_id: str) -> Shared:
        return next(s for s in self.shared if s.id == resource_id)


class SolveStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a proposal, not proven best within the time limit
    INFEASIBLE = "infeasible"  # no order keeps every hard rule: see the explanation
    UNKNOWN = "unknown"  # the time limit ran out before any proposal was found


@dataclass(frozen=True, slots=True)
class CasePlan:
    """Where and when the proposal puts one case, against where it is booked, and why."""

    booking_id: BookingId
    patient_id: PatientId
    service_code: str
    room_id: ResourceId
    order: int  # 1-based position in its room
    start: int
    end: int
    booked_room_id: ResourceId
    booked_start: int
    reasons: tuple[str, ...] = ()

    @property
    def moved_minutes(self) -> int:
        return (self.start - self.booked_start) // 60

    @property
    def moved(self) -> bool:
        return self.start != self.booked_start or self.room_id != self.booked_room_id


@dataclass(frozen=True, slots=True)
class Penalty:
    """One soft constraint's share of the objective: ``amount`` units at ``weight`` each."""

    name: str
    amount: int
    weight: int
    detail: str = ""

    @property
    def cost(self) -> int:
        return self.amount * self.weight


@dataclass(frozen=True, slots=True)
class SequenceResult:
    """The proposal: status, objective, penalties, each case's place, and explanations."""

    status: SolveStatus
    objective: int | None
    cases: tuple[CasePlan, ...] = ()
    penalties: tuple[Penalty, ...] = ()
    booked_penalties: tuple[Penalty, ...] = ()  # the same terms for the day as booked
    explanation: tuple[str, ...] = ()
    seconds: float = 0.0
    seed: int = 0
    time_limit: float = 0.0

    @property
    def moved(self) -> tuple[CasePlan, ...]:
        return tuple(c for c in self.cases if c.moved)

    @property
    def has_proposal(self) -> bool:
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
