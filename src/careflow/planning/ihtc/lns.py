"""Large-neighbourhood search with CP-SAT: free part of the plan, re-optimize it exactly, keep it
when the official cost goes down or stays the same (a sideways move).

Neighbourhoods (``neighbourhoods.py``) free patients (a window of days, a few rooms, one
surgeon's cases, with left-out patients who could fit) or nurse room-shifts (a window of shifts,
a few rooms over the horizon, a few nurses' shifts). Each is a CP-SAT model
(``admit_model.py``, ``nurse_model.py``) hinted with the current plan, so it never returns
anything worse; a changed plan is scored with ``score.py`` and kept only with no more hard
violations and a total no higher. The ``replan`` kind (``REPLAN``) moves patients and their
nurses together: the patients by the admission costs alone, then the nurses of the room-shifts
they left or entered, scored as one change. The search adapts each kind's neighbourhood size
(grow when CP-SAT proves optimality, shrink when it runs out of work) and picks the kinds that
have been saving the most cost per unit of work more often (every kind keeps a chance). With
``Budget.patience`` the search stops once its last stretch lowered the cost too little (``Patience``,
``Outcome.stalled``), so that the caller can start again elsewhere (``solve.RESTARTS``).

Determinism: every CP-SAT call gets ``random_seed`` from the seed and the call's number, and a
deterministic limit (``max_deterministic_time``); the whole search stops when the deterministic
time spent (plus a count of model variables for building them) reaches ``work``. With one thread
the result depends only on (seed, work) except when the clock bites first: the ``deadline`` cuts
the search wherever it is, and each call's wall-clock cap (``wall_per_work`` times its
deterministic limit, there because CP-SAT's deterministic time runs 2-15 times slower than the
wall clock on these models, more under load) can end a call early; ``Outcome.clock_stopped``
says whether either happened. With more than one thread the calls run side by side, one CP-SAT
worker each (``LANES``), and which one finishes first decides the path, so a rerun may differ,
unless ``Budget.deterministic``: then one call at a time gets all the workers, which interleave
their searches (CP-SAT's ``interleave_search``) and repeat as one worker does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from ortools.sat.python import cp_model

from careflow.planning.ihtc.admit_model import (
    ADMISSION_COSTS,
    SOFT_RULES,
    AdmissionModel,
    build_admission_model,
)
from careflow.planning.ihtc.compact import Compact
from careflow.planning.ihtc.neighbourhoods import (
    ADMISSION_KINDS,
    NURSE_KINDS,
    admission_neighbourhood,
    nurse_neighbourhood,
)
from careflow.planning.ihtc.nurse_model import Cell, NurseModel, build_nurse_model, cells_of
from careflow.planning.ihtc.score import score
from careflow.planning.ihtc.ward import Roster, Ward, to_solution

__all__ = ["BUILD_WORK_PER_VARIABLE", "REPLAN", "SEARCHED", "WALL_PER_WORK", "Budget", "Outcome", "Patience",
           "evaluate", "improve"]

# Deterministic seconds charged per model variable, for the Python time spent building it.
BUILD_WORK_PER_VARIABLE = 2e-5
# The least a neighbourhood is charged, so that even empty ones use the budget up.
MIN_CALL_WORK = 1e-3
# Starting neighbourhood sizes (model variables); each adapts to what CP-SAT can solve in a call.
ADMISSION_SIZE, NURSE_SIZE = 800.0, 300.0
# A compound kind: a ``days`` or ``rooms`` admission neighbourhood re-placed by the admission costs
# alone, then the nurses of every room-shift the moved patients leave or enter chosen again, both
# kept together or not at all. Against the fixed nurse plan any patient who moves looks costly (new
# nurses, so worse continuity; a nurse whose skill or spare load suited the old room), so the
# admission kinds alone rarely move anyone. 120 s, 1 thread, seeds 0-3, with vs without: i12 -1.0 %,
# i16 -0.6 %, i04 +0.1 %, i08 +0.2 %, i01 +0.3 % (mean of four each; bench/results/ihtc_lns.md), a
# gain where the nurse costs weigh most and within the spread between seeds elsewhere.
# Also leaving only the continuity of care out, or both kinds together, did no better.
REPLAN = "replan"
# The kinds the search picks from.
SEARCHED = (*ADMISSION_KINDS, REPLAN, *NURSE_KINDS)
# Wall-clock seconds one CP-SAT call may take per deterministic second of its limit.
WALL_PER_WORK = 6.0
# Several threads run that many calls side by side, one CP-SAT worker each, instead of one call with
# several workers: with 2 workers CP-SAT runs one full search and spends the second on helpers
# (feasibility jump, local search, RINS) that add little to a hinted model of a few hundred
# variables. CP-SAT releases the GIL while it solves, so the lanes do run at once: 2.1 times the
# calls at 120 s, 2 threads, on i04, i08, i16 and i27 (bench/results/ihtc_lns.md).
LANES = True
# A changed plan of equal cost is kept too (a sideways move): the search then walks the plateaus
# where it used to stall for a minute or more. 120 s, 1 thread, seeds 0 and 1, side by side, the
# equal-cost plan kept vs not: i02 1418/1364 vs 1427/1447, i04 2063/2023 vs 2069/2027, i07 5373/5568
# vs 5378/5697, i08 6908/7129 vs 7163/7179: better in 8 of 8.


@dataclass(frozen=True, slots=True)
class Patience:
    """When the search has stopped paying: its last ``seconds`` (wall clock) lowered the cost by no
    more than ``gain`` of it (0: found nothing lower at all)."""

    seconds: float
    gain: float = 0.0


@dataclass(frozen=True, slots=True)
class Budget:
    """How long the search may run: ``work`` deterministic seconds in all, ``call`` per CP-SAT
    call (and at most ``wall_per_work * call`` wall-clock seconds), never past ``deadline``
    (``time.monotonic()``)."""

    work: float
    deadline: float
    call: float = 1.0
    threads: int = 1
    seed: int = 0
    wall_per_work: float = WALL_PER_WORK  # a call's wall-clock cap per deterministic second
    deterministic: bool = False  # several workers interleave their searches instead of racing
    patience: Patience | None = None  # stop once the search stops paying (``Outcome.stalled``)


@dataclass(slots=True)
class Outcome:
    """The best plan found, its exact cost and hard violations, and what the search did."""

    roster: Roster
    cost: int
    violations: int
    calls: int = 0
    improvements: int = 0
    work: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    clock_stopped: bool = False  # the wall clock, not the work budget, cut a call or the search
    stalled: bool = False  # ``Budget.patience`` ran out: the search had stopped paying
    history: list[tuple[float, int]] = field(default_factory=list)  # (when, cost): start, each lower cost

    @property
    def improved_at(self) -> float:
        """When the cost last went down (when the search started, if it never did)."""
        return self.history[-1][0]

    def stalled_by(self, patience: Patience, now: float) -> bool:
        """Whether the last ``patience.seconds`` before ``now`` lowered the cost by at most
        ``patience.gain`` of it (never before the search has run that long)."""
        since = now - patience.seconds
        if not self.history or self.history[0][0] > since:
            return False
        then = next(cost for at, cost in reversed(self.history) if at <= since)
        return then - self.cost <= patience.gain * self.cost


def evaluate(c: Compact, roster: Roster) -> tuple[int, int]:
    """Hard violations and total cost of ``roster`` by the official rules."""
    result = score(c.instance, to_solution(c, roster))
    return sum(result["violations"].values()), result["total_cost"]


def _solver(budget: Budget, call: int, remaining: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = budget.threads
    solver.parameters.interleave_search = budget.deterministic and budget.threads > 1
    solver.parameters.random_seed = (budget.seed * 7919 + call) % (2**31 - 1)
    solver.parameters.max_deterministic_time = budget.call
    # The LP relaxation with all of the model's linear constraints (CP-SAT's "max_lp" worker) on
    # these few-hundred-variable models: on 80 captured neighbourhoods of i16 and i08, 1 worker, the
    # same limits, it took 40 % and 86 % of the default's wall time and reached the best objective
    # found by any setting on 76 and 68 of them (the default: 58 and 59). Whole solves, 120 s,
    # 1 thread, seeds 0 and 1, side by side: better on 7 of 9 (bench/results/ihtc_lns.md).
    solver.parameters.linearization_level = 2
    # CP-SAT's deterministic time runs 2-15 times slower than the wall clock on these models (more
    # under load), so a wall cap of a few times the deterministic limit keeps one call from eating
    # the search; it only bites on a slow or loaded machine.
    solver.parameters.max_time_in_seconds = max(0.01, min(remaining, budget.wall_per_work * budget.call))
    return solver


class _Sizes:
    """Per kind, the neighbourhood size (model variables wanted) and the cost it has been saving
    per unit of work, which decides how often it is picked."""

    def __init__(self, sizes: dict[str, float]) -> None:
        self.size = dict(sizes)
        self.rate = dict.fromkeys(sizes, 0.0)

    def pick(self, rng: random.Random) -> str:
        kinds = sorted(self.size)
        top = max(self.rate.values())
        floor = 0.15 * top if top > 0 else 1.0  # every kind keeps a chance
        return rng.choices(kinds, weights=[self.rate[k] + floor for k in kinds])[0]

    def learn(self, kind: str, optimal: bool, gain: int, work: float) -> None:
        self.size[kind] = min(40000.0, max(100.0, self.size[kind] * (1.15 if optimal else 0.85)))
        self.rate[kind] = 0.7 * self.rate[kind] + 0.3 * gain / max(work, 0.01)


@dataclass(slots=True)
class _Call:
    """One neighbourhood on its way through CP-SAT: its model and how to read the answer back."""

    kind: str
    number: int
    started: float
    variables: int
    model: cp_model.CpModel
    admissions: AdmissionModel | None = None
    nurses: NurseModel | None = None
    then_nurses: bool = False  # ``REPLAN``: the nurses of the moved patients' stays next


def _prepare(c: Compact, best: Outcome, cells: list[dict[int, Cell]], sizes: _Sizes, kind: str,
             rng: random.Random) -> _Call | None:
    """The model of a ``kind`` neighbourhood of the best plan, or None when it frees nothing."""
    started = time.monotonic()
    plan = best.roster
    if kind in ADMISSION_KINDS or kind == REPLAN:
        replan = kind == REPLAN
        freed = admission_neighbourhood(c, plan, rng.choice(("days", "rooms")) if replan else kind,
                                        sizes.size[kind], rng)
        if not freed.patients:
            return None
        ward = Ward.of(c, plan, frozenset(freed.patients))
        am = build_admission_model(c, ward, freed, [(i, plan.admissions[i]) for i in freed.patients],
                                   ADMISSION_COSTS if replan else SOFT_RULES)
        return _Call(kind, best.calls, started, len(am.x) + len(am.y), am.model, admissions=am,
                     then_nurses=replan)
    free, nurses = nurse_neighbourhood(c, plan, cells, kind, sizes.size[kind], rng)
    nm = build_nurse_model(c, plan.admissions, cells, plan.nurse, free, nurses)
    return _Call(kind, best.calls, started, len(nm.b), nm.model, nurses=nm)


def _apply(call: _Call, plan: Roster, values: Callable[[cp_model.IntVar], bool]) -> bool:
    """Write the call's answer into ``plan``; whether anything changed."""
    changed = False
    if call.admissions is not None:
        for i, a in call.admissions.placements(values).items():
            changed = changed or plan.admissions[i] != a
            plan.admissions[i] = a
    elif call.nurses is not None:
        for (g, r), n in call.nurses.assignment(values).items():
            changed = changed or plan.nurse[g][r] != n
            plan.nurse[g][r] = n
    return changed


