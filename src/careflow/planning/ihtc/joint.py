"""Simulated annealing over the whole plan: admissions priced with the nurse costs they cause.

The admission annealing (``local.py``) prices days, rooms and theaters without nurses, and the
nurse plan is made afterwards; this search starts from a whole plan (every room-shift some nurse
works has a nurse, ``ward.fill_empty_cells``) and moves both. Moving a patient costs its delay,
age mix, theater and left-out terms (the admission ledger) and, under the nurses of its new room,
its skill shortfall, its continuity of care and the overload it adds to those nurses; moving a
nurse to another room-shift costs what ``nurses.py`` prices. Every hard rule is kept. The cost it
tracks is the official total (a test checks it against ``score.py``); it returns the cheapest
plan seen. The work is a number of moves, so a seed repeats its plan unless the clock cuts it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from careflow.planning.ihtc.compact import Compact, Person
from careflow.planning.ihtc.construct import Placement
from careflow.planning.ihtc.local import _Ledger
from careflow.planning.ihtc.ward import Roster

__all__ = ["JointSearch", "anneal_plan"]

# The share of moves of an admitted optional patient that try leaving it out.
LEAVE_OUT = 0.03
# Start and end temperatures. The plan it gets is a local optimum of the separate searches; at 1e6
# moves from there, hotter starts (twice the largest nurse or delay weight) lose the way back:
# i27 gained nothing at 10 and 30 and 433 at 3; i16 and i08 gained 1.2-2.8 % at 1-6.
HOT, COLD = 3.0, 0.3
# Shares of the moves: a room-shift to another nurse, two patients exchanging rooms; the rest move
# one patient.
NURSE_MOVES, SWAPS = 0.5, 0.15


class JointSearch:
    """The whole plan with counters kept exact under every move, and the cost deltas of moves.

    People are numbered patients first, then occupants. ``cells[g][r]`` lists the people in room r
    in global shift g; ``load[g][n]`` is nurse n's workload in shift g; ``seen[person]`` counts,
    per nurse, the shifts that nurse covers the person.
    """

    def __init__(self, c: Compact, roster: Roster) -> None:
        self.c = c
        self.ledger = _Ledger(c, roster.admissions)
        self.nurse = [list(row) for row in roster.nurse]
        shifts, rooms = c.shifts, len(c.room_capacity)
        self.cells: list[list[list[int]]] = [[[] for _ in range(rooms)] for _ in range(shifts)]
        self.cell_load = [[0] * rooms for _ in range(shifts)]
        self.load = [[0] * len(c.nurse_skill) for _ in range(shifts)]
        self.max_load = [[loads.get(g, 0) for loads in c.nurse_max_load] for g in range(shifts)]
        self.working = [[n for n, loads in enumerate(c.nurse_max_load) if g in loads] for g in range(shifts)]
        self.unstaffed = not all(self.working)  # some shift no nurse works
        self.people: tuple[Person, ...] = c.patients + c.occupants
        self.seen: list[dict[int, int]] = [{} for _ in self.people]
        self.first = [0] * len(self.people)  # the global shift each person's stay starts in
        w = c.weights
        self.w_skill, self.w_continuity, self.w_overload = (w.room_nurse_skill, w.continuity_of_care,
                                                             w.nurse_eccessive_workload)
        for j, o in enumerate(c.occupants):
            self._put(len(c.patients) + j, 0, o.room)
        for i, a in enumerate(roster.admissions):
            if a is not None:
                self._put(i, a.day, a.room)

    # -- the nurse side of one person's stay -------------------------------------------------

    def _shifts(self, person: int, day: int) -> range:
        first = day * self.c.shifts_per_day
        return range(first, min(first + len(self.people[person].workload), self.c.shifts))

    def _put(self, person: int, day: int, room: int) -> int:
        """Place ``person``'s stay in the cells and loads; the nurse cost it adds."""
        p, nurse_skill, w_overload = self.people[person], self.c.nurse_skill, self.w_overload
        seen, first, cost = self.seen[person], day * self.c.shifts_per_day, 0
        self.first[person] = first
        for g in self._shifts(person, day):
            k = g - first
            n = self.nurse[g][room]
            self.cells[g][room].append(person)
            self.cell_load[g][room] += p.workload[k]
            if n < 0:
                continue
            short = p.skill[k] - nurse_skill[n]
            if short > 0:
                cost += short * self.w_skill
            load, top, extra = self.load[g], self.max_load[g][n], p.workload[k]
            before = load[n]
            load[n] = after = before + extra
            if after > top:  # the overload grows by what passes the limit
                cost += (extra if before >= top else after - top) * w_overload
            count = seen.get(n, 0)
            if not count:
                cost += self.w_continuity
            seen[n] = count + 1
        return cost

    def _take(self, person: int, day: int, room: int) -> int:
        """Take ``person``'s stay out of the cells and loads; the nurse cost that removes."""
        p, nurse_skill, w_overload = self.people[person], self.c.nurse_skill, self.w_overload
        seen, first, cost = self.seen[person], day * self.c.shifts_per_day, 0
        for g in self._shifts(person, day):
            k = g - first
            n = self.nurse[g][room]
            self.cells[g][room].remove(person)
            self.cell_load[g][room] -= p.workload[k]
            if n < 0:
                continue
            short = p.skill[k] - nurse_skill[n]
            if short > 0:
                cost += short * self.w_skill
            load, top, extra = self.load[g], self.max_load[g][n], p.workload[k]
            before = load[n]
            load[n] = after = before - extra
            if before > top:
                cost += (extra if after >= top else before - top) * w_overload
            count = seen[n] - 1
            if count:
                seen[n] = count
            else:
                del seen[n]
                cost += self.w_continuity
        return cost

    # -- the nurse of one room-shift -----------------------------------------------------------

    def _cell_cost(self, g: int, r: int, n: int, sign: int) -> int:
        """The cost nurse n adds to (sign 1) or removes from (sign -1) room r in shift g, and the
        counters updated accordingly."""
        people = self.cells[g][r]
        level, cost = self.c.nurse_skill[n], 0
        first = self.first
        for person in people:
            short = self.people[person].skill[g - first[person]] - level
            if short > 0:
                cost += short * self.w_skill
            seen = self.seen[person]
            count = seen.get(n, 0) + sign
            if count == 0:
                del seen[n]
                cost += self.w_continuity
            else:
                if count == 1 and sign > 0:
                    cost += self.w_continuity
                seen[n] = count
        load, top, extra = self.load[g], self.max_load[g][n], self.cell_load[g][r]
        before = load[n]
        load[n] = before + sign * extra
        cost += abs(max(0, load[n] - top) - max(0, before - top)) * self.w_overload
        self.nurse[g][r] = n if sign > 0 else -1
        return cost

    def nurse_move(self, g: int, r: int, new: int) -> int:
        """Give room r in shift g to nurse ``new``; the cost change."""
        old = self.nurse[g][r]
        delta = -self._cell_cost(g, r, old, -1)
        return delta + self._cell_cost(g, r, new, 1)

    # -- patients ------------------------------------------------------------------------------

    def remove(self, i: int) -> float:
        """Take admitted patient i out of the plan; the cost that removes (as admitted)."""
        a = self.ledger.admissions[i]
        assert a is not None
        cost = self.ledger.cost_of(i) + self._take(i, a.day, a.room)
        self.ledger.discharge(i)
        return cost

    def place(self, i: int, a: Placement, admission_cost: float) -> float:
        """Admit patient i at ``a`` (feasible, ``admission_cost`` its admission-side cost)."""
        self.ledger.admit(i, a)
        return admission_cost + self._put(i, a.day, a.room)

    def relocate(self, i: int, old: Placement | None, new: Placement | None) -> float:
        """Move the nurse side of patient i's stay from ``old`` to ``new`` (the admission ledger is
        already at ``new``); the nurse cost change. Same day and room: nothing changes."""
        if old is not None and new is not None and old.day == new.day and old.room == new.room:
            return 0.0
        delta = -self._take(i, old.day, old.room) if old is not None else 0
        return float(delta + (self._put(i, new.day, new.room) if new is not None else 0))

    def admission_cost(self, i: int, a: Placement) -> float | None:
        """The admission-side cost of patient i (out of the plan) at ``a``, None when a hard rule
        forbids it."""
        p = self.c.patients[i]
        if self.unstaffed and any(not self.working[g] for g in self._shifts(i, a.day)):
            return None  # no nurse works one of its shifts: an uncovered room is a hard violation
        room = self.ledger.room_cost(p, a.day, a.room)
        theater = self.ledger.theater_cost(p, a.day, a.theater)
        if room is None or theater is None:
            return None
        return (a.day - p.release_day) * self.c.weights.patient_delay + room + theater

    def best_theater(self, p: Person, day: int) -> tuple[float, int] | None:
        """The cheapest theater for p on day (opening and transfer cost), None when none fits."""
        best: tuple[float, int] | None = None
        for t in range(len(self.c.theater_availability)):
            cost = self.ledger.theater_cost(p, day, t)
            if cost is not None and (best is None or cost < best[0]):
                best = (cost, t)
        return best

    def roster(self) -> Roster:
        return Roster(list(self.ledger.admissions), [list(row) for row in self.nurse])


