"""The CP-SAT model of a day's sequencing: its variables and hard rules, one function each.

Each case has a start (minutes from the day's origin) and, per room it may take, an
optional interval over ``[start - setup, end + turnover)``; exactly one is present.
Shared resources get ``[start, end + tail)`` intervals in a ``NoOverlap`` (capacity one)
or a ``Cumulative`` (pools, equipment of several units; an anesthesiologist's supervision
ratio), and those with lanes one lane held throughout. What the plan does
not move (other bookings, hours off duty) enters those constraints as fixed intervals.

Hard rules that can make a day infeasible are switched by literals (a case's room
hours, a locked case, the booking notice, a resource's hours on duty and its other
bookings). For the proposal they are constants (true), which presolve folds away; only
when a day is infeasible is the model built again with them as *assumptions*, so that
CP-SAT names a set of them that cannot hold together
(``SufficientAssumptionsForInfeasibility``): the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from careflow.planning.sequencing_problem import DayCase, DayProblem, Shared, SharedKind
from careflow.planning.sequencing_rules import Grid, available

__all__ = ["SequencingModel", "anesthesia_coverage", "booking_notice", "case_variables", "equipment_one_room",
           "locked_case", "moved_literals", "pool_lanes", "room_hours", "room_turnover", "staff_coverage",
           "surgeon_one_room"]


@dataclass
class SequencingModel:
    """The CP-SAT model with handles on its variables, terms and assumptions."""

    problem: DayProblem
    explain: bool = False  # the rule literals as assumptions (to explain infeasibility)
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    start: dict[str, cp_model.IntVar] = field(default_factory=dict)
    in_room: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    on_lane: dict[tuple[str, str, int], cp_model.IntVar] = field(default_factory=dict)
    taken: dict[tuple[str, str], list[cp_model.IntVar]] = field(default_factory=dict)
    terms: dict[str, list[cp_model.LinearExprT]] = field(default_factory=dict)
    assumptions: dict[int, str] = field(default_factory=dict)  # literal index → what it assumes
    literals: list[cp_model.IntVar] = field(default_factory=list)

    @property
    def grid(self) -> Grid:
        return Grid(self.problem.origin)

    @property
    def span(self) -> int:
        return Grid.minutes(self.problem.horizon)

    def assume(self, name: str) -> cp_model.IntVar:
        """A literal that switches a hard rule on: true, or an assumption when explaining."""
        if not self.explain:
            return self.model.new_constant(1)
        lit = self.model.new_bool_var(name)
        self.assumptions[lit.Index()] = name
        self.literals.append(lit)
        return lit

    def term(self, rule: str, expr: cp_model.LinearExprT) -> None:
        self.terms.setdefault(rule, []).append(expr)

    def rooms_of(self, case: DayCase) -> list[str]:
        return [r for (b, r) in self.in_room if b == case.booking_id]


def dur(case: DayCase) -> int:
    return Grid.minutes(case.duration)


# --- variables ----------------------------------------------------------------------------


def case_variables(m: SequencingModel) -> None:
    """A start per case; a room literal per room it may take (its booked room, or any that fits)."""
    for case in m.problem.cases:
        m.start[case.booking_id] = m.model.new_int_var(0, m.span, f"start[{case.booking_id}]")
        rooms = [case.room_id]
        if m.problem.allow_room_change and not case.locked:
            rooms += [r for r in case.rooms if r != case.room_id]
        for room_id in rooms:
            m.in_room[case.booking_id, room_id] = m.model.new_bool_var(f"in[{case.booking_id},{room_id}]")
        m.model.add_exactly_one(m.in_room[case.booking_id, r] for r in rooms)
        m.model.add_hint(m.start[case.booking_id], m.grid.down(case.start))
        for room_id in rooms:
            m.model.add_hint(m.in_room[case.booking_id, room_id], room_id == case.room_id)


def _fixed_interval(m: SequencingModel, lo: int, hi: int, present: cp_model.IntVar,
                    name: str) -> cp_model.IntervalVar | None:
    lo, hi = max(lo, -m.span), min(hi, 2 * m.span)
    if hi <= lo:
        return None
    return m.model.new_optional_fixed_size_interval_var(lo, hi - lo, present, name)


# --- hard rules -----------------------------------------------------------------------------


def room_hours(m: SequencingModel) -> None:
    """Hard: a case holds its room (setup to turnover) within one of the room's open spans;
    the last may run ``overtime_allowance`` past the close."""
    grid, allowance = m.grid, Grid.minutes(m.problem.overtime_allowance)
    for case in m.problem.cases:
        within = m.assume(f"room_hours:{case.booking_id}")
        for room_id in m.rooms_of(case):
            room = m.problem.room(room_id)
            starts: list[list[int]] = []
            for i, (a, b) in enumerate(room.open):
                close = grid.down(b) + (allowance if i == len(room.open) - 1 else 0)
                lo = grid.up(a) + Grid.minutes(case.setup)
                hi = close - dur(case) - Grid.minutes(case.turnover)
                if lo <= hi:
                    starts.append([lo, hi])
            domain = cp_model.Domain.from_intervals(starts) if starts else cp_model.Domain(1, 0)
            (m.model.add_linear_expression_in_domain(m.start[case.booking_id], domain)
             .only_enforce_if([m.in_room[case.booking_id, room_id], within]))


def room_turnover(m: SequencingModel) -> None:
    """Hard: a room holds one case at a time, each from its setup to the end of its turnover,
    and nothing the plan does not move."""
    for room in m.problem.rooms:
        intervals: list[cp_model.IntervalVar] = []
        for case in m.problem.cases:
            lit = m.in_room.get((case.booking_id, room.id))
            if lit is None:
                continue
            size = Grid.minutes(case.setup) + dur(case) + Grid.minutes(case.turnover)
            intervals.append(m.model.new_optional_fixed_size_interval_var(
                m.start[case.booking_id] - Grid.minutes(case.setup), size, lit,
                f"room[{room.id},{case.booking_id}]"))
        if not intervals:
            continue
        if room.fixed:
            held = m.assume(f"busy:{room.id}")
            for f in room.fixed:
                iv = _fixed_interval(m, m.grid.down(f.span[0]), m.grid.up(f.span[1]), held,
                                     f"held[{room.id}]")
                if iv is not None:
                    intervals.append(iv)
        m.model.add_no_overlap(intervals)


def _duty_blocks(m: SequencingModel, res: Shared, cap: int) -> list[tuple[int, int, int]]:
    """(start, end, units) the resource lacks below ``cap`` for the cases (off duty, held elsewhere)."""
    return [(lo, hi, cap - units) for lo, hi, units in available(m.problem, res) if units < cap]


def surgeon_one_room(m: SequencingModel) -> None:
    """Hard: a surgeon is in one room at a time, around their clinic and hours off duty."""
    _each_within_capacity(m, SharedKind.SURGEON)


def equipment_one_room(m: SequencingModel) -> None:
    """Hard: a piece of shared equipment serves one room at a time (each unit, for equipment of
    several), reprocessing included."""
    _each_within_capacity(m, SharedKind.EQUIPMENT)


def anesthesia_coverage(m: SequencingModel) -> None:
    """Hard: anesthesia covers no more rooms at once than it has staff on duty, a named
    anesthesiologist no more than the supervision ratio."""
    _each_within_capacity(m, SharedKind.ANESTHESIA)


def staff_coverage(m: SequencingModel) -> None:
    """Hard: every other pool covers no more cases at once than it has staff on duty."""
    _each_within_capacity(m, SharedKind.STAFF)


def _each_within_capacity(m: SequencingModel, kind: SharedKind) -> None:
    for res in m.problem.shared:
        if res.kind is kind:
            _within_capacity(m, res)


def _within_capacity(m: SequencingModel, res: Shared) -> None:
    """The cases' uses of ``res`` (with its reprocessing tail) within its capacity at every
    instant, less hours off duty and other bookings; one lane each throughout where it has lanes."""
    users = [(c, u.units) for c in m.problem.cases for u in c.uses if u.resource_id == res.id]
    if not users:
        return
    cap = max([units for _, units in users] + [u for _, _, u in available(m.problem, res)])
    intervals: list[cp_model.IntervalVar] = []
    demands: list[int] = []
    for case, units in users:
        size = dur(case) + Grid.minutes(res.tail)
        intervals.append(m.model.new_fixed_size_interval_var(m.start[case.booking_id], size,
                                                             f"use[{res.id},{case.booking_id}]"))
        demands.append(units)
    duty = m.assume(f"duty:{res.id}")
    for lo, hi, units in _duty_blocks(m, res, cap):
        if (iv := _fixed_interval(m, lo, hi, duty, f"off[{res.id}]")) is not None:
            intervals.append(iv)
            demands.append(units)
    if cap == 1:
        m.model.add_no_overlap(intervals)
    else:
        m.model.add_cumulative(intervals, demands, cap)
    if res.lanes:
        pool_lanes(m, res, users, duty)


def _lane_blocked(m: SequencingModel, res: Shared, lane: int) -> list[tuple[int, int]]:
    """Minutes a lane cannot take a case: off duty (headcount at most ``lane``) or held by a
    booking the plan does not move; merged, so the lane's fixed intervals never overlap."""
    grid = m.grid
    on = sorted((grid.up(a), grid.down(b)) for a, b, c in res.on_duty if c > lane)
    spans: list[tuple[int, int]] = []
    t = -m.span
    for lo, hi in on:
        if lo > t:
            spans.append((t, lo))
        t = max(t, hi)
    spans.append((t, 2 * m.span))
    spans += [(grid.down(f.span[0]), grid.up(f.span[1])) for f in res.fixed if f.lane == lane]
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        elif hi > lo:
            merged.append((lo, hi))
    return merged


