"""A start that decides days first: which patients come in on which day, for all surgeons and beds
at once, in one CP-SAT model without rooms; rooms and theaters are then packed greedily.

Where surgeon time and beds are short together (i27 asks for 7,380 more surgery minutes than
its surgeons have, and its beds are full), the patient-by-patient greedy start and the moves
after it leave many optional patients out: no left-out patient finds a day with both a free bed and
surgeon time, and moving one patient at a time cannot make such a day. The days model chooses
the days of everyone together: each patient at most once (mandatory exactly once) within its
window, each surgeon's and the theaters' minutes per day, and the beds per day and gender (each
room serves one gender a day, its occupant's when it has one), minimizing delay plus left-out
patients. Packing then gives each patient, in order of its day, the cheapest theater on that day
and the room that opens the fewest empty room-days (mandatory patients may move to another day of
their window; optional ones are left out when nothing fits). A mandatory patient that still does
not fit goes first in the next pass, as in ``construct.py``.

The days model does not follow a patient from day to day in one room, nor know incompatible rooms,
so the days can ask for more than the rooms allow; the packing then leaves those patients out and
the annealing that follows takes it from there. On i13, i16, i20, i27 and i29 (the days model in
deterministic mode) the packing left 11-17 of the chosen patients out, against 10-33 when it took
the cheapest room, which spreads patients over empty rooms and shuts the other gender out of them;
beds per day and gender rather than per day cut the start's cost on i27 from 64,253 to 56,867
(one run each, 6 s, 2 workers)."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from careflow.planning.ihtc.compact import Compact, Person
from careflow.planning.ihtc.construct import MAX_RESTARTS, AdmissionPlan, Placement, squeaky_wheel
from careflow.planning.ihtc.local import Ledger

__all__ = ["DETERMINISTIC_WORK", "Days", "choose_days", "days_first"]

# In deterministic mode, CP-SAT's deterministic seconds per second of the days model's limit. Its
# deterministic time ran 3-4 times slower than the clock on test06 with other work on the machine;
# the clock cap there is the rest of the construction's share, so the work ends it.
DETERMINISTIC_WORK = 0.2


@dataclass(frozen=True, slots=True)
class Days:
    """The days model's answer: admission day per admitted patient (None: no plan found, or none
    exists), and whether the wall clock rather than the work limit stopped CP-SAT."""

    day: dict[int, int] | None
    clock_stopped: bool = False


def choose_days(c: Compact, seconds: float, threads: int = 1, seed: int = 0, deterministic: bool = False,
                wall: float | None = None) -> Days:
    """Admission days by the days model within ``seconds`` (and ``wall`` seconds of the clock, when
    given); ``deterministic``: CP-SAT stops on deterministic time (``DETERMINISTIC_WORK`` of
    ``seconds``; ``wall``, else ``seconds``, of the clock as a safety stop) and its workers
    interleave, so the same call repeats its answer unless the clock stops it.
    No plan exists when a mandatory patient has no day its surgeon and the theaters can operate on."""
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    longest = [max((a[d] for a in c.theater_availability), default=0) for d in range(c.days)]
    for i, p in enumerate(c.patients):
        for d in c.admission_days(p):
            if c.surgeon_max_time[p.surgeon][d] >= p.surgery_duration and longest[d] >= p.surgery_duration:
                x[i, d] = m.new_bool_var(f"x{i}_{d}")
    days_of: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    surgeon: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    theaters: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    beds: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (i, d), v in x.items():
        p = c.patients[i]
        days_of[i].append(v)
        surgeon[p.surgeon, d].append((p.surgery_duration, v))
        theaters[d].append((p.surgery_duration, v))
        for e in range(d, min(d + p.length_of_stay, c.days)):
            beds[e, p.gender].append(v)
    for i, p in enumerate(c.patients):
        if p.mandatory:
            if not days_of[i]:
                return Days(None)
            m.add_exactly_one(days_of[i])
        elif days_of[i]:
            m.add_at_most_one(days_of[i])
    for (s, d), terms in surgeon.items():
        m.add(sum(minutes * v for minutes, v in terms) <= c.surgeon_max_time[s][d])
    for d, terms in theaters.items():
        m.add(sum(minutes * v for minutes, v in terms) <= sum(a[d] for a in c.theater_availability))
    _add_beds(m, c, beds)
    w = c.weights
    delay = sum((d - c.patients[i].release_day) * w.patient_delay * v for (i, d), v in x.items())
    admitted = sum(v for (i, _), v in x.items() if not c.patients[i].mandatory)
    m.minimize(delay - w.unscheduled_optional * admitted)
    solver = cp_model.CpSolver()
    cap = seconds if wall is None else wall if deterministic else min(seconds, wall)
    solver.parameters.max_time_in_seconds = max(0.01, cap)
    solver.parameters.num_workers = max(1, threads)
    solver.parameters.random_seed = seed
    if deterministic:
        solver.parameters.max_deterministic_time = DETERMINISTIC_WORK * seconds
        solver.parameters.interleave_search = threads > 1
    status = solver.solve(m)
    clock = deterministic and solver.wall_time >= 0.99 * solver.parameters.max_time_in_seconds
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Days(None, clock)
    return Days({i: d for (i, d), v in x.items() if solver.boolean_value(v)}, clock)


def _add_beds(m: cp_model.CpModel, c: Compact, beds: dict[tuple[int, int], list[cp_model.IntVar]]) -> None:
    """Beds per day and gender: each room serves one gender on each day (its occupant's, when it has
    one), and a gender's patients staying that day fit in its rooms' free beds. Empty rooms with
    the same number of free beds are alike, so the model counts how many of them each gender gets
    rather than choosing room by room (the same bound, without the symmetry)."""
    free = [[cap] * c.days for cap in c.room_capacity]
    fixed: dict[tuple[int, int], int] = {}
    for o in c.occupants:
        for e in range(min(o.length_of_stay, c.days)):
            free[o.room][e] -= 1
            fixed[o.room, e] = o.gender
    for e in range(c.days):
        held = [0] * c.genders  # free beds in rooms an occupant holds for its gender
        alike: dict[int, int] = defaultdict(int)  # free beds -> rooms with no occupant that day
        for r in range(len(c.room_capacity)):
            if free[r][e] > 0 and (r, e) in fixed:
                held[fixed[r, e]] += free[r][e]
            elif free[r][e] > 0:
                alike[free[r][e]] += 1
        given: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
        for n, rooms in alike.items():
            shares = [m.new_int_var(0, rooms, f"g{e}_{n}_{k}") for k in range(c.genders)]
            m.add(sum(shares) == rooms)
            for k, v in enumerate(shares):
                given[k].append((n, v))
        for k in range(c.genders):
            if beds.get((e, k)):
                m.add(sum(beds[e, k]) <= held[k] + sum(n * v for n, v in given[k]))


def _fewest_opened(ledger: Ledger, p: Person, a: Placement) -> Placement:
    """``a`` moved to the room that opens the fewest empty room-days (ties: the lower age-mix
    cost, then the lower index), so patients share rooms and leave the empty ones for the other
    gender and long stays. It replaces ``best_on``'s random tie-break among rooms: the packing of
    given days does not depend on the seed."""
    c = ledger.c
    end = min(a.day + p.length_of_stay, c.days)
    best: tuple[int, float, int] | None = None
    for r in range(len(c.room_capacity)):
        cost = ledger.room_cost(p, a.day, r)
        if cost is None:
            continue
        occupancy = ledger.occupancy[r]
        key = (sum(1 for d in range(a.day, end) if not occupancy[d]), cost, r)
        if best is None or key < best:
            best = key
    return a if best is None else Placement(a.day, best[2], a.theater)


def _pack(c: Compact, days: dict[int, int], order: list[int], rng: random.Random
          ) -> tuple[list[Placement | None], int | None]:
    """One greedy pass in ``order``; the admissions and the first mandatory patient that did not fit."""
    ledger = Ledger(c, [None] * len(c.patients))
    failed: int | None = None
    for i in order:
        p = c.patients[i]
        found = ledger.best_on(p, days[i], rng)
        if found is None and p.mandatory:
            found = ledger.best_any(p, rng)
        if found is not None:
            ledger.admit(i, _fewest_opened(ledger, p, found[1]))
        elif p.mandatory and failed is None:
            failed = i
    return list(ledger.admissions), failed


def days_first(c: Compact, seed: int, seconds: float, deadline: float, threads: int = 1,
               deterministic: bool = False) -> tuple[AdmissionPlan | None, bool]:
    """The days model's plan packed into rooms and theaters (see the module docstring; None when
    the days model finds none) and whether the clock cut the model or the packing; ``seconds``
    for the model, ``deadline`` for both."""
    chosen = choose_days(c, seconds, threads, seed, deterministic, wall=deadline - time.monotonic())
    days = chosen.day
    if days is None:
        return None, chosen.clock_stopped
    rng = random.Random(seed)
    order = sorted(days, key=lambda i: (not c.patients[i].mandatory, days[i], -c.patients[i].length_of_stay,
                                        i))
    plan = squeaky_wheel(c, lambda o: _pack(c, days, o, rng), order, deadline)
    return plan, chosen.clock_stopped or (not plan.complete and plan.restarts < MAX_RESTARTS)
