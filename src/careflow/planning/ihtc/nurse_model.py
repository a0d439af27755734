"""CP-SAT model of a nurse neighbourhood: some occupied room-shifts get their nurse chosen again,
among some working nurses, with the admissions and every other room-shift's nurse fixed.

``b[g, r, n]`` says nurse n covers room r in shift g. Each rule of PROBLEM.md that the nurse
plan touches is one function below; the objective is the exact change of the nurse costs
(skill shortfall, overload, continuity) up to a constant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from careflow.planning.ihtc.compact import Compact
from careflow.planning.ihtc.construct import Placement

__all__ = ["HARD_RULES", "SOFT_RULES", "Cell", "NurseModel", "build_nurse_model", "cells_of"]

Expr = cp_model.LinearExprT


@dataclass(frozen=True, slots=True)
class Cell:
    """Who is in one room in one shift: person index (patients first, then occupants), load and
    skill required, one entry per person."""

    people: tuple[int, ...]
    loads: tuple[int, ...]
    required: tuple[int, ...]

    @property
    def load(self) -> int:
        return sum(self.loads)


def cells_of(c: Compact, admissions: list[Placement | None]) -> list[dict[int, Cell]]:
    """Per shift, the occupied rooms and who is in them."""
    raw: list[dict[int, list[tuple[int, int, int]]]] = [{} for _ in range(c.shifts)]
    stays = [(i, a.room, a.day, c.patients[i]) for i, a in enumerate(admissions) if a is not None]
    stays += [(len(c.patients) + j, o.room, 0, o) for j, o in enumerate(c.occupants)]
    for q, room, day, p in stays:
        first = day * c.shifts_per_day
        for g in c.stay_shifts(p, day):
            raw[g].setdefault(room, []).append((q, p.workload[g - first], p.skill[g - first]))
    return [{r: Cell(*(tuple(col) for col in zip(*people, strict=True))) for r, people in row.items()}
            for row in raw]


@dataclass
class NurseModel:
    """The CP-SAT model of one nurse neighbourhood: ``free`` (shift, room) cells, ``nurses`` allowed."""

    c: Compact
    admissions: list[Placement | None]
    cells: list[dict[int, Cell]]
    nurse: list[list[int]]
    free: tuple[tuple[int, int], ...]
    nurses: frozenset[int]
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    b: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)

    def assignment(self, values: Callable[[cp_model.IntVar], bool]) -> dict[tuple[int, int], int]:
        """The nurse of each free cell under ``values`` (a solver's boolean values)."""
        return {(g, r): n for (g, r, n), v in self.b.items() if values(v)}


# Hard rules


def uncovered_room(m: NurseModel) -> None:
    """NursePresence and UncoveredRoom: each free cell gets exactly one nurse who works that shift."""
    for g, r in m.free:
        options = [n for n in sorted(m.nurses) if g in m.c.nurse_max_load[n]]
        for n in options:
            m.b[g, r, n] = m.model.new_bool_var(f"b{g}_{r}_{n}")
        m.model.add_exactly_one(m.b[g, r, n] for n in options)


# Costs (weighted)


def room_skill_level(m: NurseModel) -> Expr:
    """Per free cell and person in it, the skill required beyond the chosen nurse's level."""
    c = m.c
    terms = []
    for (g, r, n), v in m.b.items():
        level = c.nurse_skill[n]
        shortfall = sum(req - level for req in m.cells[g][r].required if req > level)
        if shortfall:
            terms.append(shortfall * v)
    return c.weights.room_nurse_skill * sum(terms)


def excessive_nurse_workload(m: NurseModel) -> Expr:
    """Per nurse and shift with a free cell, the load beyond the nurse's maximum."""
    c = m.c
    free = set(m.free)
    added: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (g, r, n), v in m.b.items():
        if m.cells[g][r].load:
            added[g, n].append((m.cells[g][r].load, v))
    terms = []
    for (g, n), loads in added.items():
        fixed = sum(cell.load for r, cell in m.cells[g].items() if m.nurse[g][r] == n and (g, r) not in free)
        spare = max(0, c.nurse_max_load[n][g] - fixed)
        if sum(k for k, _ in loads) <= spare:
            continue
        excess = m.model.new_int_var(0, sum(k for k, _ in loads), f"excess{g}_{n}")
        m.model.add(excess >= sum(k * v for k, v in loads) - spare)
        terms.append(excess)
    return c.weights.nurse_eccessive_workload * sum(terms)


def continuity_of_care(m: NurseModel) -> Expr:
    """Per person in a free cell, the distinct nurses it meets beyond those of its fixed shifts."""
    c = m.c
    free_of: dict[int, list[tuple[int, int]]] = defaultdict(list)
    room_of: dict[int, int] = {}
    for g, r in m.free:
        for q in m.cells[g][r].people:
            free_of[q].append((g, r))
            room_of[q] = r
    terms: list[cp_model.IntVar] = []
    for q, free in free_of.items():
        r = room_of[q]
        mine = set(free)
        met = {m.nurse[g][r] for g in _stay_shifts(m, q) if (g, r) not in mine}
        seen: dict[int, cp_model.IntVar] = {}
        for g, _ in free:
            for n in m.nurses:
                v = m.b.get((g, r, n))
                if v is None or n in met:
                    continue
                if n not in seen:
                    seen[n] = m.model.new_bool_var(f"seen{q}_{n}")
                m.model.add_implication(v, seen[n])
        terms.extend(seen.values())
    return c.weights.continuity_of_care * sum(terms)


def _stay_shifts(m: NurseModel, q: int) -> range:
    c = m.c
    if q >= len(c.patients):
        return c.stay_shifts(c.occupants[q - len(c.patients)], 0)
    a = m.admissions[q]
    assert a is not None
    return c.stay_shifts(c.patients[q], a.day)


HARD_RULES: tuple[Callable[[NurseModel], None], ...] = (uncovered_room,)
"""The hard rules the nurse plan can break."""

SOFT_RULES: tuple[Callable[[NurseModel], Expr], ...] = (room_skill_level, excessive_nurse_workload,
                                                        continuity_of_care)
"""The nurse costs, each already multiplied by its weight."""


def build_nurse_model(c: Compact, admissions: list[Placement | None], cells: list[dict[int, Cell]],
                      nurse: list[list[int]], free: Iterable[tuple[int, int]],
                      nurses: Iterable[int]) -> NurseModel:
    """The model of the occupied ``free`` cells with their nurse among ``nurses``, hinted with ``nurse``."""
    occupied = tuple(sorted((g, r) for g, r in set(free) if r in cells[g]))
    m = NurseModel(c, admissions, cells, nurse, occupied, frozenset(nurses))
    for rule in HARD_RULES:
        rule(m)
    m.model.minimize(sum(rule(m) for rule in SOFT_RULES))
    for (g, r, n), v in m.b.items():
        m.model.add_hint(v, nurse[g][r] == n)
    return m
