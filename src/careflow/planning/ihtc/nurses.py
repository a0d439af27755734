"""The nurse plan for a fixed admission plan: one working nurse per occupied room and shift.

A greedy pass goes shift by shift, heaviest room first, and gives each room the working nurse
that adds the least skill shortfall, overload and new faces for the room's people; annealing
then moves single room-shifts to other nurses, and a descent by moves and swaps ends at a
local optimum.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from careflow.planning.ihtc.compact import Compact
from careflow.planning.ihtc.construct import Placement

__all__ = ["NursePlan", "assign_nurses"]


@dataclass(slots=True)
class NursePlan:
    """``nurse[g][r]``: the nurse covering room r in global shift g, or -1 when it is empty."""

    nurse: list[list[int]]
    uncovered: int  # occupied room-shifts no nurse works (a hard violation the data forces)


@dataclass(slots=True)
class _Cell:
    """The people in one room in one shift: who they are, their load and what each requires."""

    people: list[int]
    load: int
    required: list[int]


class _Search:
    def __init__(self, c: Compact, admissions: list[Placement | None]) -> None:
        self.c = c
        rooms, shifts, spd = len(c.room_capacity), c.shifts, c.shifts_per_day
        self.cells: list[list[_Cell | None]] = [[None] * rooms for _ in range(shifts)]
        stays: list[tuple[int, int, int, tuple[int, ...], tuple[int, ...]]] = []
        for i, a in enumerate(admissions):
            if a is not None:
                p = c.patients[i]
                stays.append((i, a.room, a.day, p.workload, p.skill))
        for j, o in enumerate(c.occupants):
            stays.append((len(c.patients) + j, o.room, 0, o.workload, o.skill))
        for person, room, day, workload, skill in stays:
            first = day * spd
            for g in range(first, min(first + len(workload), shifts)):
                cell = self.cells[g][room]
                if cell is None:
                    cell = self.cells[g][room] = _Cell([], 0, [])
                cell.people.append(person)
                cell.load += workload[g - first]
                cell.required.append(skill[g - first])
        self.working = [[n for n, loads in enumerate(c.nurse_max_load) if g in loads] for g in range(shifts)]
        self.nurse = [[-1] * rooms for _ in range(shifts)]
        self.load = [[0] * len(c.nurse_skill) for _ in range(shifts)]
        self.seen: list[dict[int, int]] = [{} for _ in range(len(c.patients) + len(c.occupants))]

    def skill_cost(self, cell: _Cell, n: int) -> int:
        level = self.c.nurse_skill[n]
        return sum(r - level for r in cell.required if r > level) * self.c.weights.room_nurse_skill

    def overload(self, g: int, n: int, load: int) -> int:
        return max(0, load - self.c.nurse_max_load[n][g]) * self.c.weights.nurse_eccessive_workload

    def gain_cost(self, g: int, cell: _Cell, n: int) -> int:
        """Weighted cost of adding ``cell`` to nurse n in shift g."""
        load = self.load[g][n]
        new_faces = sum(1 for person in cell.people if n not in self.seen[person])
        return (self.skill_cost(cell, n) + self.overload(g, n, load + cell.load) - self.overload(g, n, load)
                + new_faces * self.c.weights.continuity_of_care)

    def loss_cost(self, g: int, cell: _Cell, n: int) -> int:
        """Weighted cost removed when nurse n gives ``cell`` up in shift g."""
        load = self.load[g][n]
        lost_faces = sum(1 for person in cell.people if self.seen[person][n] == 1)
        return (self.skill_cost(cell, n) + self.overload(g, n, load) - self.overload(g, n, load - cell.load)
                + lost_faces * self.c.weights.continuity_of_care)

    def put(self, g: int, r: int, cell: _Cell, n: int) -> None:
        self.nurse[g][r] = n
        self.load[g][n] += cell.load
        for person in cell.people:
            self.seen[person][n] = self.seen[person].get(n, 0) + 1

    def take(self, g: int, r: int, cell: _Cell, n: int) -> None:
        self.nurse[g][r] = -1
        self.load[g][n] -= cell.load
        for person in cell.people:
            left = self.seen[person][n] - 1
            if left:
                self.seen[person][n] = left
            else:
                del self.seen[person][n]

    def greedy(self, deadline: float) -> int:
        """Cover every occupied cell, shift by shift, with the nurse it costs least to add (past
        ``deadline``: the least loaded, a choice that costs nothing to make); the cells left
        uncovered (nobody works their shift)."""
        uncovered = 0
        for g, row in enumerate(self.cells):
            late = time.monotonic() >= deadline
            occupied = sorted(((r, cell) for r, cell in enumerate(row) if cell is not None),
                              key=lambda rc: (-rc[1].load, rc[0]))
            for r, cell in occupied:
                if not self.working[g]:
                    uncovered += 1
                    continue
                if late:
                    n = min(self.working[g], key=lambda n: (self.load[g][n], n))
                else:
                    n = min(self.working[g], key=lambda n: (self.gain_cost(g, cell, n), self.load[g][n], n))
                self.put(g, r, cell, n)
        return uncovered

    def anneal(self, rng: random.Random, moves: int, deadline: float) -> None:
        """Simulated annealing by single room-shift moves (it ends cold; the descent finishes it)."""
        cells = [(g, r, cell) for g, row in enumerate(self.cells) for r, cell in enumerate(row)
                 if cell is not None and self.nurse[g][r] >= 0 and len(self.working[g]) > 1]
        if not cells or moves <= 0:
            return
        w = self.c.weights
        hot = 2.0 * max(1, w.continuity_of_care, w.room_nurse_skill, w.nurse_eccessive_workload)
        cold = 0.2
        for k in range(moves):
            if k % 1024 == 0 and time.monotonic() >= deadline:
                break
            temperature = hot * (cold / hot) ** (k / moves)
            g, r, cell = cells[rng.randrange(len(cells))]
            old = self.nurse[g][r]
            new = self.working[g][rng.randrange(len(self.working[g]))]
            if new == old:
                continue
            delta = -self.loss_cost(g, cell, old)
            self.take(g, r, cell, old)
            delta += self.gain_cost(g, cell, new)
            if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                self.put(g, r, cell, new)
            else:
                self.put(g, r, cell, old)

    def descend(self, deadline: float) -> None:
        improved = True
        while improved:
            improved = False
            for g, row in enumerate(self.cells):
                if time.monotonic() >= deadline:
                    return
                for r, cell in enumerate(row):
                    old = self.nurse[g][r]
                    if cell is None or old < 0 or len(self.working[g]) < 2:
                        continue
                    saved = self.loss_cost(g, cell, old)
                    self.take(g, r, cell, old)
                    best, best_cost = old, saved
                    for n in self.working[g]:
                        if n != old:
                            cost = self.gain_cost(g, cell, n)
                            if cost < best_cost:
                                best, best_cost = n, cost
                    self.put(g, r, cell, best)
                    improved = improved or best != old
                improved = self.swap_rooms(g, row) or improved

    def swap_rooms(self, g: int, row: list[_Cell | None]) -> bool:
        """Exchange the nurses of two rooms in shift g wherever that lowers the cost."""
        improved = False
        occupied = [(r, cell) for r, cell in enumerate(row) if cell is not None and self.nurse[g][r] >= 0]
        for x, (r1, c1) in enumerate(occupied):
            for r2, c2 in occupied[x + 1:]:
                n1, n2 = self.nurse[g][r1], self.nurse[g][r2]
                if n1 == n2:
                    continue
                delta = -self.loss_cost(g, c1, n1)
                self.take(g, r1, c1, n1)
                delta -= self.loss_cost(g, c2, n2)
                self.take(g, r2, c2, n2)
                delta += self.gain_cost(g, c1, n2)
                self.put(g, r1, c1, n2)
                delta += self.gain_cost(g, c2, n1)
                self.put(g, r2, c2, n1)
                if delta < 0:
                    improved = True
                    continue
                self.take(g, r1, c1, n2)
                self.take(g, r2, c2, n1)
                self.put(g, r1, c1, n1)
                self.put(g, r2, c2, n2)
        return improved


def assign_nurses(c: Compact, admissions: list[Placement | None], deadline: float,
                  seed: int = 0, moves: int = 0) -> NursePlan:
    """Cover every occupied room-shift with a working nurse, then improve: ``moves`` annealing
    moves, then descent by single moves and swaps to a local optimum."""
    search = _Search(c, admissions)
    uncovered = search.greedy(deadline)
    search.anneal(random.Random(seed), moves, deadline)
    search.descend(deadline)
    return NursePlan(search.nurse, uncovered)