def _candidate(s: JointSearch, i: int, old: Placement | None, rng: random.Random
               ) -> tuple[Placement, float] | None:
    """A random new place for patient i (out of the plan) and its admission-side cost, or None.

    An admitted patient changes its room (same day), its theater (same day and room) or its day
    (same room or another, the cheapest theater); a left-out one gets a random day and room.
    """
    c, p = s.c, s.c.patients[i]
    roll = rng.random()
    if old is not None and roll < 0.3:
        place = Placement(old.day, rng.randrange(len(c.room_capacity)), old.theater)
    elif old is not None and roll < 0.45:
        place = Placement(old.day, old.room, rng.randrange(len(c.theater_availability)))
    else:
        days = c.admission_days(p)
        day = days[rng.randrange(len(days))]
        room = old.room if old is not None and rng.random() < 0.5 else rng.randrange(len(c.room_capacity))
        theater = s.best_theater(p, day)
        if theater is None:
            return None
        place = Placement(day, room, theater[1])
    cost = s.admission_cost(i, place)
    return None if cost is None else (place, cost)


_Accept = Callable[[float], bool]


@dataclass(slots=True)
class _Metropolis:
    """Accepts a cost change: always when it is no worse, else with probability exp(-delta / T)."""

    rng: random.Random
    temperature: float = 1.0

    def __call__(self, delta: float) -> bool:
        return delta <= 0 or self.rng.random() < math.exp(-delta / self.temperature)


