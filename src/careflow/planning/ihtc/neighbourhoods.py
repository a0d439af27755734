"""Which part of the plan a neighbourhood frees, sized to about ``size`` model variables.

Admission kinds free patients: ``days`` (those admitted in a window of days, re-placed within
it), ``rooms`` (those in a few rooms, any day, those rooms), ``surgeon`` (one surgeon's cases,
any day, their rooms and a few more), ``insert`` (one left-out optional patient, else one admitted
late, with everyone present in a few of its rooms during the stay it could start on a random day,
re-placed on the days around it: a patient is admitted by shifting several others at once). The
first three also free left-out patients who could be admitted there. Nurse kinds free occupied
room-shifts: ``shifts`` (a window of consecutive shifts, any working nurse), ``nurse_rooms`` (a few
rooms over the whole horizon), ``nurses`` (the cells a few nurses cover in a window of days, shared
out among those nurses).
"""

from __future__ import annotations

import random

from careflow.planning.ihtc.admit_model import Freed
from careflow.planning.ihtc.compact import Compact, Person
from careflow.planning.ihtc.nurse_model import Cell
from careflow.planning.ihtc.ward import Roster

__all__ = ["ADMISSION_KINDS", "NURSE_KINDS", "admission_neighbourhood", "nurse_neighbourhood"]

ADMISSION_KINDS = ("days", "rooms", "surgeon", "insert")
NURSE_KINDS = ("shifts", "nurse_rooms", "nurses")


def _span(c: Compact, p: Person, days: frozenset[int] | None) -> int:
    allowed = c.admission_days(p)
    return len(allowed) if days is None else sum(1 for d in days if d in allowed)


def _fit(c: Compact, must: list[int], maybe: list[int], days: frozenset[int] | None, rooms: frozenset[int],
         size: float) -> tuple[list[int], float]:
    """As many of ``must`` then ``maybe`` (in that order) as fit ``size``, and their estimated size."""
    chosen: list[int] = []
    total = 0.0
    for i in must + maybe:
        p = c.patients[i]
        cost = _span(c, p, days) * len(rooms - p.incompatible_rooms)
        if cost == 0:
            continue
        if chosen and total + cost > size:
            if i in must:
                continue
            break
        chosen.append(i)
        total += cost
    return chosen, total


def admission_neighbourhood(c: Compact, roster: Roster, kind: str, size: float, rng: random.Random) -> Freed:
    """The patients, days and rooms a ``kind`` admission neighbourhood frees."""
    everyone = list(range(len(c.patients)))
    if not everyone:
        return Freed((), frozenset(), frozenset())
    left_out = [i for i in everyone if roster.admissions[i] is None]
    rng.shuffle(left_out)
    left_out.sort(key=lambda i: not c.patients[i].mandatory)  # left-out mandatory patients first
    all_rooms = frozenset(range(len(c.room_capacity)))
    if kind == "days":
        start = rng.randrange(c.days)
        best = Freed((), frozenset(), all_rooms)
        for length in range(1, c.days - start + 1):
            days = frozenset(range(start, start + length))
            inside = [i for i, a in enumerate(roster.admissions) if a is not None and a.day in days]
            rng.shuffle(inside)
            chosen, total = _fit(c, inside, left_out, days, all_rooms, size)
            best = Freed(tuple(sorted(chosen)), days, all_rooms)
            if total >= size or len(chosen) < len(inside):
                break
        return best
    if kind == "insert":
        return _insert(c, roster, size, rng, left_out)
    all_days = frozenset(range(c.days))
    if kind == "rooms":
        order = sorted(all_rooms)
        rng.shuffle(order)
        best = Freed((), all_days, frozenset())
        for k in range(1, len(order) + 1):
            rooms = frozenset(order[:k])
            inside = [i for i, a in enumerate(roster.admissions) if a is not None and a.room in rooms]
            rng.shuffle(inside)
            chosen, total = _fit(c, inside, left_out, None, rooms, size)
            best = Freed(tuple(sorted(chosen)), all_days, rooms)
            if total >= size or len(chosen) < len(inside):
                break
        return best
    surgeon = rng.randrange(len(c.surgeon_max_time))
    cases = [i for i in everyone if c.patients[i].surgeon == surgeon]
    admitted = [i for i in cases if roster.admissions[i] is not None]
    rooms_used = {a.room for i in admitted if (a := roster.admissions[i]) is not None}
    others = sorted(all_rooms - rooms_used)
    rng.shuffle(others)
    rooms = frozenset(rooms_used | set(others[:2]))
    rng.shuffle(admitted)
    waiting = [i for i in left_out if c.patients[i].surgeon == surgeon]
    chosen, _ = _fit(c, admitted, waiting + [i for i in left_out if i not in waiting], None, rooms, size)
    return Freed(tuple(sorted(chosen)), all_days, rooms)


