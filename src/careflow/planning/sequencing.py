"""Day-of-surgery sequencing: the order and start times of a site's cases in each room.

``sequence(problem, time_limit, seed)`` builds the CP-SAT model (``sequencing_build``: the
variables and hard rules of ``sequencing_model`` and ``sequencing_order``, the soft ones of
``sequencing_soft``),
solves it with an explicit time limit and seed on one worker (so the same day, seed and
limit give the same proposal, unless the wall-clock limit cuts the search short on a
loaded machine: the deterministic budget, equal to the limit, usually stops it first),
and returns a ``SequenceResult`` that explains itself: the status, the objective, each
soft rule's penalty (recomputed from the proposal by ``sequencing_rules``, next to the
same terms for the day as booked), each case's room, order and start, and why each
moved case moved. An infeasible day is explained by the rules that cannot all hold.

Every proposal is checked against the hard rules outside the solver before it is returned;
one that fails the check (a defect: the model and the rules disagree) is withheld, with
status ``unknown`` and what it broke.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ortools.sat.python import cp_model

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import ResourceId
from careflow.planning.sequencing_build import build_model
from careflow.planning.sequencing_explain import explain_infeasible, why_moved
from careflow.planning.sequencing_order import order_breaches
from careflow.planning.sequencing_problem import CasePlan, DayProblem, SequenceResult, SolveStatus
from careflow.planning.sequencing_rules import Grid, booked_placement, breaches, penalties

__all__ = ["MAX_CASES", "MAX_TIME_LIMIT", "sequence"]

MAX_TIME_LIMIT = 120.0
MAX_CASES = 400
_STATUS = {cp_model.OPTIMAL: SolveStatus.OPTIMAL, cp_model.FEASIBLE: SolveStatus.FEASIBLE,
           cp_model.INFEASIBLE: SolveStatus.INFEASIBLE}


def _plans(problem: DayProblem, placement: dict[str, tuple[str, int]],
           reasons: dict[str, tuple[str, ...]]) -> tuple[CasePlan, ...]:
    grid = Grid(problem.origin)
    out: list[CasePlan] = []
    for room in problem.rooms:
        here = sorted((c for c in problem.cases if placement[c.booking_id][0] == room.id),
                      key=lambda c: (placement[c.booking_id][1], c.booking_id))
        for order, case in enumerate(here, 1):
            minute = placement[case.booking_id][1]
            start = case.start if minute == grid.down(case.start) else grid.ts(minute)
            out.append(CasePlan(case.booking_id, case.patient_id, case.service_code, ResourceId(room.id),
                                order, start, start + case.duration, case.room_id, case.start,
                                reasons.get(case.booking_id, ())))
    return tuple(out)


def _solver(time_limit: float, seed: int, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.max_deterministic_time = time_limit
    return solver


def _why_infeasible(problem: DayProblem, time_limit: float, seed: int) -> tuple[str, ...]:
    """The hard rules that cannot hold together: the model again, its rule literals assumed."""
    built = build_model(problem, explain=True)
    solver = _solver(time_limit, seed, 1)
    if solver.solve(built.model) != cp_model.INFEASIBLE:
        return explain_infeasible(problem, [])
    core: Sequence[int] = solver.sufficient_assumptions_for_infeasibility()
    return explain_infeasible(problem, [built.assumptions[i] for i in core])


def sequence(problem: DayProblem, time_limit: float = 10.0, seed: int = 0,
             workers: int = 1) -> SequenceResult:
    """Propose the day's order and start times in each room within ``time_limit`` seconds."""
    if not 0 < time_limit <= MAX_TIME_LIMIT:
        raise InvalidRequest(f"time_limit must be more than 0 and at most {MAX_TIME_LIMIT:g} seconds",
                             "time_limit")
    if not 0 <= seed < 2**31:
        raise InvalidRequest("seed must be from 0 to 2147483647", "seed")
    if len(problem.cases) > MAX_CASES:
        raise InvalidRequest(f"at most {MAX_CASES} cases in one day", "cases")
    booked = booked_placement(problem)
    before = tuple(penalties(problem, booked))
    began = time.perf_counter()
    if not problem.cases:
        return SequenceResult(SolveStatus.OPTIMAL, 0, (), before, before, ("no cases to sequence",),
                              0.0, seed, time_limit)
    built = build_model(problem)
    solver = _solver(time_limit, seed, workers)
    code = solver.solve(built.model)
    status = _STATUS.get(code, SolveStatus.UNKNOWN)
    if status is SolveStatus.INFEASIBLE:
        lines = _why_infeasible(problem, time_limit, seed)
        return SequenceResult(status, None, booked_penalties=before, explanation=lines,
                              seconds=round(time.perf_counter() - began, 3), seed=seed, time_limit=time_limit)
    seconds = round(time.perf_counter() - began, 3)
    if status is SolveStatus.UNKNOWN:
        return SequenceResult(status, None, booked_penalties=before,
                              explanation=(f"no proposal found within {time_limit:g} s; allow more time",),
                              seconds=seconds, seed=seed, time_limit=time_limit)
    placement: dict[str, tuple[str, int]] = {c.booking_id: (next(r for (b, r), lit in built.in_room.items()
                                     if b == c.booking_id and solver.boolean_value(lit)),
                                int(solver.value(built.start[c.booking_id])))
                 for c in problem.cases}
    broken = breaches(problem, placement) + order_breaches(problem, placement)
    if broken:  # the model and the rules disagree (a defect): never hand out a proposal that breaks one
        return SequenceResult(SolveStatus.UNKNOWN, None, booked_penalties=before, explanation=(
            f"the solver's proposal broke {broken[0].rule} when re-checked ({broken[0].message}); "
            "it is not proposed",), seconds=seconds, seed=seed, time_limit=time_limit)
    after = tuple(penalties(problem, placement))
    reasons = why_moved(problem, booked, placement, before, after)
    return SequenceResult(status, int(solver.objective_value), _plans(problem, placement, reasons), after,
                          before, (), seconds, seed, time_limit)
