"""Simulated annealing over the admission plan (days, rooms, theaters), every hard rule kept.

Moves: admit a left-out optional patient, move an admitted patient to another day (and the best
room and theater that day), change only its room or theater, or leave an optional patient out.
The objective is the admission part of the cost (delay, left-out optional patients, age mix,
opened theaters, surgeon transfers); the nurse plan is made afterwards. The work is a fixed
number of moves derived from the time limit, so a seed gives the same plan unless the clock
runs out first.
"""

from __future__ import annotations

import math
import random
import time

from careflow.planning.ihtc.compact import Compact, Person
from careflow.planning.ihtc.construct import Placement

__all__ = ["Ledger", "admission_cost", "improve_admissions"]

_MISSING_MANDATORY = 1e6  # far above any cost, so a mandatory patient left out is admitted first


class Ledger:
    """Counters of who is where, kept exact under add and remove, with cost deltas."""

    def __init__(self, c: Compact, admissions: list[Placement | None]) -> None:
        self.c = c
        rooms, days = len(c.room_capacity), c.days
        self.occupancy = [[0] * days for _ in range(rooms)]
        self.genders = [[[0] * c.genders for _ in range(days)] for _ in range(rooms)]
        self.ages = [[[0] * c.age_groups for _ in range(days)] for _ in range(rooms)]
        self.theater_minutes = [[0] * days for _ in c.theater_availability]
        self.theater_cases = [[0] * days for _ in c.theater_availability]
        self.surgeon_minutes = [[0] * days for _ in c.surgeon_max_time]
        self.surgeon_theaters: list[list[dict[int, int]]] = [
            [{} for _ in range(days)] for _ in c.surgeon_max_time]
        self.admissions = list(admissions)
        for o in c.occupants:
            self._stay(o, 0, o.room, 1)
        for i, a in enumerate(admissions):
            if a is not None:
                self._stay(c.patients[i], a.day, a.room, 1)
                self._surgery(c.patients[i], a.day, a.theater, 1)

    def _stay(self, p: Person, day: int, room: int, sign: int) -> None:
        occupancy, genders, ages, gender, age = (self.occupancy[room], self.genders[room], self.ages[room],
                                                 p.gender, p.age)
        for d in range(day, min(day + p.length_of_stay, self.c.days)):
            occupancy[d] += sign
            genders[d][gender] += sign
            ages[d][age] += sign

    def _surgery(self, p: Person, day: int, theater: int, sign: int) -> None:
        self.theater_minutes[theater][day] += sign * p.surgery_duration
        self.theater_cases[theater][day] += sign
        self.surgeon_minutes[p.surgeon][day] += sign * p.surgery_duration
        used = self.surgeon_theaters[p.surgeon][day]
        left = used.get(theater, 0) + sign
        if left:
            used[theater] = left
        else:
            del used[theater]

    def admit(self, i: int, a: Placement) -> None:
        self.admissions[i] = a
        self._stay(self.c.patients[i], a.day, a.room, 1)
        self._surgery(self.c.patients[i], a.day, a.theater, 1)

    def discharge(self, i: int) -> None:
        a = self.admissions[i]
        assert a is not None
        self.admissions[i] = None
        self._stay(self.c.patients[i], a.day, a.room, -1)
        self._surgery(self.c.patients[i], a.day, a.theater, -1)

    def cost_of(self, i: int) -> float:
        """What patient i adds to the admission cost where it is now (the gain of removing it)."""
        p, a, w = self.c.patients[i], self.admissions[i], self.c.weights
        if a is None:
            return _MISSING_MANDATORY if p.mandatory else float(w.unscheduled_optional)
        self.discharge(i)
        cost = self.room_cost(p, a.day, a.room)
        theater = self.theater_cost(p, a.day, a.theater)
        self.admit(i, a)
        assert cost is not None
        assert theater is not None
        return (a.day - p.release_day) * w.patient_delay + cost + theater

    def total(self) -> float:
        """The admission part of the cost of the plan (a mandatory patient left out counts far
        above any cost)."""
        return sum(self.cost_of(i) for i in range(len(self.c.patients)))

    def room_cost(self, p: Person, day: int, room: int) -> float | None:
        """Age-mix cost of p in room from day on, or None when capacity, gender or compatibility forbid it.

        The age-mix cost of a room-day is the spread of the age groups present (oldest minus
        youngest), so p adds how far its group lies outside that spread. The innermost loop of
        the annealing: written for speed, not brevity.
        """
        if room in p.incompatible_rooms:
            return None
        c = self.c
        capacity = c.room_capacity[room]
        if not capacity:
            return None
        occupancy, genders, ages = self.occupancy[room], self.genders[room], self.ages[room]
        age, gender, top = p.age, p.gender, c.age_groups - 1
        cost = 0
        for d in range(day, min(day + p.length_of_stay, c.days)):
            here = occupancy[d]
            if not here:
                continue
            if here >= capacity or genders[d][gender] != here:
                return None
            present = ages[d]
            if present[age]:
                continue
            lo = 0
            while not present[lo]:
                lo += 1
            if lo > age:
                cost += lo - age
                continue
            hi = top
            while not present[hi]:
                hi -= 1
            if age > hi:
                cost += age - hi
        return float(cost * c.weights.room_mixed_age)

    def theater_cost(self, p: Person, day: int, t: int) -> float | None:
        """Opening and transfer cost of p's surgery in theater t on day, or None when minutes lack."""
        c, w = self.c, self.c.weights
        if self.surgeon_minutes[p.surgeon][day] + p.surgery_duration > c.surgeon_max_time[p.surgeon][day]:
            return None
        if self.theater_minutes[t][day] + p.surgery_duration > c.theater_availability[t][day]:
            return None
        used = self.surgeon_theaters[p.surgeon][day]
        cost = 0.0 if self.theater_cases[t][day] else float(w.open_operating_theater)
        if used and t not in used:
            cost += w.surgeon_transfer
        return cost

    def best_on(self, p: Person, day: int, rng: random.Random) -> tuple[float, Placement] | None:
        """The cheapest room and theater for p on day, with the cost including delay."""
        c, w, duration = self.c, self.c.weights, p.surgery_duration
        if self.surgeon_minutes[p.surgeon][day] + duration > c.surgeon_max_time[p.surgeon][day]:
            return None
        used = self.surgeon_theaters[p.surgeon][day]
        best_t: tuple[float, int] | None = None
        for t, minutes in enumerate(self.theater_minutes):  # theater_cost for each t, inlined
            if minutes[day] + duration > c.theater_availability[t][day]:
                continue
            cost = 0.0 if self.theater_cases[t][day] else float(w.open_operating_theater)
            if used and t not in used:
                cost += w.surgeon_transfer
            if best_t is None or cost < best_t[0]:
                best_t = (cost, t)
        if best_t is None:
            return None
        best_r: tuple[float, int] | None = None
        room_cost = 0.0
        for r in range(len(c.room_capacity)):
            age_mix = self.room_cost(p, day, r)
            if age_mix is not None:
                noisy = age_mix + rng.random() * 0.5  # ties broken at random, the seed decides
                if best_r is None or noisy < best_r[0]:
                    best_r, room_cost = (noisy, r), age_mix
        if best_r is None:
            return None
        total = (day - p.release_day) * w.patient_delay + best_t[0] + room_cost
        return total, Placement(day, best_r[1], best_t[1])

    def best_any(self, p: Person, rng: random.Random) -> tuple[float, Placement] | None:
        """The cheapest placement of p over its whole admission window."""
        best: tuple[float, Placement] | None = None
        for day in self.c.admission_days(p):
            if best is not None and (day - p.release_day) * self.c.weights.patient_delay > best[0]:
                break
            found = self.best_on(p, day, rng)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        return best

    def in_room(self, room: int, first: int, end: int) -> list[int]:
        """Admitted patients in room on some day of [first, end)."""
        c = self.c
        return [i for i, a in enumerate(self.admissions)
                if a is not None and a.room == room and a.day < end
                and first < min(a.day + c.patients[i].length_of_stay, c.days)]


