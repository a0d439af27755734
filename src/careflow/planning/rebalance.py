"""Rebalancing: re-plan the bookings a disruption displaced, with as few changes as possible.

Each displaced booking comes with its candidate *moves* (options ``find`` proposed, each a
set of resource uses over intervals) and what each would change for the patient. CP-SAT
picks at most one move per booking so that no resource is ever used beyond its capacity,
counting what stays taken (other bookings, hours off duty) and what the displaced bookings
still hold while they are not moved. It places as many bookings as it can, weighted by
priority, and among those plans prefers the least total impact on patients.

Rules, one function each (hard first, then soft, each soft penalty growing with its size):

| rule | kind | what |
|---|---|---|
| ``at_most_one_move`` | hard | a booking takes one of its moves or stays where it is |
| ``capacity`` | hard | at every instant a resource's uses stay within its capacity |
| ``moves_apply_in_order`` | hard | a move onto what another booking holds comes after that one's move |
| ``unplaced`` | soft | a booking left unplaced costs more than all moves together, times its priority |
| ``time_shift`` | soft | per minute the patient's start moves |
| ``site_change`` | soft | the patient must go to another site |
| ``resource_change`` | soft | per resource (room, device, person) that changes |
| ``clinician_change`` | soft | the patient sees another clinician (on top of the resource change) |
| ``rank`` | soft | the option's own ranking points (tie-breaker) |

Deterministic: one worker and a fixed seed by default, with an explicit time limit.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ortools.sat.python import cp_model

from careflow.domain.bookings import Booking
from careflow.domain.options import Option

__all__ = [
    "DEFAULT_IMPACT",
    "Choice",
    "Displaced",
    "Impact",
    "ImpactWeights",
    "Move",
    "RebalanceProblem",
    "RebalanceResult",
    "Use",
    "impact_of",
    "solve",
]

SCALE = 1000  # objective units per point (the rank term is worth thousandths)
TIME_LIMIT_S = 2.0
SEED = 0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Use:
    """``units`` of a resource over ``[start, end)`` (seconds since the epoch)."""

    resource_id: str
    start: int
    end: int
    units: int = 1


@dataclass(frozen=True, slots=True)
class Impact:
    """What a move changes for the patient."""

    shift_minutes: int = 0
    site_changed: bool = False
    resources_changed: int = 0
    clinician_changed: bool = False
    rank_points: float = 0.0


@dataclass(frozen=True, slots=True)
class ImpactWeights:
    """Points per unit of each impact; a changed clinician or room weighs like a 30-minute move."""

    per_minute: float = 1.0
    site_change: float = 24 * 60
    resource_change: float = 30.0
    clinician_change: float = 30.0
    rank_point: float = 0.001

    def terms(self, impact: Impact) -> dict[str, float]:
        """The points of each soft rule for a move with this impact."""
        return {"time_shift": self.per_minute * abs(impact.shift_minutes),
                "site_change": self.site_change * impact.site_changed,
                "resource_change": self.resource_change * impact.resources_changed,
                "clinician_change": self.clinician_change * impact.clinician_changed,
                "rank": self.rank_point * impact.rank_points}

    def points(self, impact: Impact) -> float:
        """The impact of a move on the patient, in points (minutes of moving)."""
        return sum(self.terms(impact).values())


DEFAULT_IMPACT = ImpactWeights()


def impact_of(booking: Booking, option: Option, clinician_roles: frozenset[str]) -> Impact:
    """What moving ``booking`` to ``option`` changes for the patient (``clinician_roles``: the
    roles of its card that a clinician fills)."""
    before = {(a.role, a.resource_id) for a in booking.allocations}
    changed = [a for a in option.allocations if (a.role, a.resource_id) not in before]
    return Impact(
        shift_minutes=round((option.start - booking.start).total_seconds() / 60),
        site_changed=option.site_id != booking.site_id,
        resources_changed=len(changed),
        clinician_changed=any(a.role in clinician_roles for a in changed),
        rank_points=option.score)


@dataclass(frozen=True, slots=True)
class Move:
    """One way to re-place a booking: its resource uses and what it changes for the patient."""

    key: str
    uses: tuple[Use, ...]
    impact: Impact = Impact()


@dataclass(frozen=True, slots=True)
class Displaced:
    """A booking to re-place: its moves (best first), what it holds until it moves, and the
    weight of placing it (1 routine; more for urgent ones)."""

    booking_id: str
    moves: tuple[Move, ...]
    held: tuple[Use, ...] = ()
    priority: int = 1


@dataclass(frozen=True)
class RebalanceProblem:
    """The displaced bookings, each resource's capacity (1 when absent), and what stays taken."""

    displaced: tuple[Displaced, ...]
    capacity: Mapping[str, int] = field(default_factory=dict)
    taken: tuple[Use, ...] = ()
    weights: ImpactWeights = DEFAULT_IMPACT


@dataclass(frozen=True, slots=True)
class Choice:
    """What the plan does with one booking: the move it takes (None: unplaced) and why."""

    booking_id: str
    move_key: str | None
    points: float
    reason: str
    order: int = 0  # apply the moves in this order (a move onto another's place after it)