def pool_lanes(m: SequencingModel, res: Shared, users: list[tuple[DayCase, int]],
               duty: cp_model.IntVar) -> None:
    """Hard (``staff_coverage`` / ``anesthesia_coverage`` / ``equipment_one_room``, as the core keeps
    pools and anything of capacity above 1): each case holds ``units`` distinct lanes throughout
    (equipment until reprocessed), one case per lane at a time.

    Lanes no case of the day is booked on and with the same hours blocked are interchangeable:
    they are one group, a ``Cumulative`` of their number (intervals on identical lanes can be
    laid on them whenever no more overlap than there are lanes), which spares the solver
    trying every permutation of them."""
    booked = {lane for case, _ in users for u in case.uses if u.resource_id == res.id for lane in u.lanes}
    blocked_of = {i: _lane_blocked(m, res, i) for i in range(res.lanes)}
    groups: dict[tuple[object, ...], list[int]] = {}
    for i in range(res.lanes):  # a lane a case is booked on is its own group: the case may keep it
        groups.setdefault(("booked", i) if i in booked else tuple(blocked_of[i]), []).append(i)
    for lanes in groups.values():
        blocked, size = blocked_of[lanes[0]], len(lanes)
        intervals: list[cp_model.IntervalVar] = []
        demands: list[cp_model.LinearExprT] = []
        for lo, hi in blocked:
            if (iv := _fixed_interval(m, lo, hi, duty, f"lane_off[{res.id},{lanes[0]}]")) is not None:
                intervals.append(iv)
                demands.append(size)
        for case, units in users:
            taken = m.model.new_int_var(0, min(units, size), f"lanes[{res.id},{lanes[0]},{case.booking_id}]")
            m.taken.setdefault((case.booking_id, res.id), []).append(taken)
            if size == 1:
                m.on_lane[case.booking_id, res.id, lanes[0]] = taken
            size_on = dur(case) + Grid.minutes(res.tail)  # equipment keeps its lane while reprocessed
            intervals.append(m.model.new_fixed_size_interval_var(m.start[case.booking_id], size_on,
                                                                 f"on[{res.id},{lanes[0]},{case.booking_id}]"))
            demands.append(taken)
        m.model.add_cumulative(intervals, demands, size)
    for case, units in users:
        m.model.add(sum(m.taken[case.booking_id, res.id]) == units)


