"""The admission and surgical plan of one site over a horizon, in careflow's terms.

The service layer reads the site's data into an ``AdmissionProblem``: the surgical cases
still to book, the operating rooms and surgeons with their free minutes per day, the ward
rooms made of the site's beds, the inpatients already in those beds and the ward nurses.
``plan_admissions`` (admission_plan_solve.py) translates it into an IHTC-2024 instance
(admission_plan_instance.py), solves it with ``ihtc.solve`` and reads the solution back as
an ``AdmissionPlan``: per case its day, operating room, ward room and bed; per shift which
nurse covers which rooms; the IHTC costs and hard violations (``ihtc.score``).

Conventions of the translation (careflow has no field for these; each is one constant here):
- Days are the site's local calendar days ``start .. start + days - 1``; a shift is
  ``early`` 07:00-15:00, ``late`` 15:00-23:00 or ``night`` 23:00-07:00 local (``SHIFTS``).
- A stay occupies every local day it touches: a case with a post-procedure bed of
  ``h`` hours stays ``h // 24 + 1`` days from its surgery day; a bed with bookings in the
  horizon is held from day 0 to the last day of its last booking (the IHTC has no later
  arrivals, so a bed stays held between two stays), one occupant per bed.
- Ages fall in ``AGE_GROUPS`` (child, adult, senior); the acuity of a bed type (``ACUITY``:
  ICU 2, step-down 1, other 0) is the nurse skill level its patients need and, plus one,
  the workload they produce per shift. A nurse's skill level is the highest acuity among
  the bed types in its specialties (a clinician) or skills (a pool).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, time
from typing import Any

from careflow.planning.admission_plan_weights import PlanningWeights

__all__ = [
    "ACUITY",
    "AGE_GROUPS",
    "NURSE_MAX_LOAD",
    "SHIFTS",
    "AdmissionPlan",
    "AdmissionProblem",
    "CaseToPlan",
    "Inpatient",
    "NurseCover",
    "OperatingRoom",
    "PlannedCase",
    "SurgeonDays",
    "UnplannedCase",
    "WardNurse",
    "WardRoom",
    "acuity",
    "age_group",
]

SHIFTS: tuple[tuple[str, time, time], ...] = (
    ("early", time(7), time(15)), ("late", time(15), time(23)), ("night", time(23), time(7)))
AGE_GROUPS: tuple[tuple[str, int], ...] = (("child", 0), ("adult", 18), ("senior", 65))  # (name, from age)
ACUITY: Mapping[str, int] = {"icu": 2, "step_down": 1}
NURSE_MAX_LOAD = 6  # workload units a nurse carries in a shift: six ward patients, two in intensive care


def acuity(bed_type: str) -> int:
    """The nurse skill level a patient in a bed of ``bed_type`` needs."""
    return ACUITY.get(bed_type, 0)


def age_group(age: int) -> int:
    """The index in ``AGE_GROUPS`` of an age in years."""
    return max(i for i, (_, since) in enumerate(AGE_GROUPS) if age >= since)


@dataclass(frozen=True, slots=True)
class CaseToPlan:
    """A surgical case waiting for its day: ``minutes`` of operating room (setup, surgery and
    turnover, counted for the surgeon too), then a ``bed_type`` bed for ``stay_days`` days.

    ``earliest`` and ``latest`` are local dates (the case's wanted window); a mandatory case
    must be operated by ``latest``, an optional one may be left for a later horizon."""

    case_id: str
    patient_id: str
    surgeon_id: str
    service_id: str
    minutes: int
    stay_days: int
    earliest: date
    latest: date
    mandatory: bool
    sex: str  # female, male, other, unknown
    age: int
    bed_type: str
    isolation: bool = False
    capabilities: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OperatingRoom:
    """An operating room with its capabilities and free minutes on each day of the horizon."""

    id: str
    name: str
    capabilities: frozenset[str]
    minutes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SurgeonDays:
    """A surgeon's free operating minutes on each day (availability at the site, within the
    contract's daily hours, less what is already booked)."""

    id: str
    minutes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WardRoom:
    """Beds of one unit sharing a room: its gender assignment (any, female, male) and isolation."""

    id: str
    unit: str
    bed_type: str
    gender: str
    isolation: bool
    bed_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Inpatient:
    """A patient in ``bed_id`` (booking ``booking_id``) from day ``first_day`` until day
    ``last_day`` (inclusive; either may lie outside the horizon)."""

    booking_id: str
    patient_id: str
    bed_id: str
    sex: str
    age: int
    bed_type: str
    first_day: int
    last_day: int


@dataclass(frozen=True)
class WardNurse:
    """A ward nurse (or an anonymous one standing for a pool's headcount) and its shifts:
    (day index, shift name) → the workload it can carry."""

    id: str
    skill_level: int
    shifts: Mapping[tuple[int, str], int] = field(hash=False)


@dataclass(frozen=True)
class AdmissionProblem:
    """Everything the plan of one site over ``days`` local days from ``start`` depends on."""

    site_id: str
    start: date
    days: int
    cases: tuple[CaseToPlan, ...]
    operating_rooms: tuple[OperatingRoom, ...]
    surgeons: tuple[SurgeonDays, ...]
    wards: tuple[WardRoom, ...]
    inpatients: tuple[Inpatient, ...]
    nurses: tuple[WardNurse, ...]
    weights: PlanningWeights = field(default_factory=PlanningWeights)


@dataclass(frozen=True, slots=True)
class PlannedCase:
    """Where and when a case is planned: its surgery day, operating room, ward room and bed."""

    case_id: str
    patient_id: str
    surgeon_id: str
    day: date
    operating_room_id: str
    ward_room_id: str
    bed_id: str | None  # None only when no single bed is free for the whole stay


@dataclass(frozen=True, slots=True)
class UnplannedCase:
    """A case left out of the plan and why (``optional``: the costs made it wait)."""

    case_id: str
    patient_id: str
    mandatory: bool
    reason: str


@dataclass(frozen=True, slots=True)
class NurseCover:
    """The ward rooms ``nurse_id`` covers in one shift."""

    day: date
    shift: str
    nurse_id: str
    room_ids: tuple[str, ...]


@dataclass(frozen=True)
class AdmissionPlan:
    """A proposal: planned and unplanned cases, nurse coverage, and how it scores.

    ``violations`` holds the IHTC hard rules (PROBLEM.md names; ``MandatoryUnscheduledPatients``
    also counts mandatory cases no day could take, left out before solving) and
    ``OperatingRoomCapability`` (a case in a room without a capability its service needs);
    ``costs`` are weighted, ``raw`` unweighted, both by the PROBLEM.md cost names."""

    site_id: str
    start: date
    days: int
    planned: tuple[PlannedCase, ...]
    unplanned: tuple[UnplannedCase, ...]
    coverage: tuple[NurseCover, ...]
    violations: Mapping[str, int]
    costs: Mapping[str, int]
    raw: Mapping[str, int]
    weights: PlanningWeights
    repeatable: bool = True  # the same request and seed give this plan again (the clock cut nothing)

    @property
    def hard_violations(self) -> int:
        """The number of hard violations (0 for a feasible plan)."""
        return sum(self.violations.values())

    @property
    def total_cost(self) -> int:
        return sum(self.costs.values())

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (dates as ISO strings)."""
        def dated(item: Any) -> dict[str, Any]:
            doc = asdict(item)
            doc["day"] = doc["day"].isoformat()
            return doc

        return {"site_id": self.site_id, "start": self.start.isoformat(), "days": self.days,
                "planned": [dated(c) for c in self.planned], "unplanned": [asdict(u) for u in self.unplanned],
                "coverage": [{**dated(n), "room_ids": list(n.room_ids)} for n in self.coverage],
                "hard_violations": self.hard_violations, "violations": dict(self.violations),
                "costs": dict(self.costs), "raw": dict(self.raw), "total_cost": self.total_cost,
                "weights": self.weights.as_dict(), "repeatable": self.repeatable}
