"""CP-SAT for ``find`` when checking slots one by one runs out of budget: start, room and
people chosen together, at one site.

``find`` ranks the edges of every feasible gap and checks the best in turn. When most of
them cost more than their score said (each person past the overtime threshold adds a soft
violation), or a gap has more starts than it looks at, its budget of checks runs out while
an unchecked start could still rank, and the answer would be the best found, not proven.
This model then takes over. It holds every start on the site's grid in every room at once:

- one ``place`` (a room and a start) is chosen; its score comes from ``find``'s own ranking;
- each role gets ``count`` distinct units, each free at that start (and, for equipment
  fixed in a room, in that room); a unit fills one place of the case only;
- a clinician taken at a start past their weekly overtime threshold adds a soft violation's
  points, so the model picks, where it can, a start and people that need no approval.

The objective is the option's score (in hundredths of a point) and then the earliest start,
so each solve gives the site's next option in ``find``'s order. The score is a lower bound:
the full check may still refuse the start or add points (a usual clinician kept in overtime),
and ``find`` keeps solving until the bound cannot beat its last option (a proof) or its
budget runs out (not proven). One worker, a fixed seed and a deterministic time limit keep
answers repeatable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from careflow.domain.timespans import Span

__all__ = ["Best", "Exhausted", "Fill", "Place", "Role", "SlotModel", "Unsettled"]

SEED = 1


@dataclass(frozen=True, slots=True)
class Place:
    """A start in a room (``room`` indexes the site's rooms, -1 when the case needs none) and
    its score from ``find``'s ranking, in hundredths of a point."""

    room: int
    start: int
    points: int


@dataclass(frozen=True, slots=True)
class Fill:
    """A unit that could fill a place of a role: ``key`` is used once per case; ``starts``
    are when it is free; ``rooms`` are the rooms it can serve (None: any); ``calm`` are the
    starts without an overtime approval (None: every start); ``preferred``: ``find`` takes it
    before anyone else."""

    key: str
    starts: Sequence[Span]
    rooms: frozenset[int] | None = None
    calm: Sequence[Span] | None = None
    preferred: bool = False  # the patient's usual or preferred clinician


@dataclass(frozen=True, slots=True)
class Role:
    """``count`` distinct units among ``fills``."""

    count: int
    fills: Sequence[Fill]


@dataclass(frozen=True, slots=True)
class Best:
    """The cheapest place left (an index into the model's places), its points with the
    overtime approvals its people need, and whether CP-SAT proved it the cheapest (when not,
    ``points`` are those of the place found, not a bound on the rest)."""

    place: int
    points: int
    proven: bool


@dataclass(frozen=True, slots=True)
class Exhausted:
    """No place left has distinct free units for every role."""


@dataclass(frozen=True, slots=True)
class Unsettled:
    """CP-SAT neither found a place nor proved there is none within its time limit."""


class SlotModel:
    """One site's places and roles; ``best`` gives the cheapest place not yet ``exclude``d."""

    def __init__(self, places: Sequence[Place], roles: Sequence[Role], overtime_points: int,
                 time_limit_s: float = 0.5) -> None:
        if not places:
            raise ValueError("a slot model needs at least one place")
        self.places = list(places)
        self.by_start: dict[int, list[int]] = {}
        for i, p in enumerate(places):
            self.by_start.setdefault(p.start, []).append(i)
        self.time_limit_s = time_limit_s
        model = self.model = cp_model.CpModel()
        order = sorted(range(len(places)), key=lambda i: (places[i].start, places[i].room))
        rank = [0] * len(places)
        for r, i in enumerate(order):
            rank[i] = r
        self.chosen = _one_place(model, places)
        self.start = model.new_int_var_from_domain(
            cp_model.Domain.from_values(sorted({p.start for p in places})), "start")
        model.add(self.start == sum(p.start * x for p, x in zip(places, self.chosen, strict=True)))
        rooms = sorted({p.room for p in places})
        room = model.new_int_var_from_domain(cp_model.Domain.from_values(rooms), "room")
        model.add(room == sum(p.room * x for p, x in zip(places, self.chosen, strict=True)))
        takes = [_role_gets_its_count(model, role, n) for n, role in enumerate(roles)]
        for role, take in zip(roles, takes, strict=True):
            _units_free_at_the_start(model, self.start, role, take)
            _fixed_units_in_their_room(model, room, role, take)
        _each_unit_fills_one_place(model, roles, takes)
        _a_usual_clinician_free_is_taken(model, self.start, roles, takes)
        soft = [late for role, take in zip(roles, takes, strict=True)
                for late in _overtime_needs_approval(model, self.start, role, take)]
        # Score first, then the earliest start: ``find``'s order within one site.
        self.scale = len(places)
        self.overtime_points = overtime_points
        self.soft = soft
        model.minimize(sum((self.scale * p.points + rank[i]) * x
                           for i, (p, x) in enumerate(zip(places, self.chosen, strict=True)))
                       + self.scale * overtime_points * sum(soft))

    def exclude(self, place: int) -> None:
        """Hard: the place is checked already; ``best`` gives the next one."""
        self.model.add(self.chosen[place] == 0)

    def exclude_at(self, start: int, points: int) -> None:
        """Hard: no place at ``start`` scoring ``points`` or more (an option there scores that)."""
        for i in self.by_start.get(start, ()):
            if self.places[i].points >= points:
                self.model.add(self.chosen[i] == 0)

    def best(self) -> Best | Exhausted | Unsettled:
        """The cheapest place left, with its points including soft violations."""
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = SEED
        solver.parameters.max_deterministic_time = self.time_limit_s
        solver.parameters.max_time_in_seconds = 2 * self.time_limit_s
        status = solver.solve(self.model)
        if status == cp_model.INFEASIBLE:
            return Exhausted()
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Unsettled()
        place = next(i for i, x in enumerate(self.chosen) if solver.boolean_value(x))
        late = sum(solver.boolean_value(v) for v in self.soft)
        return Best(place, self.places[place].points + self.overtime_points * late,
                    status == cp_model.OPTIMAL)


def _one_place(model: cp_model.CpModel, places: Sequence[Place]) -> list[cp_model.IntVar]:
    """Hard: the case takes exactly one place (one Boolean per place)."""
    chosen = [model.new_bool_var(f"place[{i}]") for i in range(len(places))]
    model.add_exactly_one(chosen)
    return chosen


def _role_gets_its_count(model: cp_model.CpModel, role: Role, n: int) -> list[cp_model.IntVar]:
    """Hard: the role gets exactly ``count`` of its units (one Boolean per unit)."""
    take = [model.new_bool_var(f"take[{n},{i}]") for i in range(len(role.fills))]
    model.add(sum(take) == role.count)
    return take


def _units_free_at_the_start(model: cp_model.CpModel, start: cp_model.IntVar, role: Role,
                             take: Sequence[cp_model.IntVar]) -> None:
    """Hard: a unit taken is free for the case at its start."""
    for fill, chosen in zip(role.fills, take, strict=True):
        model.add_linear_expression_in_domain(start, _domain(fill.starts)).only_enforce_if(chosen)


def _fixed_units_in_their_room(model: cp_model.CpModel, room: cp_model.IntVar, role: Role,
                               take: Sequence[cp_model.IntVar]) -> None:
    """Hard: equipment fixed in a room serves a case only in that room."""
    for fill, chosen in zip(role.fills, take, strict=True):
        if fill.rooms is not None:
            model.add_linear_expression_in_domain(
                room, cp_model.Domain.from_values(sorted(fill.rooms))).only_enforce_if(chosen)


def _each_unit_fills_one_place(model: cp_model.CpModel, roles: Sequence[Role],
                               takes: Sequence[Sequence[cp_model.IntVar]]) -> None:
    """Hard: a person, device or pool lane fills at most one place of the case."""
    by_key: dict[str, list[cp_model.IntVar]] = {}
    for role, take in zip(roles, takes, strict=True):
        for fill, chosen in zip(role.fills, take, strict=True):
            by_key.setdefault(fill.key, []).append(chosen)
    for places in by_key.values():
        if len(places) > 1:
            model.add_at_most_one(places)


def _a_usual_clinician_free_is_taken(model: cp_model.CpModel, start: cp_model.IntVar, roles: Sequence[Role],
                                     takes: Sequence[Sequence[cp_model.IntVar]]) -> None:
    """Hard, as ``find`` assigns people: a role of one place whose preferred units are free
    takes one of them (overtime and all). Only where those units can fill no other role, so
    that taking one never costs another role its own: then every team ``find`` could pick is
    still in the model, and its points stay a lower bound."""
    elsewhere: dict[str, int] = {}
    for role in roles:
        for key in {f.key for f in role.fills}:
            elsewhere[key] = elsewhere.get(key, 0) + 1
    for n, (role, take) in enumerate(zip(roles, takes, strict=True)):
        usual = [(f, x) for f, x in zip(role.fills, take, strict=True) if f.preferred]
        if role.count != 1 or not usual or any(elsewhere[f.key] > 1 for f, _ in usual):
            continue
        free = _domain([span for f, _ in usual for span in f.starts])
        here = model.new_bool_var(f"usual_free[{n}]")
        model.add_linear_expression_in_domain(start, free).only_enforce_if(here)
        model.add_linear_expression_in_domain(start, free.complement()).only_enforce_if(here.Not())
        model.add(sum(x for _, x in usual) >= 1).only_enforce_if(here)


def _overtime_needs_approval(model: cp_model.CpModel, start: cp_model.IntVar, role: Role,
                             take: Sequence[cp_model.IntVar]) -> list[cp_model.IntVar]:
    """Soft: a clinician taken at a start outside their ``calm`` starts (past the weekly
    overtime threshold) needs an approval; one flag per such unit, set when it does."""
    flags: list[cp_model.IntVar] = []
    for fill, chosen in zip(role.fills, take, strict=True):
        if fill.calm is None:
            continue
        calm = model.new_bool_var(f"calm[{fill.key}]")
        model.add_linear_expression_in_domain(start, _domain(fill.calm)).only_enforce_if(calm)
        late = model.new_bool_var(f"overtime[{fill.key}]")
        model.add_bool_or([chosen.Not(), calm, late])
        flags.append(late)
    return flags


def _domain(spans: Sequence[Span]) -> cp_model.Domain:
    """Half-open spans (overlapping or not) as a CP-SAT domain of closed intervals; empty spans
    give no values."""
    return cp_model.Domain.from_intervals([[lo, hi - 1] for lo, hi in spans if hi > lo])