def locked_case(m: SequencingModel) -> None:
    """Hard: a locked case (under way, or not to be moved) stays where it is booked."""
    for case in m.problem.cases:
        if case.locked:
            lit = m.assume(f"locked:{case.booking_id}")
            m.model.add(m.start[case.booking_id] == m.grid.down(case.start)).only_enforce_if(lit)


# --- soft rules (each adds its penalty terms; the weights multiply them) --------------------


def moved_literals(m: SequencingModel) -> dict[str, cp_model.IntVar]:
    """Per case, a literal that is true exactly when its start or room changes: a case that
    stays keeps its lanes too (a lane of its own is not the plan's to change)."""
    out: dict[str, cp_model.IntVar] = {}
    for case in m.problem.cases:
        moved = m.model.new_bool_var(f"moved[{case.booking_id}]")
        stay = moved.Not()
        m.model.add(m.start[case.booking_id] == m.grid.down(case.start)).only_enforce_if(stay)
        m.model.add_implication(stay, m.in_room[case.booking_id, case.room_id])
        (m.model.add(m.start[case.booking_id] != m.grid.down(case.start))
         .only_enforce_if([moved, m.in_room[case.booking_id, case.room_id]]))
        for use in case.uses:  # a case that stays keeps its lanes (the core moves only what moves)
            for lane in use.lanes:
                if (lit := m.on_lane.get((case.booking_id, use.resource_id, lane))) is not None:
                    m.model.add_implication(stay, lit)
                    m.model.add_hint(lit, 1)
        out[case.booking_id] = moved
    return out


def booking_notice(m: SequencingModel, moved: dict[str, cp_model.IntVar]) -> None:
    """Hard: a moved case starts no earlier than its service's booking notice allows."""
    for case in m.problem.cases:
        if case.earliest_move is not None and not case.locked:
            lit = m.assume(f"notice:{case.booking_id}")
            (m.model.add(m.start[case.booking_id] >= m.grid.up(case.earliest_move))
             .only_enforce_if([moved[case.booking_id], lit]))
