"""Solve an IHTC-2024 instance within a time limit: a greedy feasible start (or, when cheaper, the
days-first start of ``days_first.py``: everyone's days in one CP-SAT model, then rooms packed),
simulated annealing of the admissions, on long limits the whole admission plan in one CP-SAT
model (``master.py``) when optional patients are left out and the model is small, a nurse plan by
annealing and descent, then
CP-SAT large-neighbourhood search (``lns.py``) for the rest of the time. On long limits a search
that gains too little for a while stops, and the whole solve runs again with another seed in
the time left (``RESTARTS``); the best plan is kept.

Every phase has a work budget derived from the time limit (annealing moves, CP-SAT deterministic
seconds) and a wall-clock deadline as a safety stop. With one thread a seed repeats its plan as
long as no deadline is what stops a phase; see ``lns.py`` for what more threads change.
``deterministic=True`` caps the budgets (``DETERMINISTIC``) and interleaves CP-SAT's workers, so a
seed repeats its plan for a given number of threads; ``Solved.repeatable`` says whether it did. With
``WITH_LNS`` the neighbourhood search's budget is generous, so its deadline usually ends it (the
time is used; the plan then depends on the machine's speed). Time limits under
``LNS_MIN_SECONDS`` skip the CP-SAT phase.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from careflow.planning.ihtc.compact import Compact, compact
from careflow.planning.ihtc.construct import MAX_RESTARTS, construct_admissions
from careflow.planning.ihtc.days_first import days_first
from careflow.planning.ihtc.instance import Instance
from careflow.planning.ihtc.lns import Budget, Patience, evaluate, improve
from careflow.planning.ihtc.local import admission_cost, improve_admissions
from careflow.planning.ihtc.master import model_size, refine_admissions
from careflow.planning.ihtc.nurses import assign_nurses
from careflow.planning.ihtc.solution import Solution
from careflow.planning.ihtc.ward import Roster, fill_empty_cells, to_solution

__all__ = ["CALL_WORK", "DAYS_FIRST_SHARE", "DETERMINISTIC", "LNS_MIN_SECONDS", "MASTER", "RESTARTS", "SHORT",
           "WITH_LNS", "RestartRule", "Schedule", "Solved", "solve"]

_log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class Schedule:
    """How a time limit is shared: phases end at these shares of it; annealing moves and CP-SAT
    deterministic seconds per second of limit (work budgets, not clocks, so a seed repeats its plan)."""

    construct: float
    anneal: float
    nurses: float
    moves_per_second: int
    nurse_moves_per_second: int
    lns_work_per_second: float


# Below LNS_MIN_SECONDS building CP-SAT models does not pay: greedy, annealing and descent only.
LNS_MIN_SECONDS = 5.0
SHORT = Schedule(construct=0.3, anneal=0.75, nurses=0.9, moves_per_second=25000,
                 nurse_moves_per_second=40000, lns_work_per_second=0.0)
# With CP-SAT to follow, the nurse annealing is short: cut by its deadline it would stop hot (it keeps
# no best plan), and greedy + descent + nurse neighbourhoods do better in the same time.
# The search's work budget is above what CP-SAT gets through in the time left on this 2-core machine
# (2 workers do up to 2.3 deterministic seconds per wall second on the small instances), so the clock
# ends it: at 0.5, i02, i07 and i15 stopped at 462-532 s of a 600 s limit with the budget spent.
WITH_LNS = Schedule(construct=0.2, anneal=0.45, nurses=0.55, moves_per_second=25000,
                    nurse_moves_per_second=2000, lns_work_per_second=1.5)
# ``solve(deterministic=True)`` caps the work budgets at these, below what the clock allows on this
# 2-core machine, so that the work and not the clock ends each phase; ``Solved.repeatable`` says
# whether it did. At 60 s, 1 thread, the other core busy: 23-37 s of the 60 used on seven public
# instances, all repeatable (bench/results/ihtc_lns.md). The annealing had 20000 moves per second of
# limit until the same kind of machine, idle, took 2.2 s for test06's 120000 moves at 6 s, past the
# annealing's share (1.35 s at 10000). At 10000 the same box on a slow day (its whole test suite
# 2.3 times slower) took 1.84 s for test06's 60000 moves, again past the share, so 5000 now. The
# whole admission model does not run (its limit is wall-clock time).
DETERMINISTIC = Schedule(construct=0.2, anneal=0.45, nurses=0.55, moves_per_second=5000,
                         nurse_moves_per_second=5000, lns_work_per_second=0.1)
# The days-first start (``days_first.py``) gets at most this share of the limit, inside the
# construction's share; the annealing starts from it when its admission cost is lower than the
# greedy start's. 120 s, 1 thread, side by side: i22 57741 -> 51417, i27 62394 -> 58505, i16
# 12425 -> 11767, i20 33180 -> 31661; i02 and i07 unchanged (the greedy start was cheaper).
DAYS_FIRST_SHARE = 0.1
# Deterministic seconds per CP-SAT call: small neighbourhoods, many calls.
CALL_WORK = 0.15


@dataclass(frozen=True, slots=True)
class MasterRule:
    """When the whole admission model runs: limits of at least ``min_seconds``, an estimated model
    of at most ``max_variables`` placements, optional patients left out after the annealing; it
    takes ``share`` of the limit from the annealing."""

    min_seconds: float
    max_variables: int
    share: float


# Measured at 120 s, 2 threads, one run each (bench/results/ihtc_lns.md): i16 12744 -> 12360, i08 and i13
# -0.3 %, i07 +2.3 %; i27 +4.4 % (presolve of its 250k-placement model ate the share: hence the size cap).
MASTER = MasterRule(min_seconds=300.0, max_variables=20000, share=0.15)


def _reserve(time_limit: float) -> float:
    """Seconds kept back at the end for writing the solution out."""
    return min(1.0, max(0.05, 0.03 * time_limit))


@dataclass(frozen=True, slots=True)
class Solved:
    """A solution and whether the same call repeats it: no phase was cut by the clock, and the
    search's CP-SAT calls were deterministic (one worker, or ``deterministic``). ``rounds`` is the
    cost of each whole solve in turn (more than one when the search stalled and started again,
    ``RESTARTS``); ``stalled_at``, the seconds into the solve when the first one's search stopped
    for gaining too little."""

    solution: Solution
    repeatable: bool
    rounds: tuple[int, ...] = ()
    stalled_at: float | None = None


@dataclass(frozen=True, slots=True)
class RestartRule:
    """When the search starts again: on limits of at least ``min_seconds`` (not ``deterministic``),
    once the neighbourhood search's last ``patience`` of the limit lowered the cost by no more
    than ``gain`` of it, the whole solve runs again with another seed for ``round`` of the limit
    (never under ``min_round`` seconds; the last round takes what is left), round after round
    until the limit; the best plan is kept."""

    min_seconds: float
    patience: float
    gain: float
    round: float
    min_round: float


# On small instances the search settles within seconds and then walks a plateau for the rest of a long
# limit: i01 at 600 s reached 3880 at 292 s and nothing lower in the 300 s after, while runs of the
# same code ended at 3958 (600 s) and 3929 (60 s). Middle-sized ones creep: i11 went 26003 -> 25998
# from 300 s to 362 s, then stalled at 422 s, and the 178 s round after it reached 25975. The spread
# between seeds is larger than what the last minutes of one search gain (i16 at 120 s, 1 thread:
# 11331 to 12546 over four seeds), so a search that gains less than 0.1 % in a tenth of the limit
# makes way for a fresh one; it gives up at most that much per tenth of the limit left. Large
# instances gain more and run on.
RESTARTS = RestartRule(min_seconds=300.0, patience=0.1, gain=0.001, round=0.2, min_round=60.0)


def solve(instance: Instance, time_limit: float, seed: int = 0, threads: int = 1,
          deterministic: bool = False) -> Solved:
    """A solution of ``instance`` within ``time_limit`` seconds (wall clock), ``threads`` CP-SAT
    workers; ``deterministic`` trades quality for work budgets the clock does not cut (see
    ``DETERMINISTIC``) and a search whose workers do not race. On long limits a search that
    stalls starts again with another seed (``RESTARTS``) and the best plan is kept."""
    start = time.monotonic()
    budget = max(0.0, time_limit)
    c = compact(instance)
    restarts = not deterministic and budget >= RESTARTS.min_seconds
    patience = Patience(RESTARTS.patience * budget, RESTARTS.gain) if restarts else None
    best = _solve_once(c, budget, seed, threads, deterministic, patience)
    stalled_at = time.monotonic() - start if best.stalled else None
    costs = [best.cost]  # each round's
    length = max(RESTARTS.min_round, RESTARTS.round * budget)
    restart = best.stalled  # only a search given patience stalls; later rounds run to the limit
    while restart and (remaining := start + budget - time.monotonic()) >= RESTARTS.min_round:
        # The last round takes what is left rather than leave less than a round unused.
        again = _solve_once(c, remaining if remaining < length + RESTARTS.min_round else length,
                            seed + 104729 * len(costs), threads, False, patience)
        _log.debug("ihtc restart %d: cost %d (best %d)", len(costs), again.cost, best.cost)
        costs.append(again.cost)
        if (again.violations, again.cost) < (best.violations, best.cost):
            best = again
    return Solved(to_solution(c, best.roster), repeatable=best.repeatable and len(costs) == 1,
                  rounds=tuple(costs), stalled_at=stalled_at)


@dataclass(frozen=True, slots=True)
class _Round:
    roster: Roster
    cost: int
    violations: int
    repeatable: bool
    stalled: bool


def _solve_once(c: Compact, budget: float, seed: int, threads: int, deterministic: bool,
                patience: Patience | None) -> _Round:
    """One whole solve of ``budget`` seconds from now: start, annealing, nurses, search."""
    start = time.monotonic()
    plan = SHORT if budget < LNS_MIN_SECONDS else WITH_LNS
    if deterministic:
        plan = replace(plan, moves_per_second=min(plan.moves_per_second, DETERMINISTIC.moves_per_second),
                       nurse_moves_per_second=min(plan.nurse_moves_per_second,
                                                  DETERMINISTIC.nurse_moves_per_second),
                       lns_work_per_second=min(plan.lns_work_per_second, DETERMINISTIC.lns_work_per_second))
    construct_end = start + budget * plan.construct
    built = construct_admissions(c, seed, construct_end)
    cut = not built.complete and built.restarts < MAX_RESTARTS
    if plan.lns_work_per_second > 0 and DAYS_FIRST_SHARE > 0:
        packed, clock = days_first(c, seed, budget * DAYS_FIRST_SHARE, construct_end, threads, deterministic)
        cut = cut or clock
        if packed is not None and admission_cost(c, packed.admissions) < admission_cost(c, built.admissions):
            built = packed
    capped = min(budget, 600.0)
    master = plan.lns_work_per_second > 0 and budget >= MASTER.min_seconds and not deterministic \
        and model_size(c) <= MASTER.max_variables
    anneal_end = start + budget * (plan.anneal - (MASTER.share if master else 0.0))
    admitted = improve_admissions(c, built.admissions, seed, int(capped * plan.moves_per_second), anneal_end)
    cut = cut or time.monotonic() >= anneal_end
    whole_model = master and any(a is None for a in admitted)  # its limit is wall-clock time
    if whole_model:
        admitted = refine_admissions(c, admitted, budget * MASTER.share, threads, seed)
    nurse_moves = int(capped * plan.nurse_moves_per_second)
    nurses_end = start + budget * plan.nurses
    nurses = assign_nurses(c, admitted, nurses_end, seed, nurse_moves)
    cut = cut or time.monotonic() >= nurses_end
    roster = Roster(admitted, nurses.nurse)
    racing = False
    if plan.lns_work_per_second > 0:
        fill_empty_cells(c, roster)
        lns = Budget(work=capped * plan.lns_work_per_second, deadline=start + budget - _reserve(budget),
                     call=CALL_WORK, threads=max(1, threads), seed=seed, deterministic=deterministic,
                     patience=patience)
        outcome = improve(c, roster, lns, _log.debug if _log.isEnabledFor(logging.DEBUG) else None)
        _log.debug("ihtc lns: cost %d, %d hard, %d calls, %d improvements %s, work %.2f, clock stopped: %s",
                   outcome.cost, outcome.violations, outcome.calls, outcome.improvements, outcome.by_kind,
                   outcome.work, outcome.clock_stopped)
        roster = outcome.roster
        cut = cut or outcome.clock_stopped
        racing = threads > 1 and not deterministic
        return _Round(roster, outcome.cost, outcome.violations, not (cut or whole_model or racing),
                      outcome.stalled)
    violations, cost = evaluate(c, roster)
    return _Round(roster, cost, violations, not (cut or whole_model or racing), False)