def _insert(c: Compact, roster: Roster, size: float, rng: random.Random, left_out: list[int]) -> Freed:
    """One left-out optional patient (else one admitted late) and everyone present during the
    stay it could start on a random day, in a few rooms it may use; days around that stay."""
    optional = [i for i in left_out if not c.patients[i].mandatory]
    if optional:
        target = rng.choice(optional)
    else:
        late = [i for i, a in enumerate(roster.admissions)
                if a is not None and a.day > c.patients[i].release_day]
        if not late:
            return Freed((), frozenset(), frozenset())
        target = rng.choice(late)
    p, now = c.patients[target], roster.admissions[target]
    allowed = c.admission_days(p)
    if not allowed:
        return Freed((), frozenset(), frozenset())
    start = rng.choice(allowed)
    window = range(start, min(start + max(1, p.length_of_stay), c.days))
    rooms = sorted(set(range(len(c.room_capacity))) - p.incompatible_rooms)
    rng.shuffle(rooms)
    if now is not None:  # an admitted target keeps its own room and day among the options
        rooms.sort(key=lambda r: r != now.room)
    best = Freed((), frozenset(), frozenset())
    for k in range(1, len(rooms) + 1):
        chosen_rooms = frozenset(rooms[:k])
        present = [i for i, a in enumerate(roster.admissions) if i != target and a is not None
                   and a.room in chosen_rooms and a.day < window.stop
                   and a.day + c.patients[i].length_of_stay > window.start]
        rng.shuffle(present)
        days = set(range(max(0, window.start - 2), min(c.days, window.stop + 2)))
        days |= {a.day for i in [target, *present] if (a := roster.admissions[i]) is not None}
        chosen, total = _fit(c, [target, *present], [], frozenset(days), chosen_rooms, size)
        if target not in chosen:
            break
        best = Freed(tuple(sorted(chosen)), frozenset(days), chosen_rooms)
        if total >= size or len(chosen) < len(present) + 1:
            break
    return best


def nurse_neighbourhood(c: Compact, roster: Roster, cells: list[dict[int, Cell]], kind: str, size: float,
                        rng: random.Random) -> tuple[list[tuple[int, int]], frozenset[int]]:
    """The occupied (shift, room) cells and the nurses a ``kind`` nurse neighbourhood frees."""
    working = [len([n for n in c.nurse_max_load if g in n]) for g in range(c.shifts)]
    everyone = frozenset(range(len(c.nurse_skill)))
    if kind == "shifts":
        start = rng.randrange(c.shifts)
        free: list[tuple[int, int]] = []
        total = 0
        for g in range(start, c.shifts):
            free += [(g, r) for r in sorted(cells[g])]
            total += len(cells[g]) * working[g]
            if total >= size:
                break
        return free, everyone
    if kind == "nurse_rooms":
        order = list(range(len(c.room_capacity)))
        rng.shuffle(order)
        free, total = [], 0
        for r in order:
            mine = [(g, r) for g in range(c.shifts) if r in cells[g]]
            free += mine
            total += sum(working[g] for g, _ in mine)
            if total >= size:
                break
        return free, everyone
    spd = c.shifts_per_day
    first = rng.randrange(c.days) * spd
    window = range(first, min(c.shifts, first + 7 * spd))
    on_duty = sorted({roster.nurse[g][r] for g in window for r in cells[g]} - {-1})
    rng.shuffle(on_duty)
    nurses: set[int] = set()
    for n in on_duty:
        nurses.add(n)
        covered = sum(1 for g in window for r in cells[g] if roster.nurse[g][r] in nurses)
        if covered * len(nurses) >= size:
            break
    free = [(g, r) for g in window for r in sorted(cells[g]) if roster.nurse[g][r] in nurses]
    return free, frozenset(nurses)
