"""The IHTC-2024 scorer: every hard violation and weighted cost exactly as PROBLEM.md (and
the official validator) defines them, one function per rule.

Each rule reads a ``Plan``: who is in which room on which day, and which nurse covers which
room in which shift, built once from an instance and a solution. A hard rule returns its
violation count (minutes for the two overtime rules, people for capacity and gender mix);
a soft rule returns its raw value, which ``score`` multiplies by the rule's weight.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from careflow.planning.ihtc.instance import Instance
from careflow.planning.ihtc.solution import Admission, Solution

__all__ = ["COSTS", "HARD", "Plan", "Score", "Stay", "score"]


@dataclass(frozen=True, slots=True)
class Stay:
    """A patient or occupant in ``room_id`` from ``first_day`` to ``end_day`` (exclusive, clipped
    to the horizon); its per-shift data starts at shift ``first_day * shifts_per_day``."""

    id: str
    gender: str
    age: int
    room_id: str
    first_day: int
    end_day: int
    first_shift: int
    workload_produced: tuple[int, ...]
    skill_level_required: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """A solution laid out for scoring."""

    instance: Instance
    solution: Solution
    admitted: dict[str, Admission]
    stays: list[Stay]
    in_room: dict[tuple[str, int], list[Stay]] = field(default_factory=dict)  # (room, day) -> people
    room_nurse: dict[tuple[str, int], str] = field(default_factory=dict)  # (room, shift) -> nurse
    nurse_rooms: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # (nurse, shift) -> rooms

    @classmethod
    def of(cls, instance: Instance, solution: Solution) -> Plan:
        spd = instance.shifts_per_day
        admitted = {a.patient_id: a for a in solution.admissions}
        stays = [Stay(o.id, o.gender, o.age, o.room_id, 0, min(o.length_of_stay, instance.days), 0,
                      o.workload_produced, o.skill_level_required) for o in instance.occupants]
        for a in solution.admissions:
            p = instance.patients_by_id[a.patient_id]
            end = min(a.day + p.length_of_stay, instance.days)
            stays.append(Stay(p.id, p.gender, p.age, a.room_id, a.day, end, a.day * spd,
                              p.workload_produced, p.skill_level_required))
        plan = cls(instance, solution, admitted, stays)
        for stay in stays:
            for day in range(stay.first_day, stay.end_day):
                plan.in_room.setdefault((stay.room_id, day), []).append(stay)
        for n in solution.assignments:
            s = instance.shift_index(n.day, n.shift)
            for room in n.room_ids:
                plan.room_nurse[room, s] = n.nurse_id
                plan.nurse_rooms.setdefault((n.nurse_id, s), []).append(room)
        return plan

    def people(self, room: str, day: int) -> list[Stay]:
        return self.in_room.get((room, day), [])

    def shifts_of(self, stay: Stay) -> range:
        spd = self.instance.shifts_per_day
        return range(stay.first_day * spd, stay.end_day * spd)


# Hard rules


def mandatory_unscheduled_patients(plan: Plan) -> int:
    """Mandatory patients not admitted."""
    return sum(1 for p in plan.instance.patients if p.mandatory and p.id not in plan.admitted)


def admission_day(plan: Plan) -> int:
    """Patients admitted before their release day or after their last admission day."""
    patients = plan.instance.patients_by_id
    return sum(1 for a in plan.admitted.values() if not (
        patients[a.patient_id].surgery_release_day <= a.day <= patients[a.patient_id].last_admission_day))


def room_capacity(plan: Plan) -> int:
    """People beyond a room's capacity, summed over room-days."""
    rooms = plan.instance.rooms_by_id
    return sum(max(0, len(people) - rooms[room].capacity) for (room, _), people in plan.in_room.items())


def room_gender_mix(plan: Plan) -> int:
    """Per room-day, the smaller of the two gender counts."""
    total = 0
    for people in plan.in_room.values():
        a = sum(1 for p in people if p.gender == "A")
        total += min(a, len(people) - a)
    return total


def patient_room_compatibility(plan: Plan) -> int:
    """Patients in one of their incompatible rooms."""
    patients = plan.instance.patients_by_id
    return sum(1 for a in plan.admitted.values() if a.room_id in patients[a.patient_id].incompatible_room_ids)


def _minutes(plan: Plan, key: Callable[[Admission], str]) -> dict[tuple[str, int], int]:
    minutes: dict[tuple[str, int], int] = defaultdict(int)
    for a in plan.admitted.values():
        minutes[key(a), a.day] += plan.instance.patients_by_id[a.patient_id].surgery_duration
    return minutes


def surgeon_overtime(plan: Plan) -> int:
    """Minutes of surgery beyond a surgeon's daily maximum, summed over surgeon-days."""
    surgeons = plan.instance.surgeons_by_id
    minutes = _minutes(plan, lambda a: plan.instance.patients_by_id[a.patient_id].surgeon_id)
    return sum(max(0, m - surgeons[s].max_surgery_time[day]) for (s, day), m in minutes.items())


def operating_theater_overtime(plan: Plan) -> int:
    """Minutes of surgery beyond a theater's daily availability, summed over theater-days."""
    theaters = plan.instance.theaters_by_id
    minutes = _minutes(plan, lambda a: a.theater_id)
    return sum(max(0, m - theaters[t].availability[day]) for (t, day), m in minutes.items())