_Log = list[tuple[int, Placement | None]]


def _kick(ledger: Ledger, i: int, rng: random.Random) -> tuple[float, _Log] | None:
    """Admit left-out patient i on a random day, room and theater, moving whoever is in the way
    (room-mates, the surgeon's other cases that day, the theater's other cases) elsewhere.

    Returns the cost change and an undo log, or None (nothing changed) when it cannot be done.
    """
    c = ledger.c
    p = c.patients[i]
    day = rng.choice(c.admission_days(p))
    rooms = [r for r in range(len(c.room_capacity)) if r not in p.incompatible_rooms and c.room_capacity[r]]
    theaters = [t for t, minutes in enumerate(c.theater_availability) if minutes[day] >= p.surgery_duration]
    if not rooms or not theaters or c.surgeon_max_time[p.surgeon][day] < p.surgery_duration:
        return None
    room, theater = rng.choice(rooms), rng.choice(theaters)
    end = min(day + p.length_of_stay, c.days)
    log: _Log = [(i, None)]
    delta = -ledger.cost_of(i)

    def eject(j: int) -> None:
        nonlocal delta
        delta -= ledger.cost_of(j)
        log.append((j, ledger.admissions[j]))
        ledger.discharge(j)

    operated = [j for j, a in enumerate(ledger.admissions) if a is not None and a.day == day
                and (a.theater == theater or c.patients[j].surgeon == p.surgeon)]
    rng.shuffle(operated)
    for j in operated:
        if ledger.theater_cost(p, day, theater) is not None:
            break
        eject(j)
    others = ledger.in_room(room, day, end)
    rng.shuffle(others)
    for j in others:
        if ledger.room_cost(p, day, room) is not None:
            break
        if c.patients[j].gender != p.gender or rng.random() < 0.5:
            eject(j)
    room_cost = ledger.room_cost(p, day, room)
    theater_cost = ledger.theater_cost(p, day, theater)
    if room_cost is None or theater_cost is None:
        _undo(ledger, log)
        return None
    ledger.admit(i, Placement(day, room, theater))
    delta += (day - p.release_day) * c.weights.patient_delay + theater_cost + room_cost
    for j, _ in log[1:]:
        found = ledger.best_any(c.patients[j], rng)
        if found is None:
            if c.patients[j].mandatory:
                _undo(ledger, log)
                return None
            delta += c.weights.unscheduled_optional
        else:
            ledger.admit(j, found[1])
            delta += found[0]
    return delta, log


