"""The order to apply a sequencing proposal in, one case at a time.

The booking core moves one case per transaction and refuses a move into time another
case still holds, so a proposal is applied in passes (a move refused for a conflict is
tried again after the others), and a cycle (two cases swapping places in a room) is
broken by parking one case at a free time first (``park``): a start at which, with every
other case where it stands now, the parked case breaks no hard rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from careflow.planning.sequencing_problem import DayProblem
from careflow.planning.sequencing_rules import Grid, breaches

__all__ = ["moving_order", "park"]

STEP = 5  # minutes between the parking starts tried


def moving_order(problem: DayProblem, targets: Mapping[str, tuple[str, int]]) -> list[str]:
    """The cases to move, earliest new start first (moves forward free time for the later ones)."""
    grid = Grid(problem.origin)
    booked: dict[str, tuple[str, int]] = {c.booking_id: (c.room_id, grid.down(c.start))
                                          for c in problem.cases}
    return sorted((b for b, place in targets.items() if place != booked.get(b)),
                  key=lambda b: (targets[b][1], b))


def park(problem: DayProblem, now: Mapping[str, tuple[str, int]], case_id: str,
         targets: Mapping[str, tuple[str, int]] | None = None, strict: bool = False) -> int | None:
    """A start (minutes from the origin) for ``case_id`` in its current room at which it
    breaks no hard rule while the other cases stay where they are ``now``, preferring one
    also clear of where the other moving cases are going (``targets``; only such a one
    when ``strict``); None if none."""
    room_id, current = now[case_id]
    room = problem.room(room_id)
    if not room.open:
        return None
    grid = Grid(problem.origin)
    lo = grid.up(room.open[0][0])
    hi = grid.down(room.open[-1][1]) + Grid.minutes(problem.overtime_allowance)
    going = {b: place for b, place in (targets or {}).items() if b != case_id}
    fallback: int | None = None
    for minute in range(lo, hi + 1, STEP):
        if minute == current:
            continue
        trial = {**now, case_id: (room_id, minute)}
        if any(case_id in b.cases for b in breaches(problem, trial)):
            continue
        if not going or not any(case_id in b.cases for b in breaches(problem, {**trial, **going})):
            return minute
        fallback = minute if fallback is None else fallback
    return None if strict else fallback