def improve(c: Compact, roster: Roster, budget: Budget, log: Callable[[str], None] | None = None) -> Outcome:
    """The best plan the neighbourhood search finds from ``roster`` (every room-shift some nurse
    works already has a nurse) within ``budget``; ``log`` gets one line per CP-SAT call.

    With several threads and no ``deterministic``, the calls run side by side in ``threads``
    lanes of one CP-SAT worker each (see ``LANES``); an answer is written into the plan as it is
    then, which another lane may have changed since the model was built, and the exact score
    decides as always."""
    rng = random.Random(budget.seed)
    violations, cost = evaluate(c, roster)
    best = Outcome(roster.copy(), cost, violations, history=[(time.monotonic(), cost)])
    sizes = _Sizes({kind: NURSE_SIZE if kind in NURSE_KINDS else ADMISSION_SIZE for kind in SEARCHED})
    cells = cells_of(c, best.roster.admissions)
    lanes = budget.threads if LANES and budget.threads > 1 and not budget.deterministic else 1
    per_call = replace(budget, threads=1) if lanes > 1 else budget
    build_seconds = 0.05
    ending = False
    running: dict[Future[tuple[cp_model.CpSolver, Any]], _Call] = {}
    with ThreadPoolExecutor(max_workers=lanes) as pool:
        while True:
            while len(running) < lanes and best.work < budget.work and not ending:
                now = time.monotonic()
                if budget.patience is not None and best.stalled_by(budget.patience, now):
                    best.stalled = best.clock_stopped = ending = True
                    break
                remaining = budget.deadline - now
                if remaining < 2 * build_seconds + 0.02:
                    best.clock_stopped = ending = True
                    break
                kind = sizes.pick(rng)
                call = _prepare(c, best, cells, sizes, kind, rng)
                if call is None:
                    best.work += MIN_CALL_WORK
                    sizes.learn(kind, True, 0, MIN_CALL_WORK)
                    continue
                build_seconds = max(0.02, 0.5 * build_seconds + 0.5 * (time.monotonic() - call.started))
                solver = _solver(per_call, best.calls, budget.deadline - time.monotonic() - build_seconds)
                best.calls += 1
                running[pool.submit(_solve, solver, call.model)] = call
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f].number):
                call = running.pop(future)
                cells = _take(c, best, sizes, call, budget.deadline, *future.result(), cells, log)
    return best