def _nurse_step(s: JointSearch, cell: tuple[int, int], rng: random.Random, accept: _Accept) -> float:
    """Give an occupied room-shift to another working nurse; the cost change if accepted, else 0."""
    g, r = cell
    if not s.cells[g][r]:
        return 0.0
    old, new = s.nurse[g][r], s.working[g][rng.randrange(len(s.working[g]))]
    if new == old:
        return 0.0
    delta = s.nurse_move(g, r, new)
    if accept(delta):
        return float(delta)
    s.nurse_move(g, r, old)
    return 0.0


def _patient_step(s: JointSearch, i: int, rng: random.Random, accept: _Accept) -> float:
    """Move patient i (admit it, change its day, room or theater, or leave it out). The admission
    side is tried first; the nurse side only moves for a feasible place."""
    c, ledger = s.c, s.ledger
    p, old = c.patients[i], ledger.admissions[i]
    if old is None and p.mandatory:
        return 0.0  # only the admission annealing's kick admits a mandatory patient left out
    left_out = float(c.weights.unscheduled_optional)
    removed = left_out
    if old is not None:
        removed = ledger.cost_of(i)
        ledger.discharge(i)
    new: Placement | None = None
    added = left_out
    if old is None or p.mandatory or rng.random() >= LEAVE_OUT:
        found = _candidate(s, i, old, rng)
        if found is None:
            if old is not None:
                ledger.admit(i, old)
            return 0.0
        new, added = found
        ledger.admit(i, new)
    delta = added - removed + s.relocate(i, old, new)
    if accept(delta):
        return delta
    s.relocate(i, new, old)
    if new is not None:
        ledger.discharge(i)
    if old is not None:
        ledger.admit(i, old)
    return 0.0


def _swap_step(s: JointSearch, i: int, j: int, accept: _Accept) -> float:
    """Exchange the rooms of admitted patients i and j (days and theaters stay)."""
    a, b = s.ledger.admissions[i], s.ledger.admissions[j]
    if a is None or b is None or a.room == b.room or i == j:
        return 0.0
    removed = s.remove(i) + s.remove(j)
    new_a, new_b = Placement(a.day, b.room, a.theater), Placement(b.day, a.room, b.theater)
    cost_a = s.admission_cost(i, new_a)
    if cost_a is not None:
        added = s.place(i, new_a, cost_a)
        cost_b = s.admission_cost(j, new_b)
        if cost_b is not None:
            delta = added + s.place(j, new_b, cost_b) - removed
            if accept(delta):
                return delta
            s.remove(j)
        s.remove(i)
    s.place(i, a, 0.0)
    s.place(j, b, 0.0)
    return 0.0


def anneal_plan(c: Compact, roster: Roster, seed: int, moves: int, deadline: float,
                start_temperature: float | None = None) -> tuple[Roster, float]:
    """The cheapest plan simulated annealing finds from ``roster`` in ``moves`` moves (or by
    ``deadline``), and the cost change from ``roster`` to it (official weights, 0 or below)."""
    s = JointSearch(c, roster)
    rng = random.Random(seed)
    if moves <= 0:
        return roster.copy(), 0.0
    hot = HOT if start_temperature is None else start_temperature
    cold = COLD
    current = best = 0.0
    best_plan = s.roster()
    patients = [i for i, p in enumerate(c.patients) if c.admission_days(p)]
    cells = [(g, r) for g in range(c.shifts) for r in range(len(c.room_capacity)) if len(s.working[g]) > 1
             and s.nurse[g][r] >= 0]
    if not patients and not cells:
        return best_plan, 0.0
    accept = _Metropolis(rng)
    for k in range(moves):
        if k % 512 == 0 and time.monotonic() >= deadline:
            break
        accept.temperature = hot * (cold / hot) ** (k / moves)
        roll = rng.random()
        if cells and (not patients or roll < NURSE_MOVES):
            change = _nurse_step(s, cells[rng.randrange(len(cells))], rng, accept)
        elif roll < NURSE_MOVES + SWAPS:
            change = _swap_step(s, patients[rng.randrange(len(patients))],
                                patients[rng.randrange(len(patients))], accept)
        else:
            change = _patient_step(s, patients[rng.randrange(len(patients))], rng, accept)
        current += change
        if current < best - 1e-9:
            best, best_plan = current, s.roster()
    return best_plan, best
