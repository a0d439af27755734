"""Moves that can be applied one case at a time: the ``apply_order`` rule.

The booking core re-times one booking per transaction and refuses a case moved into time
another case still holds. So a moved case i whose new place overlaps, on a room, a surgeon
or a piece of equipment, the place a moved case j is booked at now can only move after j
has: j must precede i. The moves can be applied one at a time exactly when these
precedences have no cycle (a swap, or a rotation, has one). The model gives each case a
rank that the precedences must increase along (``apply_order``), unless swaps are allowed
(``DayProblem.allow_swaps``; applying one then parks a case at a free time on the way, when
there is one). Staff pools are left out: the core picks their lanes at apply.
"""

from __future__ import annotations

from collections.abc import Mapping

from ortools.sat.python import cp_model

from careflow.planning.sequencing_model import SequencingModel
from careflow.planning.sequencing_problem import DayCase, DayProblem
from careflow.planning.sequencing_rules import Breach, Grid, Placement, booked_placement

__all__ = ["apply_order", "must_precede", "order_breaches"]


def _offsets(problem: DayProblem, case: DayCase) -> dict[str, tuple[int, int]]:
    """Per unit resource the case holds (its room as ``room:<id>``), its span from the start."""
    dur = Grid.minutes(case.duration)
    out = {"room": (-Grid.minutes(case.setup), dur + Grid.minutes(case.turnover))}
    for use in case.uses:
        res = problem.resource(use.resource_id)
        if not res.lanes and res.capacity <= 1:
            out[res.id] = (0, dur + Grid.minutes(res.tail))
    return out


def _spans(problem: DayProblem, case: DayCase, room_id: str, start: int) -> dict[str, tuple[int, int]]:
    spans = {}
    for key, (a, b) in _offsets(problem, case).items():
        spans[f"room:{room_id}" if key == "room" else key] = (start + a, start + b)
    return spans


def must_precede(problem: DayProblem, placement: Placement) -> dict[str, set[str]]:
    """For each moved case, the moved cases whose booked place its new place overlaps."""
    booked = booked_placement(problem)
    moved = [c for c in problem.cases if placement[c.booking_id] != booked[c.booking_id]]
    was = {c.booking_id: _spans(problem, c, *booked[c.booking_id]) for c in moved}
    out: dict[str, set[str]] = {}
    for i in moved:
        target = _spans(problem, i, *placement[i.booking_id])
        for j in moved:
            if j is not i and any(key in was[j.booking_id] and lo < was[j.booking_id][key][1]
                                  and was[j.booking_id][key][0] < hi for key, (lo, hi) in target.items()):
                out.setdefault(i.booking_id, set()).add(j.booking_id)
    return out


def order_breaches(problem: DayProblem, placement: Placement) -> list[Breach]:
    """``apply_order`` broken: a cycle of moves none of which can go first (unless swaps are allowed)."""
    if problem.allow_swaps:
        return []
    after = must_precede(problem, placement)
    state: dict[str, int] = {}
    path: list[str] = []

    def cycle_from(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(after.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):]
            if nxt not in state and (found := cycle_from(nxt)) is not None:
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(after):
        if node not in state and (loop := cycle_from(node)) is not None:
            return [Breach("apply_order", tuple(loop), "", f"{', '.join(loop)} would each have to move "
                                                            "before the other (a swap)")]
    return []


def apply_order(m: SequencingModel, moved: Mapping[str, cp_model.IntVar]) -> None:
    """Hard (unless swaps are allowed): the moves can be applied one case at a time, in the
    order of a rank that each precedence (see the module) increases."""
    problem = m.problem
    if problem.allow_swaps:
        return
    within = m.assume("apply_order")
    movable = [c for c in problem.cases if not c.locked]
    rank = {c.booking_id: m.model.new_int_var(0, len(movable), f"rank[{c.booking_id}]") for c in movable}
    for i in movable:
        offsets = _offsets(problem, i)
        s_i = m.start[i.booking_id]
        for j in movable:
            if j is i:
                continue
            for key, (lo_j, hi_j) in _spans(problem, j, j.room_id, m.grid.down(j.start)).items():
                if key.startswith("room:"):
                    lit = m.in_room.get((i.booking_id, key.removeprefix("room:")))
                    if lit is None:
                        continue
                    a, b, when = *offsets["room"], [lit]
                elif key in offsets:
                    a, b, when = *offsets[key], []
                else:
                    continue
                # i's span [s_i + a, s_i + b) overlaps j's booked [lo_j, hi_j) iff lo_j - b < s_i < hi_j - a
                overlap = m.model.new_bool_var(f"over[{i.booking_id},{j.booking_id},{key}]")
                (m.model.add_linear_constraint(s_i, lo_j - b + 1, hi_j - a - 1)
                 .only_enforce_if(overlap))
                before, after = m.model.new_bool_var(""), m.model.new_bool_var("")
                m.model.add(s_i <= lo_j - b).only_enforce_if(before)
                m.model.add(s_i >= hi_j - a).only_enforce_if(after)
                m.model.add_bool_or([overlap, before, after])
                (m.model.add(rank[j.booking_id] < rank[i.booking_id])
                 .only_enforce_if([overlap, moved[j.booking_id], within, *when]))