def _undo(ledger: Ledger, log: _Log) -> None:
    for j, _ in log:
        if ledger.admissions[j] is not None:
            ledger.discharge(j)
    for j, old in log:
        if old is not None:
            ledger.admit(j, old)


def admission_cost(c: Compact, admissions: list[Placement | None]) -> float:
    """The admission part of the cost of ``admissions`` (a mandatory patient left out counts far
    above any cost), as the annealing prices it."""
    return Ledger(c, admissions).total()


def improve_admissions(c: Compact, admissions: list[Placement | None], seed: int, moves: int,
                       deadline: float) -> list[Placement | None]:
    """The best admission plan simulated annealing finds from ``admissions`` within ``moves`` moves."""
    rng = random.Random(seed)
    ledger = Ledger(c, admissions)
    patients = list(range(len(c.patients)))
    if not patients or moves <= 0:
        return list(admissions)
    w = c.weights
    current = ledger.total()
    best, best_plan = current, list(ledger.admissions)
    mandatory = [i for i in patients if c.patients[i].mandatory]
    missing = [i for i in mandatory if ledger.admissions[i] is None]
    start_t, end_t = max(1.0, w.patient_delay * 2.0), 0.5
    for k in range(moves):
        if k % 512 == 0 and time.monotonic() >= deadline:
            break
        temperature = start_t * (end_t / start_t) ** (k / moves)
        missing = [j for j in mandatory if ledger.admissions[j] is None] if missing else missing
        i = rng.choice(missing) if missing and rng.random() < 0.5 else rng.choice(patients)
        p, old = c.patients[i], ledger.admissions[i]
        if old is None and rng.random() < 0.5:
            kicked = _kick(ledger, i, rng)
            if kicked is not None:
                delta, log = kicked
                if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                    current += delta
                    if current < best - 1e-9:
                        best, best_plan = current, list(ledger.admissions)
                else:
                    _undo(ledger, log)
            continue
        removed = ledger.cost_of(i)
        if old is not None:
            ledger.discharge(i)
        roll = rng.random()
        candidate: tuple[float, Placement] | None
        if old is not None and not p.mandatory and roll < 0.05:
            candidate = None
            added = float(w.unscheduled_optional)
        else:
            day = old.day if old is not None and roll < 0.35 else rng.choice(c.admission_days(p))
            candidate = ledger.best_on(p, day, rng)
            if candidate is None:
                if old is not None:
                    ledger.admit(i, old)
                continue
            added = candidate[0]
        delta = added - removed
        if delta <= 0 or rng.random() < math.exp(-delta / temperature):
            if candidate is not None:
                ledger.admit(i, candidate[1])
            current += delta
            if current < best - 1e-9:
                best, best_plan = current, list(ledger.admissions)
        elif old is not None:
            ledger.admit(i, old)
    return best_plan