@dataclass(frozen=True)
class RebalanceResult:
    """The plan, explained: solver status, objective, per-rule penalties and per-booking choices."""

    status: str  # optimal, feasible, infeasible, unknown
    objective: float  # in points (minutes of moving); unplaced bookings included
    penalties: dict[str, float]
    choices: tuple[Choice, ...]
    seconds: float

    def in_order(self) -> list[Choice]:
        """The bookings the plan moves, in the order their moves must be applied."""
        return sorted((c for c in self.choices if c.move_key is not None), key=lambda c: c.order)

    def chosen(self, booking_id: str) -> str | None:
        """The key of the move the plan takes for the booking (None when unplaced)."""
        return next((c.move_key for c in self.choices if c.booking_id == booking_id), None)

    @property
    def placed(self) -> int:
        return sum(1 for c in self.choices if c.move_key is not None)

    def summary(self) -> str:
        """One line for a run report."""
        return (f"joint plan {self.status}, objective {self.objective:.1f}: {self.placed} of "
                f"{len(self.choices)} placed in {self.seconds:.2f} s")


@dataclass
class _Model:
    problem: RebalanceProblem
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    take: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)  # (booking, move)
    placed: dict[int, cp_model.LinearExprT] = field(default_factory=dict)
    order: dict[int, cp_model.IntVar] = field(default_factory=dict)  # booking → its move's turn
    terms: dict[str, list[tuple[int, cp_model.LinearExprT]]] = field(default_factory=dict)

    def term(self, rule: str, coefficient: int, expr: cp_model.LinearExprT) -> None:
        if coefficient:
            self.terms.setdefault(rule, []).append((coefficient, expr))


def solve(problem: RebalanceProblem, time_limit_s: float = TIME_LIMIT_S, seed: int = SEED,
          workers: int = 1) -> RebalanceResult:
    """The least disruptive plan that places the most (priority-weighted) bookings."""
    began = time.perf_counter()
    m = _Model(problem)
    for b, d in enumerate(problem.displaced):
        for k in range(len(d.moves)):
            m.take[b, k] = m.model.new_bool_var(f"take[{d.booking_id},{d.moves[k].key}]")
        m.placed[b] = sum(m.take[b, k] for k in range(len(d.moves)))
    _at_most_one_move(m)
    _capacity(m)
    _moves_apply_in_order(m)
    _unplaced(m)
    _impact(m)
    m.model.minimize(sum(c * e for terms in m.terms.values() for c, e in terms))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = time_limit_s
    # Whichever limit comes first ends the search: a plan proved optimal, or stopped by the
    # deterministic limit, repeats for the same problem and seed; one the wall clock stops may not.
    solver.parameters.max_deterministic_time = time_limit_s
    status = solver.solve(m.model)
    return _result(m, solver, status, time.perf_counter() - began)


# --- hard rules -----------------------------------------------------------------------------


def _at_most_one_move(m: _Model) -> None:
    """Hard: a booking takes at most one of its moves."""
    for b, d in enumerate(m.problem.displaced):
        if len(d.moves) > 1:
            m.model.add_at_most_one(m.take[b, k] for k in range(len(d.moves)))


def _capacity(m: _Model) -> None:
    """Hard: at every instant, the moves taken, what unmoved bookings still hold and what stays
    taken use at most a resource's capacity. The load peaks where some use starts, so the
    rule is stated at those instants, on the moves covering each."""
    p = m.problem
    moving: dict[str, list[tuple[Use, tuple[int, int]]]] = {}
    for b, d in enumerate(p.displaced):
        for k, mv in enumerate(d.moves):
            for use in mv.uses:
                moving.setdefault(use.resource_id, []).append((use, (b, k)))
    holding: dict[str, list[tuple[Use, int]]] = {}
    for b, d in enumerate(p.displaced):
        for use in d.held:
            if use.resource_id in moving:
                holding.setdefault(use.resource_id, []).append((use, b))
    fixed: dict[str, list[Use]] = {}
    for use in p.taken:
        if use.resource_id in moving:
            fixed.setdefault(use.resource_id, []).append(use)
    for rid, uses in moving.items():
        _capacity_of(m, p.capacity.get(rid, 1), uses, holding.get(rid, []), fixed.get(rid, []))


def _moves_apply_in_order(m: _Model) -> None:
    """Hard: a move onto a single unit another booking holds then comes after that booking's
    move: the store applies moves one at a time, so two bookings cannot trade places."""
    p = m.problem
    held: dict[str, list[tuple[Use, int]]] = {}
    for b, d in enumerate(p.displaced):
        for use in d.held:
            if p.capacity.get(use.resource_id, 1) == 1:
                held.setdefault(use.resource_id, []).append((use, b))
    n = len(p.displaced)
    for (b, k), lit in m.take.items():
        before = {other for use in p.displaced[b].moves[k].uses for h, other in held.get(use.resource_id, ())
                  if other != b and h.start < use.end and use.start < h.end}
        for other in sorted(before):
            for x in (b, other):
                if x not in m.order:
                    m.order[x] = m.model.new_int_var(0, n, f"order[{p.displaced[x].booking_id}]")
            m.model.add(m.order[other] < m.order[b]).only_enforce_if(lit)


