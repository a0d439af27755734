"""Concrete units for an option's needs: greedy first, then a bounded exact search, then CP-SAT.

Each need of a case (a role on the preference card) asks for ``count`` distinct units among
those free at the slot's start, listed in the order ``find`` prefers them: a usual or
preferred clinician first, then the tightest fit (the least idle time before the case). One
unit fills one place of one case only: a person or a device once, a pool lane once.

1. The greedy pass takes every need's best units in turn. When it never had to skip a unit
   another need took, each need got its cheapest units, so the result is optimal.
2. Otherwise a depth-first branch and bound over the same order looks for the cheapest
   assignment within ``steps`` unit placements; when it completes, it has proven the best
   assignment (or that there is none).
3. When the budget runs out first (many units and roles drawing on the same people), a
   CP-SAT model decides: one Boolean per (need, unit), exactly ``count`` per need, each unit
   at most once, minimizing the same cost. It runs only in this case, so ``find`` stays fast.

The cost is lexicographic, as the greedy order: every non-preferred unit costs more than the
soft violations and slack of all units together, and a soft violation (a clinician who would
need an overtime approval) more than all the slack, so an assignment keeps as many preferred
people as it can, then needs the fewest approvals, then leaves the least idle time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

__all__ = ["ASSIGN_STEPS", "Assigned", "Demand", "Unit", "Unsettled", "assign", "assign_cp_sat"]

ASSIGN_STEPS = 256  # unit placements the exact search tries before CP-SAT takes over
TIME_LIMIT_S = 0.5
SEED = 1


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit that could fill a need: ``key`` may be used once per case (a person, a device,
    a pool's lane), ``slack`` is its idle time before the case (lower fits tighter) and
    ``soft`` the soft violations taking it would add (a clinician past the overtime threshold)."""

    key: str
    preferred: bool = False
    slack: int = 0
    soft: int = 0


@dataclass(frozen=True, slots=True)
class Demand:
    """A need: ``count`` distinct units among ``units`` (in preference order)."""

    count: int
    units: tuple[Unit, ...]


@dataclass(frozen=True, slots=True)
class Assigned:
    """The chosen units per need (indices into its ``units``), their cost, how they were
    found (``greedy``, ``search`` or ``cp-sat``) and whether they are proven the cheapest."""

    picks: tuple[tuple[int, ...], ...]
    cost: int
    method: str
    proven: bool


@dataclass(frozen=True, slots=True)
class Unsettled:
    """Neither the exact search nor CP-SAT settled, within their budgets, whether distinct units
    exist for every need."""


def _costs(demands: Sequence[Demand]) -> list[list[int]]:
    """Per need and unit: a non-preferred unit costs more than all the soft violations and
    slack there can be, and a soft violation more than all the slack."""
    places = sum(d.count for d in demands)
    slack = 1 + places * max((u.slack for d in demands for u in d.units), default=0)
    soft = slack * (1 + places * max((u.soft for d in demands for u in d.units), default=0))
    return [[(0 if u.preferred else soft) + u.soft * slack + u.slack for u in d.units] for d in demands]


def assign(demands: Sequence[Demand], steps: int = ASSIGN_STEPS,
           time_limit_s: float = TIME_LIMIT_S) -> Assigned | Unsettled | None:
    """The cheapest assignment of distinct units to every demand, None when none exists, or
    ``Unsettled`` when the search ran out and CP-SAT found none in its time limit."""
    if any(len(d.units) < d.count for d in demands):
        return None
    costs = _costs(demands)
    greedy = _greedy(demands, costs)
    if greedy is not None:
        return greedy
    searched, complete = _branch_and_bound(demands, costs, steps)
    if complete:
        return searched
    found = assign_cp_sat(demands, time_limit_s, hint=searched)
    if isinstance(found, Assigned):
        return found
    if searched is not None:  # the search was cut short: the best it found, not proven
        return replace(searched, proven=False)
    return found


def _greedy(demands: Sequence[Demand], costs: list[list[int]]) -> Assigned | None:
    """Each need's best free units in turn; None unless no need had to skip a taken unit."""
    used: set[str] = set()
    picks: list[tuple[int, ...]] = []
    for d in demands:
        mine: list[int] = []
        for i, unit in enumerate(d.units):
            if len(mine) == d.count:
                break
            if unit.key in used:
                return None  # a conflict: the first choices are no longer a proof
            used.add(unit.key)
            mine.append(i)
        picks.append(tuple(mine))
    return Assigned(tuple(picks), _total(picks, costs), "greedy", True)


