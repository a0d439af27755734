"""Put back cases the capability packing took out: another day of their window where a capable
operating room and their surgeon have the minutes and a compatible ward room has a bed for the
whole stay, with a nurse added wherever the room was not covered yet.

Every hard rule of the IHTC is kept by construction (window, surgeon and room minutes, room
capacity, gender, compatibility, nurse presence and coverage); the costs may rise, and the
plan is scored again afterwards. Mandatory cases go first, then by id.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable

from careflow.planning.admission_plan import AdmissionProblem, CaseToPlan, OperatingRoom
from careflow.planning.ihtc.instance import Instance, Patient
from careflow.planning.ihtc.solution import Admission, NurseAssignment, Solution

__all__ = ["pack_day", "reinsert"]


def pack_day(day: int, cases: list[tuple[Admission, CaseToPlan]],
              rooms: dict[str, OperatingRoom]) -> dict[str, str | None]:
    """Case id → a capable operating room for one day's cases (None: no capable room has the minutes)."""
    free = {r.id: r.minutes[day] for r in rooms.values()}
    used: dict[str, set[str]] = defaultdict(set)  # surgeon -> rooms used today
    opened: set[str] = set()
    chosen: dict[str, str | None] = {}
    capable = {c.case_id: [r for r in rooms.values() if c.capabilities <= r.capabilities] for _, c in cases}
    for _, case in sorted(cases, key=lambda ac: (len(capable[ac[1].case_id]), -ac[1].minutes,
                                                 ac[1].case_id)):
        fits = [r.id for r in capable[case.case_id] if free[r.id] >= case.minutes]
        if not fits:
            chosen[case.case_id] = None
            continue
        best = min(fits, key=lambda r: (r not in used[case.surgeon_id], r not in opened, -free[r], r))
        chosen[case.case_id] = best
        free[best] -= case.minutes
        used[case.surgeon_id].add(best)
        opened.add(best)
    return chosen


class _State:
    """Minutes used, people per room-day and nurse per room-shift of a solution."""

    def __init__(self, instance: Instance, solution: Solution) -> None:
        self.instance = instance
        self.theater: dict[tuple[str, int], int] = defaultdict(int)
        self.surgeon: dict[tuple[str, int], int] = defaultdict(int)
        self.people: dict[tuple[str, int], list[str]] = defaultdict(list)  # genders
        self.nurse_of: dict[tuple[str, int], str] = {}
        self.rooms_of: dict[tuple[str, int, str], list[str]] = defaultdict(list)
        self.admissions: dict[str, Admission] = {}
        for o in instance.occupants:
            for d in range(min(o.length_of_stay, instance.days)):
                self.people[o.room_id, d].append(o.gender)
        for a in solution.admissions:
            self.add(a)
        for n in solution.assignments:
            for room in n.room_ids:
                self.cover(n.nurse_id, n.day, n.shift, room)

    def stay(self, p: Patient, day: int) -> range:
        return range(day, min(day + p.length_of_stay, self.instance.days))

    def add(self, a: Admission) -> None:
        p = self.instance.patients_by_id[a.patient_id]
        self.admissions[a.patient_id] = a
        self.theater[a.theater_id, a.day] += p.surgery_duration
        self.surgeon[p.surgeon_id, a.day] += p.surgery_duration
        for d in self.stay(p, a.day):
            self.people[a.room_id, d].append(p.gender)

    def remove(self, case_id: str) -> Admission:
        """Take a case out (the nurses covering its room stay)."""
        a = self.admissions.pop(case_id)
        p = self.instance.patients_by_id[case_id]
        self.theater[a.theater_id, a.day] -= p.surgery_duration
        self.surgeon[p.surgeon_id, a.day] -= p.surgery_duration
        for d in self.stay(p, a.day):
            self.people[a.room_id, d].remove(p.gender)
        return a

    def commit(self, found: Placement) -> None:
        admission, packed, nurses = found
        self.retheater(admission.day, packed)
        self.add(admission)
        for (day, shift), nurse in nurses.items():
            self.cover(nurse, day, shift, admission.room_id)

    def retheater(self, day: int, theaters: dict[str, str | None]) -> None:
        """Move the day's cases to the operating rooms ``theaters`` names (a day packed again)."""
        for case_id, theater in theaters.items():
            a = self.admissions.get(case_id)
            if a is not None and theater is not None and theater != a.theater_id:
                minutes = self.instance.patients_by_id[case_id].surgery_duration
                self.theater[a.theater_id, day] -= minutes
                self.theater[theater, day] += minutes
                self.admissions[case_id] = Admission(case_id, day, a.room_id, theater)

    def cover(self, nurse: str, day: int, shift: str, room: str) -> None:
        self.nurse_of[room, self.instance.shift_index(day, shift)] = nurse
        self.rooms_of[nurse, day, shift].append(room)

    def room_fits(self, p: Patient, room: str, day: int) -> bool:
        capacity = self.instance.rooms_by_id[room].capacity
        return room not in p.incompatible_room_ids and all(
            len(self.people[room, d]) < capacity and set(self.people[room, d]) <= {p.gender}
            for d in self.stay(p, day))

    def nurses_for(self, p: Patient, room: str, day: int) -> dict[tuple[int, str], str] | None:
        """A nurse for each shift of the stay the room is not covered in yet (None: nobody works one)."""
        chosen: dict[tuple[int, str], str] = {}
        for d in self.stay(p, day):
            for shift in self.instance.shift_types:
                if (room, self.instance.shift_index(d, shift)) in self.nurse_of:
                    continue
                s = self.instance.shift_index(d, shift)
                working = [n.id for n in self.instance.nurses if n.works(s)]
                if not working:
                    return None
                chosen[d, shift] = min(working, key=lambda n: (len(self.rooms_of[n, d, shift]), n))
        return chosen


