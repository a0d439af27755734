"""A greedy, feasibility-first construction of an IHTC-2024 admission, room and theater plan.

Mandatory patients go first, most urgent first, each on its cheapest feasible (day, room,
theater); optional patients follow where they fit and where admitting them costs less than
leaving them out. A mandatory patient that finds no place is moved to the front of the order
and the construction starts again ("squeaky wheel"), until every mandatory patient fits or
the deadline passes. The nurse plan is built afterwards (`nurses.py`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from careflow.planning.ihtc.compact import Compact, Person

__all__ = ["MAX_RESTARTS", "AdmissionPlan", "Build", "Placement", "construct_admissions", "squeaky_wheel"]

# Restarts before handing a plan with mandatory patients still out to the annealing's kick move.
MAX_RESTARTS = 500


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and when one patient is admitted (indices into the compact instance)."""

    day: int
    room: int
    theater: int


@dataclass(slots=True)
class AdmissionPlan:
    """Admissions by patient index (None = not admitted) and whether every mandatory one fits."""

    admissions: list[Placement | None]
    complete: bool
    restarts: int = 0


@dataclass(slots=True)
class _State:
    """Running occupancy, gender, age and minute counters while patients are placed."""

    c: Compact
    occupancy: list[list[int]] = field(default_factory=list)
    genders: list[list[list[int]]] = field(default_factory=list)
    ages: list[list[list[int]]] = field(default_factory=list)
    theater_minutes: list[list[int]] = field(default_factory=list)
    surgeon_minutes: list[list[int]] = field(default_factory=list)
    surgeon_theaters: list[list[set[int]]] = field(default_factory=list)

    @classmethod
    def empty(cls, c: Compact) -> _State:
        s = cls(c)
        s.occupancy = [[0] * c.days for _ in c.room_capacity]
        s.genders = [[[0] * c.genders for _ in range(c.days)] for _ in c.room_capacity]
        s.ages = [[[0] * c.age_groups for _ in range(c.days)] for _ in c.room_capacity]
        s.theater_minutes = [[0] * c.days for _ in c.theater_availability]
        s.surgeon_minutes = [[0] * c.days for _ in c.surgeon_max_time]
        s.surgeon_theaters = [[set() for _ in range(c.days)] for _ in c.surgeon_max_time]
        for o in c.occupants:
            s.add_stay(o, 0, o.room)
        return s

    def add_stay(self, p: Person, day: int, room: int) -> None:
        for d in range(day, min(day + p.length_of_stay, self.c.days)):
            self.occupancy[room][d] += 1
            self.genders[room][d][p.gender] += 1
            self.ages[room][d][p.age] += 1

    def add_surgery(self, p: Person, day: int, theater: int) -> None:
        self.theater_minutes[theater][day] += p.surgery_duration
        self.surgeon_minutes[p.surgeon][day] += p.surgery_duration
        self.surgeon_theaters[p.surgeon][day].add(theater)

    def room_cost(self, p: Person, day: int, room: int) -> float | None:
        """Age-mix cost of putting p in room from day on, or None when a hard rule forbids it."""
        c = self.c
        if room in p.incompatible_rooms:
            return None
        cost = 0.0
        same_gender = 0
        for d in range(day, min(day + p.length_of_stay, c.days)):
            here = self.occupancy[room][d]
            if here >= c.room_capacity[room] or self.genders[room][d][p.gender] != here:
                return None
            present = self.ages[room][d]
            if self.occupancy[room][d]:
                same_gender += 1
                lo = min(a for a in range(c.age_groups) if present[a])
                hi = max(a for a in range(c.age_groups) if present[a])
                cost += (max(hi, p.age) - min(lo, p.age)) - (hi - lo)
        # Sharing a room with the same gender keeps the other rooms open to both genders.
        return cost * c.weights.room_mixed_age - 0.01 * same_gender

    def theater_choice(self, p: Person, day: int) -> tuple[float, int] | None:
        """The cheapest theater with p's minutes free on day, with its cost."""
        c = self.c
        if self.surgeon_minutes[p.surgeon][day] + p.surgery_duration > c.surgeon_max_time[p.surgeon][day]:
            return None
        best: tuple[float, int] | None = None
        used = self.surgeon_theaters[p.surgeon][day]
        for t, availability in enumerate(c.theater_availability):
            minutes = self.theater_minutes[t][day]
            if minutes + p.surgery_duration > availability[day]:
                continue
            cost = 0.0 if minutes else float(c.weights.open_operating_theater)
            if used and t not in used:
                cost += c.weights.surgeon_transfer
            # Best fit: fill the fullest theater first so others stay free for long cases.
            cost -= 1e-4 * minutes
            if best is None or cost < best[0]:
                best = (cost, t)
        return best


