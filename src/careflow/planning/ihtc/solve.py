"""Solve an IHTC-2024 instance: a greedy feasible start and a nurse-plan descent, within a time limit.

Deterministic for a seed as long as the time limit is not what stops the search.
"""

from __future__ import annotations

import time

from careflow.planning.ihtc.compact import compact
from careflow.planning.ihtc.construct import construct_admissions
from careflow.planning.ihtc.instance import Instance
from careflow.planning.ihtc.local import improve_admissions
from careflow.planning.ihtc.nurses import assign_nurses
from careflow.planning.ihtc.solution import Admission, NurseAssignment, Solution

__all__ = ["MOVES_PER_SECOND", "NURSE_MOVES_PER_SECOND", "solve"]

# Annealing moves per second of time limit: a work budget, not a clock, so a seed repeats its plan.
MOVES_PER_SECOND = 25000
NURSE_MOVES_PER_SECOND = 40000


def solve(instance: Instance, time_limit: float, seed: int = 0, threads: int = 1) -> Solution:
    """A solution of ``instance`` within ``time_limit`` seconds (wall clock), ``threads`` workers."""
    del threads  # the annealing is single-threaded; CP-SAT neighbourhoods will use the workers
    start = time.monotonic()
    budget = max(0.0, time_limit)
    c = compact(instance)
    plan = construct_admissions(c, seed, start + budget * 0.3)
    moves = int(min(budget, 600.0) * MOVES_PER_SECOND)
    admitted = improve_admissions(c, plan.admissions, seed, moves, start + budget * 0.75)
    nurse_moves = int(min(budget, 600.0) * NURSE_MOVES_PER_SECOND)
    nurses = assign_nurses(c, admitted, start + budget * 0.9, seed, nurse_moves)
    admissions = tuple(
        Admission(p.id, a.day, instance.rooms[a.room].id, instance.operating_theaters[a.theater].id)
        for p, a in zip(instance.patients, admitted, strict=True) if a is not None)
    spd = instance.shifts_per_day
    rooms: dict[tuple[int, int], list[str]] = {}
    for g, row in enumerate(nurses.nurse):
        for r, n in enumerate(row):
            if n >= 0:
                rooms.setdefault((n, g), []).append(instance.rooms[r].id)
    assignments = tuple(
        NurseAssignment(instance.nurses[n].id, g // spd, instance.shift_types[g % spd], tuple(ids))
        for (n, g), ids in sorted(rooms.items()))
    return Solution(admissions, assignments)