Placement = tuple[Admission, dict[str, str | None], dict[tuple[int, str], str]]


def _place(state: _State, p: Patient, cases: dict[str, CaseToPlan], rooms: dict[str, OperatingRoom],
           days: Iterable[int] | None = None) -> Placement | None:
    """A day, operating room and ward room for ``p`` (repacking that day's operating rooms), and
    the nurses to add; None when no day of its window has all of them."""
    inst = state.instance
    surgeon = inst.surgeons_by_id[p.surgeon_id]
    for day in days if days is not None else range(p.surgery_release_day, p.last_admission_day + 1):
        if state.surgeon[p.surgeon_id, day] + p.surgery_duration > surgeon.max_surgery_time[day]:
            continue
        ward = next((r for r in sorted(inst.rooms_by_id, key=lambda r: (-len(state.people[r, day]), r))
                     if state.room_fits(p, r, day) and state.nurses_for(p, r, day) is not None), None)
        if ward is None:
            continue
        today = [(a, cases[a.patient_id]) for a in state.admissions.values() if a.day == day]
        placed = Admission(p.id, day, ward, "")
        packed = pack_day(day, [*today, (placed, cases[p.id])], rooms)
        theater = packed[p.id]
        if theater is None or any(t is None for t in packed.values()):
            continue
        nurses = state.nurses_for(p, ward, day)
        assert nurses is not None
        return Admission(p.id, day, ward, theater), packed, nurses
    return None


def _moved_elsewhere(state: _State, moved: list[Admission], cases: dict[str, CaseToPlan],
                    rooms: dict[str, OperatingRoom]) -> bool:
    """Place each of ``moved`` on another day (no eviction); False when one does not fit."""
    for a in moved:
        found = _place(state, state.instance.patients_by_id[a.patient_id], cases, rooms)
        if found is None:
            return False
        state.commit(found)
    return True


def _make_way(state: _State, p: Patient, cases: dict[str, CaseToPlan],
              rooms: dict[str, OperatingRoom]) -> list[str] | None:
    """Place mandatory ``p`` on a day of its window by taking other cases out of that day:
    optional ones first (they are tried elsewhere by the caller), then mandatory ones, which
    must fit on another day or nothing changes. The optional cases taken out, or None."""
    inst = state.instance
    for day in range(p.surgery_release_day, p.last_admission_day + 1):
        before = copy.deepcopy(state.__dict__)
        others = sorted((a for a in state.admissions.values() if a.day == day),
                        key=lambda a: (inst.patients_by_id[a.patient_id].mandatory,
                                       -inst.patients_by_id[a.patient_id].surgery_duration, a.patient_id))
        taken: list[Admission] = []
        for victim in others:
            taken.append(state.remove(victim.patient_id))
            found = _place(state, p, cases, rooms, (day,))
            if found is None:
                continue
            state.commit(found)
            must = [a for a in taken if inst.patients_by_id[a.patient_id].mandatory]
            if _moved_elsewhere(state, must, cases, rooms):
                return [a.patient_id for a in taken if not inst.patients_by_id[a.patient_id].mandatory]
            break
        state.__dict__.update(before)  # nothing of this day's attempt stays
    return None


def reinsert(problem: AdmissionProblem, instance: Instance, solution: Solution,
             case_ids: Iterable[str]) -> tuple[Solution, tuple[str, ...]]:
    """The solution with as many of ``case_ids`` put back as fit (a mandatory case may take the
    place of optional ones, which are tried elsewhere), and the cases left out."""
    state = _State(instance, solution)
    cases = {c.case_id: c for c in problem.cases}
    rooms = {r.id: r for r in problem.operating_rooms}
    pending = sorted(case_ids, key=lambda c: (not instance.patients_by_id[c].mandatory, c))
    left: list[str] = []
    while pending:
        case_id = pending.pop(0)
        p = instance.patients_by_id[case_id]
        found = _place(state, p, cases, rooms)
        if found is not None:
            state.commit(found)
            continue
        taken = _make_way(state, p, cases, rooms) if p.mandatory else None
        if taken is None:
            left.append(case_id)
        else:
            pending += taken
    admissions = tuple(state.admissions.values())
    assignments = tuple(NurseAssignment(n, d, s, tuple(rooms)) for (n, d, s), rooms in state.rooms_of.items()
                        if rooms)
    return Solution(admissions, assignments), tuple(left)