def _take(c: Compact, best: Outcome, sizes: _Sizes, call: _Call, deadline: float, solver: cp_model.CpSolver,
          status: Any, cells: list[dict[int, Cell]],
          log: Callable[[str], None] | None) -> list[dict[int, Cell]]:
    """Keep the call's answer when it is no worse than the best plan; the occupied cells after."""
    best.clock_stopped |= _cut_by_clock(solver)
    work = max(MIN_CALL_WORK, solver.deterministic_time + call.variables * BUILD_WORK_PER_VARIABLE)
    best.work += work
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        sizes.learn(call.kind, False, 0, work)
        return cells
    plan = best.roster.copy()
    gain = 0
    moved: list[dict[int, Cell]] | None = None  # the occupied cells after a replan's patients moved
    if _apply(call, plan, solver.boolean_value):
        if call.then_nurses:
            moved = cells_of(c, plan.admissions)
            extra = _replan_nurses(c, best, call, plan, moved, solver.parameters, deadline)
            work += extra
            best.work += extra
        hard, total = evaluate(c, plan)
        if (hard, total) <= (best.violations, best.cost):  # sideways too (see above)
            gain = max(0, best.cost - total)
            if (hard, total) < (best.violations, best.cost):
                best.improvements += 1
                best.history.append((time.monotonic(), total))
                best.by_kind[call.kind] = best.by_kind.get(call.kind, 0) + 1
            best.roster, best.violations, best.cost = plan, hard, total
            if call.admissions is not None:
                cells = moved if moved is not None else cells_of(c, plan.admissions)
    sizes.learn(call.kind, status == cp_model.OPTIMAL, gain, work)
    if log is not None:
        log(f"{call.number + 1} {call.kind} size={sizes.size[call.kind]:.0f} vars={call.variables} "
            f"{solver.status_name(status)} solve={solver.wall_time:.2f}s "
            f"dtime={solver.deterministic_time:.2f} cost={best.cost}")
    return cells