def _covering(uses: Sequence[tuple[Use, T]], starts: list[int], longest: int, t: int) -> list[tuple[Use, T]]:
    """The uses (sorted by start, ``starts`` their starts) that cover instant ``t``."""
    lo, hi = bisect_right(starts, t - longest), bisect_right(starts, t)
    return [(u, x) for u, x in uses[lo:hi] if u.end > t]


def _capacity_of(m: _Model, capacity: int, uses: list[tuple[Use, tuple[int, int]]],
                 held: list[tuple[Use, int]], taken: list[Use]) -> None:
    """The capacity rule for one resource."""
    uses.sort(key=lambda x: x[0].start)
    held.sort(key=lambda x: x[0].start)
    fixed = sorted(((u, 0) for u in taken), key=lambda x: x[0].start)
    longest = max(u.end - u.start for u, _ in [*uses, *held, *fixed])
    starts = {name: [u.start for u, _ in seq]
              for name, seq in (("use", uses), ("held", held), ("fixed", fixed))}
    stated: set[tuple[frozenset[tuple[tuple[int, int], int]], int]] = set()
    for t in sorted({u.start for u, _ in [*uses, *held, *fixed]}):
        covering = _covering(uses, starts["use"], longest, t)
        if not covering:
            continue
        free = capacity - sum(u.units for u, _ in _covering(fixed, starts["fixed"], longest, t))
        still = _covering(held, starts["held"], longest, t)
        if sum(u.units for u, _ in covering) + sum(u.units for u, _ in still) <= free:
            continue  # cannot be exceeded here
        key = (frozenset((bk, u.units) for u, bk in covering), free)
        if not still and key in stated:
            continue
        stated.add(key)
        # a booking that stays holds its units: units * (1 - its moves taken), constants right
        variables = [m.take[bk] for _, bk in covering]
        weights = [u.units for u, _ in covering]
        for u, b in still:
            for k in range(len(m.problem.displaced[b].moves)):
                variables.append(m.take[b, k])
                weights.append(-u.units)
        rest = max(0, free) - sum(u.units for u, _ in still)
        m.model.add(cp_model.LinearExpr.weighted_sum(variables, weights) <= rest)


# --- soft rules -----------------------------------------------------------------------------


def _all_moves_cap(m: _Model) -> int:
    """The most all the bookings' moves could cost together (each its dearest), in objective units."""
    w = m.problem.weights
    return sum(max((round(w.points(mv.impact) * SCALE) for mv in d.moves), default=0)
               for d in m.problem.displaced)


def _unplaced(m: _Model) -> None:
    """Soft: leaving a booking unplaced costs more than all the moves together, times its
    priority, so the plan places as many (priority-weighted) bookings as it can first."""
    each = _all_moves_cap(m) + SCALE
    for b, d in enumerate(m.problem.displaced):
        m.term("unplaced", each * max(1, d.priority), 1 - m.placed[b])


def _impact(m: _Model) -> None:
    """Soft: each move taken pays its impact on the patient, rule by rule."""
    w = m.problem.weights
    for (b, k), lit in m.take.items():
        for rule, points in w.terms(m.problem.displaced[b].moves[k].impact).items():
            m.term(rule, round(points * SCALE), lit)


# --- result ---------------------------------------------------------------------------------


STATUS: dict[cp_model.CpSolverStatus, str] = {
    cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid"}


def _result(m: _Model, solver: cp_model.CpSolver, status: cp_model.CpSolverStatus,
            seconds: float) -> RebalanceResult:
    name = STATUS.get(status, "unknown")
    solved = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    w = m.problem.weights
    choices: list[Choice] = []
    for b, d in enumerate(m.problem.displaced):
        taken = next((k for k in range(len(d.moves)) if solved and solver.boolean_value(m.take[b, k])), None)
        if taken is not None:
            mv = d.moves[taken]
            turn = solver.value(m.order[b]) if b in m.order else 0
            choices.append(Choice(d.booking_id, mv.key, round(w.points(mv.impact), 3),
                                  f"moved ({_explain(w, mv.impact)})", turn))
        elif not d.moves:
            choices.append(Choice(d.booking_id, None, 0.0, "no move was offered"))
        elif solved:
            choices.append(Choice(d.booking_id, None, 0.0,
                                  f"each of its {len(d.moves)} move(s) would overfill a resource "
                                  "another booking's move needs more"))
        else:
            choices.append(Choice(d.booking_id, None, 0.0, f"no plan ({name}) within the time limit"))
    penalties = {rule: round(sum(c * solver.value(e) for c, e in terms) / SCALE, 3) if solved else 0.0
                 for rule, terms in m.terms.items()}
    objective = round(solver.objective_value / SCALE, 3) if solved else 0.0
    return RebalanceResult(name, objective, penalties, tuple(choices), seconds)


def _explain(w: ImpactWeights, impact: Impact) -> str:
    parts = [f"{rule} {points:g}" for rule, points in w.terms(impact).items() if points]
    return ", ".join(parts) or "no change"
