"""The sequencing rules checked and priced outside the solver, on any placement of the cases.

The CP-SAT model (``sequencing_build``) enforces these rules; this module states them once
more in plain Python over a ``Placement`` (each case's room and start), so a proposal is
verified independently of the solver, the penalties it reports are recomputed from what it
proposes, and the day as booked can be judged by the same measure (what was wrong with it
is why a case moved). Both work on the same minute grid (``Grid``).

Hard rules (each a ``Breach`` when broken): ``room_hours``, ``room_turnover``,
``surgeon_one_room``, ``equipment_one_room``, ``anesthesia_coverage``, ``staff_coverage``,
``locked_case``, ``keep_room``, ``booking_notice``. Soft ones (each a ``Penalty``):
``overtime``, ``surgeon_idle``, ``room_idle``, ``priority_late``, ``moved_case``,
``moved_minutes``, ``room_change``. Pools and equipment of several units are checked here by
headcount at each instant, a relaxation of the model's lanes (one lane free throughout a
case), which only the model keeps.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from careflow.planning.sequencing_problem import (
    DayCase,
    DayProblem,
    Penalty,
    RoomDay,
    Shared,
    SharedKind,
)

__all__ = ["HARD_RULES", "SOFT_RULES", "Breach", "Grid", "Placement", "available", "booked_placement",
           "breaches", "clock", "penalties", "shared_rule"]

Placement = Mapping[str, tuple[str, int]]
"""booking id → (room id, start in minutes from the problem's origin)."""

HARD_RULES = ("room_hours", "room_turnover", "surgeon_one_room", "equipment_one_room",
              "anesthesia_coverage", "staff_coverage", "locked_case", "keep_room", "booking_notice")
SOFT_RULES = ("overtime", "surgeon_idle", "room_idle", "priority_late", "moved_case", "moved_minutes",
              "room_change")
_SHARED_RULE = {SharedKind.SURGEON: "surgeon_one_room", SharedKind.EQUIPMENT: "equipment_one_room",
                SharedKind.ANESTHESIA: "anesthesia_coverage", SharedKind.STAFF: "staff_coverage"}


def shared_rule(resource: Shared) -> str:
    """The name of the hard rule that keeps ``resource`` within its capacity."""
    return _SHARED_RULE[resource.kind]


@dataclass(frozen=True, slots=True)
class Breach:
    """A hard rule a placement breaks: which, for which cases and resource, and how."""

    rule: str
    cases: tuple[str, ...]
    resource: str
    message: str


@dataclass(frozen=True, slots=True)
class Grid:
    """Whole minutes from ``origin``: starts round down, ends round up (never optimistic)."""

    origin: int

    def down(self, ts: int) -> int:
        return (ts - self.origin) // 60

    def up(self, ts: int) -> int:
        return -((self.origin - ts) // 60)

    @staticmethod
    def minutes(seconds: int) -> int:
        return -(-seconds // 60)

    def ts(self, minute: int) -> int:
        return self.origin + minute * 60


def clock(problem: DayProblem, minute: int) -> str:
    """A minute of the problem as the site's local ``HH:MM``."""
    when = datetime.fromtimestamp(Grid(problem.origin).ts(minute), UTC).astimezone(ZoneInfo(problem.timezone))
    return f"{when:%H:%M}"


def booked_placement(problem: DayProblem) -> dict[str, tuple[str, int]]:
    """Every case where it is booked."""
    grid = Grid(problem.origin)
    return {c.booking_id: (c.room_id, grid.down(c.start)) for c in problem.cases}


def _room_span(case: DayCase, start: int) -> tuple[int, int]:
    end = start + Grid.minutes(case.duration)
    return (start - Grid.minutes(case.setup), end + Grid.minutes(case.turnover))


def _room_hours(problem: DayProblem, room: RoomDay, case: DayCase, start: int) -> Breach | None:
    grid = Grid(problem.origin)
    lo, hi = _room_span(case, start)
    last = len(room.open) - 1
    for i, (a, b) in enumerate(room.open):
        close = grid.down(b) + (Grid.minutes(problem.overtime_allowance) if i == last else 0)
        if grid.up(a) <= lo and hi <= close:
            return None
    hours = ", ".join(f"{clock(problem, grid.up(a))}-{clock(problem, grid.down(b))}" for a, b in room.open)
    return Breach("room_hours", (case.booking_id,), room.id,
                  f"{case.booking_id} holds {room.id} {clock(problem, lo)}-{clock(problem, hi)}, "
                  f"outside its open hours ({hours or 'closed'})")


def _overlaps(rule: str, resource: str, items: Iterable[tuple[int, int, int, str]],
              capacity: list[tuple[int, int, int]], problem: DayProblem) -> list[Breach]:
    """Moments where the demand of ``items`` (start, end, units, what) exceeds ``capacity``: looked
    at where a use begins and where the capacity changes (someone going off duty mid-case), in
    one sweep (``park`` calls this for every spot it tries)."""
    spans = sorted(items)
    pieces = sorted(capacity)
    points = sorted({lo for lo, _, _, _ in spans} | {t for a, b, _ in pieces for t in (a, b)})
    out: list[Breach] = []
    reported: set[tuple[str, ...]] = set()
    active: list[tuple[int, int, str]] = []  # (end, units, what), a heap by end
    level = nxt = piece = 0
    for t in points:
        while nxt < len(spans) and spans[nxt][0] <= t:
            _, hi, units, what = spans[nxt]
            heapq.heappush(active, (hi, units, what))
            level += units
            nxt += 1
        while active and active[0][0] <= t:
            level -= heapq.heappop(active)[1]
        while piece < len(pieces) and pieces[piece][1] <= t:
            piece += 1
        cap = pieces[piece][2] if piece < len(pieces) and pieces[piece][0] <= t else 0
        if active and level > cap:
            who = tuple(sorted(what for _, _, what in active))
            if who in reported:
                continue
            reported.add(who)
            out.append(Breach(rule, tuple(w for w in who if not w.startswith("(")), resource,
                              f"{resource} is needed {level} times at {clock(problem, t)} "
                              f"({', '.join(who)}); it has {cap}"))
    return out


def available(problem: DayProblem, resource: Shared) -> list[tuple[int, int, int]]:
    """Units of ``resource`` left for the day's cases, as (start, end, units) minutes covering
    every instant: on duty at the site, less what other bookings hold (never below 0: what
    another booking holds while the resource is off duty here, e.g. at another site, does not
    count twice)."""
    grid = Grid(problem.origin)
    delta: dict[int, int] = {}
    for a, b, c in resource.on_duty:
        lo, hi = grid.up(a), grid.down(b)
        if lo < hi:
            delta[lo] = delta.get(lo, 0) + c
            delta[hi] = delta.get(hi, 0) - c
    for f in resource.fixed:
        lo, hi = grid.down(f.span[0]), grid.up(f.span[1])
        delta[lo] = delta.get(lo, 0) - f.units
        delta[hi] = delta.get(hi, 0) + f.units
    out: list[tuple[int, int, int]] = []
    level, last = 0, -(10**9)
    for t in sorted(delta):
        if t > last:
            out.append((last, t, max(0, level)))
        level += delta[t]
        last = t
    out.append((last, 10**9, max(0, level)))
    return [p for p in out if p[0] < p[1]]


def breaches(problem: DayProblem, placement: Placement) -> list[Breach]:
    """Every hard rule ``placement`` breaks (empty: the placement is feasible)."""
    grid = Grid(problem.origin)
    out: list[Breach] = []
    booked = booked_placement(problem)
    by_room: dict[str, list[tuple[int, int, int, str]]] = {r.id: [] for r in problem.rooms}
    by_shared: dict[str, list[tuple[int, int, int, str]]] = {s.id: [] for s in problem.shared}
    for case in problem.cases:
        room_id, start = placement[case.booking_id]
        room = problem.room(room_id)
        if case.locked and (room_id, start) != booked[case.booking_id]:
            out.append(Breach("locked_case", (case.booking_id,), room_id, f"{case.booking_id} is locked"))
        if room_id != case.room_id and not (problem.allow_room_change and room_id in case.rooms):
            out.append(Breach("keep_room", (case.booking_id,), room_id,
                              f"{case.booking_id} may not move to {room_id}"))
        moved = (room_id, start) != booked[case.booking_id]
        if moved and case.earliest_move is not None and start < grid.up(case.earliest_move):
            out.append(Breach("booking_notice", (case.booking_id,), room_id,
                              f"{case.booking_id} may move no earlier than "
                              f"{clock(problem, grid.up(case.earliest_move))}"))
        if (breach := _room_hours(problem, room, case, start)) is not None:
            out.append(breach)
        by_room[room_id].append((*_room_span(case, start), 1, case.booking_id))
        end = start + Grid.minutes(case.duration)
        for use in case.uses:
            tail = Grid.minutes(problem.resource(use.resource_id).tail)
            by_shared[use.resource_id].append((start, end + tail, use.units, case.booking_id))
    for room in problem.rooms:
        fixed = [(grid.down(f.span[0]), grid.up(f.span[1]), 1, f"({f.what or 'held'})") for f in room.fixed]
        out += _overlaps("room_turnover", room.id, by_room[room.id] + fixed,
                         [(-10**9, 10**9, 1)], problem)
    for res in problem.shared:
        if not by_shared[res.id]:
            continue
        out += _overlaps(shared_rule(res), res.id, by_shared[res.id], available(problem, res), problem)
    return out


def penalties(problem: DayProblem, placement: Placement) -> list[Penalty]:
    """Each soft rule's penalty for ``placement`` (amounts in minutes, or cases)."""
    grid, w = Grid(problem.origin), problem.weights
    booked = booked_placement(problem)
    overtime = room_idle = surgeon_idle = late = moved = shift = changed = 0
    late_cases: list[str] = []
    for room in problem.rooms:
        spans = [_room_span(c, placement[c.booking_id][1]) for c in problem.cases
                 if placement[c.booking_id][0] == room.id]
        if not spans or room.closes is None:
            continue
        overtime += max(0, max(hi for _, hi in spans) - grid.down(room.closes))
        hull = max(hi for _, hi in spans) - min(lo for lo, _ in spans)
        room_idle += hull - sum(hi - lo for lo, hi in spans)
    for res in problem.shared:
        if res.kind is not SharedKind.SURGEON:
            continue
        mine = [c for c in problem.cases if any(u.resource_id == res.id for u in c.uses)]
        if len(mine) < 2:
            continue
        starts = [placement[c.booking_id][1] for c in mine]
        ends = [s + Grid.minutes(c.duration) for s, c in zip(starts, mine, strict=True)]
        surgeon_idle += max(ends) - min(starts) - sum(Grid.minutes(c.duration) for c in mine)
    for case in problem.cases:
        room_id, start = placement[case.booking_id]
        room = problem.room(room_id)
        if case.priority and room.opens is not None:
            wait = max(0, start - Grid.minutes(case.setup) - grid.up(room.opens))
            late += wait
            if wait:
                late_cases.append(case.booking_id)
        b_room, b_start = booked[case.booking_id]
        moved += (room_id, start) != (b_room, b_start)
        shift += abs(start - b_start)
        changed += room_id != b_room
    return [
        Penalty("overtime", overtime, w.overtime_minute, "minutes rooms run past their close"),
        Penalty("surgeon_idle", surgeon_idle, w.surgeon_idle_minute,
                "minutes surgeons wait between their first and last case"),
        Penalty("room_idle", room_idle, w.room_idle_minute,
                "minutes rooms stand empty between their first and last case"),
        Penalty("priority_late", late, w.priority_late_minute,
                "minutes priority cases start after their room opens"
                + (f" ({', '.join(late_cases)})" if late_cases else "")),
        Penalty("moved_case", moved, w.moved_case, "cases whose start or room changes"),
        Penalty("moved_minutes", shift, w.moved_minute, "minutes the starts move in all"),
        Penalty("room_change", changed, w.room_change, "cases put in another room"),
    ]