def _replan_nurses(c: Compact, best: Outcome, call: _Call, plan: Roster, cells: list[dict[int, Cell]],
                   like: Any, deadline: float) -> float:
    """After a ``REPLAN`` call moved patients in ``plan`` (whose occupied cells are ``cells``): choose
    again the nurses of every room-shift their old or new stays touch, in place, with the seed and
    limits of ``like`` (the admission call's solver parameters), one worker and never past
    ``deadline``; the work it took."""
    before = best.roster.admissions
    free: set[tuple[int, int]] = set()
    for i in call.admissions.freed.patients if call.admissions is not None else ():
        if plan.admissions[i] == before[i]:
            continue
        for a in (before[i], plan.admissions[i]):
            if a is not None:
                free.update((g, a.room) for g in c.stay_shifts(c.patients[i], a.day))
    nm = build_nurse_model(c, plan.admissions, cells, plan.nurse, free, range(len(c.nurse_skill)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = like.random_seed
    solver.parameters.max_deterministic_time = like.max_deterministic_time
    solver.parameters.linearization_level = like.linearization_level
    solver.parameters.max_time_in_seconds = max(0.01, min(like.max_time_in_seconds,
                                                          deadline - time.monotonic()))
    status = solver.solve(nm.model)
    best.clock_stopped |= _cut_by_clock(solver)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (g, r), n in nm.assignment(solver.boolean_value).items():
            plan.nurse[g][r] = n
    return solver.deterministic_time + len(nm.b) * BUILD_WORK_PER_VARIABLE


def _cut_by_clock(solver: cp_model.CpSolver) -> bool:
    """Whether the solver's last solve ran into its wall-clock cap."""
    return bool(solver.wall_time >= solver.parameters.max_time_in_seconds * 0.99)


def _solve(solver: cp_model.CpSolver, model: cp_model.CpModel) -> tuple[cp_model.CpSolver, Any]:
    return solver, solver.solve(model)
