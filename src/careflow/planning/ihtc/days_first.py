"""A start that decides days first: which patients come in on which day, for all surgeons and beds
at once, in one CP-SAT model without rooms; rooms and theaters are then packed greedily.

Where surgeon time and beds are short together (i27 asks for 7,380 more surgery minutes than
its surgeons have, and its beds are full), the patient-by-patient greedy start and the moves
after it leave many optional patients out: no left-out patient finds a day with both a free bed and
surgeon time, and moving one patient at a time cannot make such a day. The days model chooses
the days of everyone together: each patient at most once (mandatory exactly once) within its
window, each surgeon's and the theaters' minutes per day, and the beds per day (total capacity less
the occupants), minimizing delay plus left-out patients. Packing then gives each patient, in
order of its day, the cheapest room and theater on that day (mandatory patients may move to
another day of their window; optional ones are left out when nothing fits). A mandatory patient
that still does not fit goes first in the next pass, as in ``construct.py``.

Rooms relax into one bed count, so the days can ask for more than rooms and genders allow; the
packing then leaves those patients out and the annealing that follows takes it from there.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

from ortools.sat.python import cp_model

from careflow.planning.ihtc.compact import Compact
from careflow.planning.ihtc.construct import MAX_RESTARTS, AdmissionPlan, Placement
from careflow.planning.ihtc.local import _Ledger

__all__ = ["choose_days", "days_first"]


def choose_days(c: Compact, seconds: float, threads: int = 1, seed: int = 0) -> dict[int, int] | None:
    """Admission day per admitted patient by the days model, or None when CP-SAT finds no plan in
    ``seconds`` (or none exists: a mandatory patient with no day its surgeon and the theaters can
    operate on)."""
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for i, p in enumerate(c.patients):
        for d in c.admission_days(p):
            if c.surgeon_max_time[p.surgeon][d] >= p.surgery_duration and \
                    max((a[d] for a in c.theater_availability), default=0) >= p.surgery_duration:
                x[i, d] = m.new_bool_var(f"x{i}_{d}")
    days_of: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    surgeon: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    theaters: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    beds: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (i, d), v in x.items():
        p = c.patients[i]
        days_of[i].append(v)
        surgeon[p.surgeon, d].append((p.surgery_duration, v))
        theaters[d].append((p.surgery_duration, v))
        for e in range(d, min(d + p.length_of_stay, c.days)):
            beds[e].append(v)
    for i, p in enumerate(c.patients):
        if p.mandatory:
            if not days_of[i]:
                return None
            m.add_exactly_one(days_of[i])
        elif days_of[i]:
            m.add_at_most_one(days_of[i])
    for (s, d), terms in surgeon.items():
        m.add(sum(minutes * v for minutes, v in terms) <= c.surgeon_max_time[s][d])
    for d, terms in theaters.items():
        m.add(sum(minutes * v for minutes, v in terms) <= sum(a[d] for a in c.theater_availability))
    free = [sum(c.room_capacity)] * c.days
    for o in c.occupants:
        for e in range(min(o.length_of_stay, c.days)):
            free[e] -= 1
    for e, vs in beds.items():
        m.add(sum(vs) <= max(0, free[e]))
    w = c.weights
    delay = sum((d - c.patients[i].release_day) * w.patient_delay * v for (i, d), v in x.items())
    admitted = sum(v for (i, _), v in x.items() if not c.patients[i].mandatory)
    m.minimize(delay - w.unscheduled_optional * admitted)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, seconds)
    solver.parameters.num_workers = max(1, threads)
    solver.parameters.random_seed = seed
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {i: d for (i, d), v in x.items() if solver.boolean_value(v)}


def _pack(c: Compact, days: dict[int, int], order: list[int], rng: random.Random
          ) -> tuple[list[Placement | None], int | None]:
    """One greedy pass in ``order``; the admissions and the first mandatory patient that did not fit."""
    ledger = _Ledger(c, [None] * len(c.patients))
    failed: int | None = None
    for i in order:
        p = c.patients[i]
        found = ledger.best_on(p, days[i], rng)
        if found is None and p.mandatory:
            found = ledger.best_any(p, rng)
        if found is not None:
            ledger.admit(i, found[1])
        elif p.mandatory and failed is None:
            failed = i
    return list(ledger.admissions), failed


def days_first(c: Compact, seed: int, seconds: float, deadline: float,
               threads: int = 1) -> AdmissionPlan | None:
    """The days model's plan packed into rooms and theaters (see the module docstring), or None
    when the days model finds none; ``seconds`` for the model, ``deadline`` for the packing."""
    days = choose_days(c, min(seconds, deadline - time.monotonic()), threads, seed)
    if days is None:
        return None
    rng = random.Random(seed)
    order = sorted(days, key=lambda i: (not c.patients[i].mandatory, days[i], -c.patients[i].length_of_stay,
                                        i))
    best: tuple[int, list[Placement | None]] | None = None
    for restarts in range(MAX_RESTARTS + 1):
        admissions, failed = _pack(c, days, order, rng)
        if failed is None:
            return AdmissionPlan(admissions, complete=True, restarts=restarts)
        missing = sum(1 for i, p in enumerate(c.patients) if p.mandatory and admissions[i] is None)
        if best is None or missing < best[0]:
            best = (missing, admissions)
        if time.monotonic() >= deadline:
            break
        order.remove(failed)
        order.insert(0, failed)
    assert best is not None
    return AdmissionPlan(best[1], complete=False, restarts=MAX_RESTARTS)
