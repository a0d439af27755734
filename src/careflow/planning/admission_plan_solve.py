"""Solve an ``AdmissionProblem`` with the IHTC engine and read the solution back in careflow's terms.

The IHTC treats operating theaters as interchangeable; careflow's are not (a knee
replacement needs laminar flow). After solving, each day whose cases sit in a room
lacking a capability is packed again, most constrained case first, keeping a surgeon's
cases together and opening as few rooms as possible; a case no capable room has the minutes
for that day is taken out and put back on another day where it fits (admission_plan_repair.py);
one that fits nowhere stays out (a mandatory one then counts as unscheduled). The
plan is scored on what remains, with ``OperatingRoomCapability`` (cases in a room without a
capability they need) checked beside the IHTC rules. Within a ward room, each case gets the
first bed free for its whole stay. Nurse coverage lists the rooms someone is in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

from careflow.planning.admission_plan import (
    AdmissionPlan,
    AdmissionProblem,
    CaseToPlan,
    NurseCover,
    PlannedCase,
    UnplannedCase,
)
from careflow.planning.admission_plan_instance import to_instance
from careflow.planning.admission_plan_repair import pack_day, reinsert
from careflow.planning.ihtc.instance import Instance
from careflow.planning.ihtc.score import Plan, score
from careflow.planning.ihtc.solution import Admission, Solution
from careflow.planning.ihtc.solve import solve

__all__ = ["CAPABILITY", "assign_beds", "fit_capabilities", "plan_admissions"]

CAPABILITY = "OperatingRoomCapability"


def fit_capabilities(problem: AdmissionProblem, solution: Solution) -> tuple[Solution, tuple[str, ...]]:
    """The solution with each day's cases in operating rooms that have what their services need,
    and the cases taken out because no capable room had the minutes that day."""
    cases = {c.case_id: c for c in problem.cases}
    rooms = {r.id: r for r in problem.operating_rooms}
    by_day: dict[int, list[tuple[Admission, CaseToPlan]]] = defaultdict(list)
    for a in solution.admissions:
        by_day[a.day].append((a, cases[a.patient_id]))
    moved: dict[str, str | None] = {}
    for day, today in by_day.items():
        if any(not c.capabilities <= rooms[a.theater_id].capabilities for a, c in today):
            moved.update(pack_day(day, today, rooms))
    dropped = tuple(case_id for case_id, room in moved.items() if room is None)
    admissions = tuple(replace(a, theater_id=moved.get(a.patient_id) or a.theater_id)
                       for a in solution.admissions if a.patient_id not in dropped)
    return Solution(admissions, solution.assignments), dropped


def assign_beds(problem: AdmissionProblem, admissions: tuple[Admission, ...]) -> dict[str, str | None]:
    """Case id → a bed of its ward room free for the whole stay (inpatients' beds stay theirs)."""
    cases = {c.case_id: c for c in problem.cases}
    beds = {room.id: room.bed_ids for room in problem.wards}
    taken: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i in problem.inpatients:
        taken[i.bed_id].append((i.first_day, i.last_day))
    out: dict[str, str | None] = {}
    for a in sorted(admissions, key=lambda a: (a.day, a.patient_id)):
        stay = (a.day, a.day + cases[a.patient_id].stay_days - 1)
        bed = next((b for b in beds[a.room_id]
                    if all(stay[1] < s or e < stay[0] for s, e in taken[b])), None)
        if bed is not None:
            taken[bed].append(stay)
        out[a.patient_id] = bed
    return out


def _read_back(problem: AdmissionProblem, instance: Instance, solution: Solution,
               left_out: tuple[UnplannedCase, ...], dropped: tuple[str, ...]) -> AdmissionPlan:
    cases = {c.case_id: c for c in problem.cases}
    beds = assign_beds(problem, solution.admissions)
    planned = tuple(PlannedCase(a.patient_id, cases[a.patient_id].patient_id, cases[a.patient_id].surgeon_id,
                                problem.start + timedelta(days=a.day), a.theater_id, a.room_id,
                                beds[a.patient_id])
                    for a in sorted(solution.admissions, key=lambda a: (a.day, a.theater_id, a.patient_id)))
    admitted = {a.patient_id for a in solution.admissions}
    unplanned = left_out + tuple(
        UnplannedCase(p.id, cases[p.id].patient_id, p.mandatory,
                      "no day with a capable operating room's minutes, a bed and a nurse" if p.id in dropped
                      else "no feasible day found within the time limit" if p.mandatory
                      else "optional: left for a later horizon at the current weights")
        for p in instance.patients if p.id not in admitted)
    result = score(instance, solution)
    occupied = set(Plan.of(instance, solution).in_room)  # (room, day): rooms nobody is in need no nurse
    coverage = tuple(NurseCover(problem.start + timedelta(days=n.day), n.shift, n.nurse_id, kept)
                     for n in sorted(solution.assignments,
                                     key=lambda n: (n.day, instance.shift_types.index(n.shift), n.nurse_id))
                     if (kept := tuple(r for r in n.room_ids if (r, n.day) in occupied)))
    rooms = {r.id: r for r in problem.operating_rooms}
    misfits = sum(1 for a in solution.admissions
                  if not cases[a.patient_id].capabilities <= rooms[a.theater_id].capabilities)
    violations = {**result["violations"], CAPABILITY: misfits}
    violations["MandatoryUnscheduledPatients"] += sum(1 for u in left_out if u.mandatory)
    return AdmissionPlan(problem.site_id, problem.start, problem.days, planned, unplanned, coverage,
                         violations, result["costs"], result["raw"], problem.weights)


def plan_admissions(problem: AdmissionProblem, time_limit: float, seed: int = 0,
                    threads: int = 1) -> AdmissionPlan:
    """The plan of ``problem`` found within ``time_limit`` seconds, by the solver's
    deterministic mode: the same problem and seed give the same plan when the time limit cut
    nothing short (the plan's ``repeatable``)."""
    instance, left_out = to_instance(problem)
    solved = solve(instance, time_limit, seed, threads, deterministic=True)
    solution, dropped = fit_capabilities(problem, solved.solution)
    solution, dropped = reinsert(problem, instance, solution, dropped)
    return replace(_read_back(problem, instance, solution, left_out, dropped), repeatable=solved.repeatable)

