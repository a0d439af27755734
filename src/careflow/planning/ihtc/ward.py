"""The working plan of the neighbourhood search and what a neighbourhood leaves fixed.

A ``Roster`` is a full plan in indices: admissions by patient and ``nurse[g][r]``, the nurse of
room r in global shift g for every room-shift some nurse works (empty rooms too: an assignment to
an empty room costs nothing, and it lets the admission model price a patient's nurse costs
exactly). A ``Ward`` is the plan without the patients a neighbourhood frees: occupancy, genders,
ages, minutes and nurse loads, the constants the CP-SAT models are built around.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from careflow.planning.ihtc.compact import Compact, Person
from careflow.planning.ihtc.construct import Placement
from careflow.planning.ihtc.solution import Admission, NurseAssignment, Solution

__all__ = ["Roster", "Ward", "fill_empty_cells", "to_solution"]


@dataclass(slots=True)
class Roster:
    """A whole plan: ``admissions[i]`` (None = not admitted) and ``nurse[g][r]`` (-1 = nobody works g)."""

    admissions: list[Placement | None]
    nurse: list[list[int]]

    def copy(self) -> Roster:
        return Roster(list(self.admissions), [list(row) for row in self.nurse])


@dataclass(slots=True)
class Ward:
    """Counters of the plan without the freed patients (their indices in ``freed``)."""

    c: Compact
    nurse: list[list[int]]
    freed: frozenset[int]
    occupancy: list[list[int]] = field(default_factory=list)  # [room][day]
    genders: list[list[list[int]]] = field(default_factory=list)  # [room][day][gender]
    ages: list[list[list[int]]] = field(default_factory=list)  # [room][day][age group]
    theater_minutes: list[list[int]] = field(default_factory=list)  # [theater][day]
    theater_cases: list[list[int]] = field(default_factory=list)
    surgeon_minutes: list[list[int]] = field(default_factory=list)  # [surgeon][day]
    surgeon_theaters: list[list[set[int]]] = field(default_factory=list)
    nurse_load: list[dict[int, int]] = field(default_factory=list)  # [shift] nurse -> load

    @classmethod
    def of(cls, c: Compact, roster: Roster, freed: frozenset[int]) -> Ward:
        """The counters of ``roster`` with the patients in ``freed`` taken out."""
        days = c.days
        w = cls(c, roster.nurse, freed)
        w.occupancy = [[0] * days for _ in c.room_capacity]
        w.genders = [[[0] * c.genders for _ in range(days)] for _ in c.room_capacity]
        w.ages = [[[0] * c.age_groups for _ in range(days)] for _ in c.room_capacity]
        w.theater_minutes = [[0] * days for _ in c.theater_availability]
        w.theater_cases = [[0] * days for _ in c.theater_availability]
        w.surgeon_minutes = [[0] * days for _ in c.surgeon_max_time]
        w.surgeon_theaters = [[set() for _ in range(days)] for _ in c.surgeon_max_time]
        w.nurse_load = [{} for _ in range(c.shifts)]
        for o in c.occupants:
            w._stay(o, 0, o.room)
        for i, a in enumerate(roster.admissions):
            if a is None or i in freed:
                continue
            p = c.patients[i]
            w._stay(p, a.day, a.room)
            w.theater_minutes[a.theater][a.day] += p.surgery_duration
            w.theater_cases[a.theater][a.day] += 1
            w.surgeon_minutes[p.surgeon][a.day] += p.surgery_duration
            w.surgeon_theaters[p.surgeon][a.day].add(a.theater)
        return w

    def _stay(self, p: Person, day: int, room: int) -> None:
        spd = self.c.shifts_per_day
        for d in range(day, min(day + p.length_of_stay, self.c.days)):
            self.occupancy[room][d] += 1
            self.genders[room][d][p.gender] += 1
            self.ages[room][d][p.age] += 1
        first = day * spd
        for g in range(first, min(first + len(p.workload), self.c.shifts)):
            n = self.nurse[g][room]
            if n >= 0:
                self.nurse_load[g][n] = self.nurse_load[g].get(n, 0) + p.workload[g - first]

    def age_range(self, room: int, day: int) -> tuple[int, int] | None:
        """The youngest and oldest age group among the fixed people in room on day."""
        present = [a for a, n in enumerate(self.ages[room][day]) if n]
        return (present[0], present[-1]) if present else None


def fill_empty_cells(c: Compact, roster: Roster, shifts: range | None = None) -> None:
    """Give each room-shift without a nurse (in ``shifts``, default all) a working nurse: one who
    already covers the room in a nearby shift, else the most skilled with load to spare."""
    spd = c.shifts_per_day
    working = [[n for n, loads in enumerate(c.nurse_max_load) if g in loads] for g in range(c.shifts)]
    for g in shifts if shifts is not None else range(c.shifts):
        if not working[g]:
            continue
        row = roster.nurse[g]
        count: dict[int, int] = {}
        for n in row:
            if n >= 0:
                count[n] = count.get(n, 0) + 1
        for r, n in enumerate(row):
            if n >= 0:
                continue
            near = {roster.nurse[h][r] for h in range(max(0, g - 3 * spd), min(c.shifts, g + 3 * spd + 1))}
            row[r] = min(working[g], key=lambda m: (m not in near, count.get(m, 0) - c.nurse_max_load[m][g],
                                                     -c.nurse_skill[m], m))
            count[row[r]] = count.get(row[r], 0) + 1


def to_solution(c: Compact, roster: Roster) -> Solution:
    """The plan in the competition's terms (ids and shift names)."""
    instance = c.instance
    admissions = tuple(
        Admission(p.id, a.day, instance.rooms[a.room].id, instance.operating_theaters[a.theater].id)
        for p, a in zip(instance.patients, roster.admissions, strict=True) if a is not None)
    spd = instance.shifts_per_day
    rooms: dict[tuple[int, int], list[str]] = {}
    for g, row in enumerate(roster.nurse):
        for r, n in enumerate(row):
            if n >= 0:
                rooms.setdefault((n, g), []).append(instance.rooms[r].id)
    assignments = tuple(
        NurseAssignment(instance.nurses[n].id, g // spd, instance.shift_types[g % spd], tuple(ids))
        for (n, g), ids in sorted(rooms.items()))
    return Solution(admissions, assignments)