def nurse_presence(plan: Plan) -> int:
    """Room-shifts covered by a nurse who does not work that shift (reading a file refuses these)."""
    nurses = plan.instance.nurses_by_id
    return sum(1 for (_, s), n in plan.room_nurse.items() if not nurses[n].works(s))


def uncovered_room(plan: Plan) -> int:
    """Room-shifts with someone in the room and no nurse."""
    spd = plan.instance.shifts_per_day
    return sum(1 for (room, day), people in plan.in_room.items() if people
               for s in range(day * spd, (day + 1) * spd) if (room, s) not in plan.room_nurse)


# Costs (raw values)


def room_age_mix(plan: Plan) -> int:
    """Per room-day, the spread between the oldest and the youngest age group present."""
    return sum(max(p.age for p in people) - min(p.age for p in people)
               for people in plan.in_room.values() if people)


def room_skill_level(plan: Plan) -> int:
    """Per covered room-shift and person present, the skill required beyond the nurse's level."""
    spd = plan.instance.shifts_per_day
    nurses = plan.instance.nurses_by_id
    total = 0
    for (room, s), n in plan.room_nurse.items():
        level = nurses[n].skill_level
        total += sum(max(0, p.skill_level_required[s - p.first_shift] - level)
                     for p in plan.people(room, s // spd))
    return total


def continuity_of_care(plan: Plan) -> int:
    """Per admitted patient and occupant, the distinct nurses covering its room during its stay."""
    covering = plan.room_nurse
    return sum(len({covering[key] for s in plan.shifts_of(stay) if (key := (stay.room_id, s)) in covering})
               for stay in plan.stays)


def excessive_nurse_workload(plan: Plan) -> int:
    """Per nurse working shift, the workload of the people in its rooms beyond its maximum load."""
    spd = plan.instance.shifts_per_day
    total = 0
    for nurse in plan.instance.nurses:
        for s, max_load in nurse.max_load.items():
            rooms = plan.nurse_rooms.get((nurse.id, s), ())
            load = sum(p.workload_produced[s - p.first_shift]
                       for room in rooms for p in plan.people(room, s // spd))
            total += max(0, load - max_load)
    return total


def open_operating_theater(plan: Plan) -> int:
    """Theater-days with at least one surgery."""
    return len({(a.theater_id, a.day) for a in plan.admitted.values()})


def surgeon_transfer(plan: Plan) -> int:
    """Per surgeon-day, the theaters used beyond the first."""
    theaters: dict[tuple[str, int], set[str]] = defaultdict(set)
    for a in plan.admitted.values():
        theaters[plan.instance.patients_by_id[a.patient_id].surgeon_id, a.day].add(a.theater_id)
    return sum(len(used) - 1 for used in theaters.values())


def patient_delay(plan: Plan) -> int:
    """Per admitted patient, the days between its release day and its admission."""
    patients = plan.instance.patients_by_id
    return sum(max(0, a.day - patients[a.patient_id].surgery_release_day) for a in plan.admitted.values())


def elective_unscheduled_patients(plan: Plan) -> int:
    """Optional patients not admitted."""
    return sum(1 for p in plan.instance.patients if not p.mandatory and p.id not in plan.admitted)


HARD: dict[str, Callable[[Plan], int]] = {
    "MandatoryUnscheduledPatients": mandatory_unscheduled_patients,
    "AdmissionDay": admission_day,
    "RoomCapacity": room_capacity,
    "RoomGenderMix": room_gender_mix,
    "PatientRoomCompatibility": patient_room_compatibility,
    "SurgeonOvertime": surgeon_overtime,
    "OperatingTheaterOvertime": operating_theater_overtime,
    "NursePresence": nurse_presence,
    "UncoveredRoom": uncovered_room,
}
"""The hard rules by their PROBLEM.md name."""

COSTS: dict[str, tuple[Callable[[Plan], int], str]] = {
    "RoomAgeMix": (room_age_mix, "room_mixed_age"),
    "RoomSkillLevel": (room_skill_level, "room_nurse_skill"),
    "ContinuityOfCare": (continuity_of_care, "continuity_of_care"),
    "ExcessiveNurseWorkload": (excessive_nurse_workload, "nurse_eccessive_workload"),
    "OpenOperatingTheater": (open_operating_theater, "open_operating_theater"),
    "SurgeonTransfer": (surgeon_transfer, "surgeon_transfer"),
    "PatientDelay": (patient_delay, "patient_delay"),
    "ElectiveUnscheduledPatients": (elective_unscheduled_patients, "unscheduled_optional"),
}
"""The soft rules by their PROBLEM.md name, with the key of their weight in ``weights``."""


class Score(TypedDict):
    """Violations per hard rule, weighted and raw cost per soft rule, and the weighted total."""

    violations: dict[str, int]
    costs: dict[str, int]
    raw: dict[str, int]
    total_cost: int


def score(instance: Instance, solution: Solution) -> Score:
    """Score ``solution`` of ``instance`` as the official validator does."""
    plan = Plan.of(instance, solution)
    violations = {name: rule(plan) for name, rule in HARD.items()}
    raw = {name: rule(plan) for name, (rule, _) in COSTS.items()}
    costs = {name: raw[name] * getattr(instance.weights, key) for name, (_, key) in COSTS.items()}
    return {"violations": violations, "costs": costs, "raw": raw, "total_cost": sum(costs.values())}