def _best_place(state: _State, p: Person, rng: random.Random,
                earliest: bool) -> tuple[float, Placement] | None:
    """The cheapest feasible (day, room, theater) for p, with its cost; on the earliest feasible
    day only when ``earliest`` (mandatory patients: capacity left for those still to come)."""
    c = state.c
    best: tuple[float, Placement] | None = None
    rooms = list(range(len(c.room_capacity)))
    for day in range(p.release_day, p.due_day + 1):
        delay = float((day - p.release_day) * c.weights.patient_delay)
        if best is not None and (earliest or delay > best[0] + c.weights.room_mixed_age * 4):
            break
        theater = state.theater_choice(p, day)
        if theater is None:
            continue
        room_best: tuple[float, int] | None = None
        for r in rooms:
            cost = state.room_cost(p, day, r)
            if cost is not None and (room_best is None or cost < room_best[0]):
                room_best = (cost, r)
        if room_best is None:
            continue
        total = delay + theater[0] + room_best[0] + rng.random() * 1e-6
        if best is None or total < best[0]:
            best = (total, Placement(day, room_best[1], theater[1]))
    return best


def _admitted_nurse_cost(c: Compact, p: Person) -> float:
    """A rough lower estimate of the nurse-related cost one more admitted patient brings."""
    shifts = min(p.length_of_stay, c.days) * c.shifts_per_day
    return float(min(shifts, 3) * c.weights.continuity_of_care)


def _build(c: Compact, order: list[int], rng: random.Random) -> tuple[list[Placement | None], int | None]:
    """One greedy pass; returns the admissions and the first mandatory patient that did not fit."""
    state = _State.empty(c)
    admissions: list[Placement | None] = [None] * len(c.patients)
    failed: int | None = None
    for i in order:
        p = c.patients[i]
        placed = _best_place(state, p, rng, earliest=p.mandatory)
        if placed is None:
            if p.mandatory and failed is None:
                failed = i
            continue
        cost, a = placed
        if not p.mandatory and cost + _admitted_nurse_cost(c, p) >= c.weights.unscheduled_optional:
            continue
        admissions[i] = a
        state.add_stay(p, a.day, a.room)
        state.add_surgery(p, a.day, a.theater)
    return admissions, failed


def _initial_order(c: Compact) -> list[int]:
    mandatory = [i for i, p in enumerate(c.patients) if p.mandatory]
    optional = [i for i, p in enumerate(c.patients) if not p.mandatory]
    mandatory.sort(key=lambda i: (c.patients[i].due_day, c.patients[i].due_day - c.patients[i].release_day,
                                  -c.patients[i].surgery_duration, i))
    optional.sort(key=lambda i: (c.patients[i].release_day, c.patients[i].length_of_stay, i))
    return mandatory + optional


Build = Callable[[list[int]], tuple[list[Placement | None], int | None]]


def squeaky_wheel(c: Compact, build: Build, order: list[int], deadline: float) -> AdmissionPlan:
    """Greedy passes of ``build`` over ``order`` (the admissions and the first mandatory patient
    that did not fit), each failure moved to the front for the next pass, until every mandatory
    patient fits, ``MAX_RESTARTS`` or the deadline; the plan with the fewest missing otherwise."""
    order = list(order)
    best: tuple[int, list[Placement | None]] | None = None
    restarts = 0
    while True:
        admissions, failed = build(order)
        if failed is None:
            return AdmissionPlan(admissions, complete=True, restarts=restarts)
        missing = sum(1 for i, p in enumerate(c.patients) if p.mandatory and admissions[i] is None)
        if best is None or missing < best[0]:
            best = (missing, admissions)
        if restarts >= MAX_RESTARTS or time.monotonic() >= deadline:
            return AdmissionPlan(best[1], complete=False, restarts=restarts)
        restarts += 1
        order.remove(failed)
        order.insert(0, failed)


def construct_admissions(c: Compact, seed: int, deadline: float) -> AdmissionPlan:
    """Place every mandatory patient (restarting with failures first) and the optional ones that pay."""
    rng = random.Random(seed)
    return squeaky_wheel(c, lambda order: _build(c, order, rng), _initial_order(c), deadline)