def _total(picks: Sequence[Sequence[int]], costs: list[list[int]]) -> int:
    return sum(costs[n][i] for n, chosen in enumerate(picks) for i in chosen)


def _branch_and_bound(demands: Sequence[Demand], costs: list[list[int]],
                      steps: int) -> tuple[Assigned | None, bool]:
    """The cheapest assignment by depth-first search in preference order, pruned by a bound
    (each remaining need's cheapest units, conflicts aside); complete unless ``steps`` ran out."""
    floor = [sum(sorted(c)[:d.count]) for d, c in zip(demands, costs, strict=True)]
    rest = [sum(floor[n:]) for n in range(len(demands))] + [0]
    best: list[Assigned | None] = [None]
    left = [steps]
    chosen: list[list[int]] = [[] for _ in demands]
    used: set[str] = set()

    def bound() -> int:
        return best[0].cost if best[0] is not None else 2**62

    def fill(n: int, first: int, spent: int) -> bool:
        """Fill need ``n`` from its ``first`` unit on, then the rest; False when out of steps."""
        if n == len(demands):
            if spent < bound():
                best[0] = Assigned(tuple(tuple(c) for c in chosen), spent, "search", True)
            return True
        d = demands[n]
        if len(chosen[n]) == d.count:
            return fill(n + 1, 0, spent)
        missing = d.count - len(chosen[n])
        for i in range(first, len(d.units) - missing + 1):
            unit = d.units[i]
            if unit.key in used:
                continue
            # the cheapest this branch can end at: what is spent, this unit, the rest of this
            # need at its cheapest from here (units are in preference order), the later needs
            tail = sorted(costs[n][i + 1:])[:missing - 1]
            if spent + costs[n][i] + sum(tail) + rest[n + 1] >= bound():
                continue
            left[0] -= 1
            if left[0] < 0:
                return False
            used.add(unit.key)
            chosen[n].append(i)
            going = fill(n, i + 1, spent + costs[n][i])
            chosen[n].pop()
            used.discard(unit.key)
            if not going:
                return False
        return True

    complete = fill(0, 0, 0)
    return best[0], complete


def assign_cp_sat(demands: Sequence[Demand], time_limit_s: float = TIME_LIMIT_S,
                  hint: Assigned | None = None, seed: int = SEED) -> Assigned | Unsettled | None:
    """The cheapest assignment by CP-SAT (one worker, a fixed seed: deterministic), None when
    there is none, or ``Unsettled`` when none was found within ``time_limit_s``."""
    costs = _costs(demands)
    model = cp_model.CpModel()
    take = [[model.new_bool_var(f"take[{n},{i}]") for i in range(len(d.units))]
            for n, d in enumerate(demands)]
    _each_need_gets_its_count(model, demands, take)
    _each_unit_fills_one_place(model, demands, take)
    model.minimize(sum(costs[n][i] * take[n][i] for n, d in enumerate(demands) for i in range(len(d.units))))
    if hint is not None:
        for n, d in enumerate(demands):
            for i in range(len(d.units)):
                model.add_hint(take[n][i], i in hint.picks[n])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    # Deterministic time ends it, so a search repeats its options; the wall clock (twice as
    # long) only stops it on a machine too busy to keep up.
    solver.parameters.max_deterministic_time = time_limit_s
    solver.parameters.max_time_in_seconds = 2 * time_limit_s
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return None
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Unsettled()
    picks = tuple(tuple(i for i in range(len(d.units)) if solver.boolean_value(take[n][i]))
                  for n, d in enumerate(demands))
    return Assigned(picks, _total(picks, costs), "cp-sat", status == cp_model.OPTIMAL)


def _each_need_gets_its_count(model: cp_model.CpModel, demands: Sequence[Demand],
                              take: list[list[cp_model.IntVar]]) -> None:
    """Hard: a need gets exactly ``count`` units."""
    for n, d in enumerate(demands):
        model.add(sum(take[n]) == d.count)


def _each_unit_fills_one_place(model: cp_model.CpModel, demands: Sequence[Demand],
                               take: list[list[cp_model.IntVar]]) -> None:
    """Hard: a person, device or pool lane fills at most one place of the case."""
    by_key: dict[str, list[cp_model.IntVar]] = {}
    for n, d in enumerate(demands):
        for i, unit in enumerate(d.units):
            by_key.setdefault(unit.key, []).append(take[n][i])
    for chosen in by_key.values():
        if len(chosen) > 1:
            model.add_at_most_one(chosen)
