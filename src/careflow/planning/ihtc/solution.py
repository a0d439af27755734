"""An IHTC-2024 solution: admissions and nurse-to-room assignments, read and written in
the competition's JSON format (PROBLEM.md, "Solution format").

Reading checks what the official validator refuses: a patient listed twice, an unknown
patient, room, theater, nurse or shift, and a nurse assigned in a shift it does not work;
also a day outside the horizon and a room given two nurses in one shift. Each raises
``InvalidRequest`` naming the entry. Everything else (a late admission, a full room, an
uncovered room) is a violation the scorer counts, not an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.instance import Instance, json_list, json_object, read_json_file

__all__ = [
    "Admission",
    "NurseAssignment",
    "Solution",
    "load_solution",
    "parse_solution",
    "solution_to_json",
    "write_solution",
]


@dataclass(frozen=True, slots=True)
class Admission:
    """Patient ``patient_id`` admitted on ``day`` (its surgery day) to ``room_id``, operated in
    ``theater_id``."""

    patient_id: str
    day: int
    room_id: str
    theater_id: str


@dataclass(frozen=True, slots=True)
class NurseAssignment:
    """The rooms nurse ``nurse_id`` covers in shift ``shift`` (a name in ``shift_types``) of ``day``."""

    nurse_id: str
    day: int
    shift: str
    room_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Solution:
    """Admitted patients only (a patient without an admission is not admitted) and nurse assignments."""

    admissions: tuple[Admission, ...]
    assignments: tuple[NurseAssignment, ...]


def load_solution(path: str | Path, instance: Instance) -> Solution:
    """Read and parse a solution file for ``instance``."""
    return parse_solution(read_json_file(path), instance)


def parse_solution(data: Any, instance: Instance) -> Solution:
    """The solution in ``data`` (decoded JSON), checked against ``instance``."""
    if not isinstance(data, dict):
        raise InvalidRequest("solution must be an object")
    return Solution(_admissions(data, instance), _assignments(data, instance))


def _admissions(data: dict[str, Any], instance: Instance) -> tuple[Admission, ...]:
    seen: set[str] = set()
    admissions: list[Admission] = []
    for i, entry in enumerate(json_list(data, "patients", "solution")):
        where = f"patients[{i}]"
        entry = json_object(entry, where)
        pid = _id(entry, "id", where, instance.patients_by_id, "patient")
        if pid in seen:
            raise InvalidRequest(f"{where}: patient {pid!r} is listed twice", where)
        seen.add(pid)
        day = entry.get("admission_day")
        if day == "none":
            continue
        if isinstance(day, bool) or not isinstance(day, int):
            raise InvalidRequest(f"{where}.admission_day must be a day number or \"none\"", where)
        if not 0 <= day < instance.days:
            horizon = f"0..{instance.days - 1}"
            raise InvalidRequest(f"{where}: admission day {day} is outside the horizon {horizon}", where)
        admissions.append(Admission(pid, day, _id(entry, "room", where, instance.rooms_by_id, "room"),
                                    _id(entry, "operating_theater", where, instance.theaters_by_id,
                                        "operating theater")))
    return tuple(admissions)


def _assignments(data: dict[str, Any], instance: Instance) -> tuple[NurseAssignment, ...]:
    covered: dict[tuple[str, int], str] = {}
    listed: set[tuple[str, int]] = set()
    assignments: list[NurseAssignment] = []
    for i, entry in enumerate(json_list(data, "nurses", "solution")):
        where = f"nurses[{i}]"
        entry = json_object(entry, where)
        nid = _id(entry, "id", where, instance.nurses_by_id, "nurse")
        nurse = instance.nurses_by_id[nid]
        for k, item in enumerate(json_list(entry, "assignments", where)):
            at = f"{where}.assignments[{k}]"
            item = json_object(item, at)
            day, shift = item.get("day"), item.get("shift")
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day < instance.days:
                raise InvalidRequest(f"{at}: day must be a day of the horizon 0..{instance.days - 1}", at)
            if shift not in instance.shift_types:
                raise InvalidRequest(f"{at}: unknown shift {shift!r}", at)
            s = instance.shift_index(day, shift)
            if not nurse.works(s):
                raise InvalidRequest(f"{at}: nurse {nid!r} does not work the {shift} shift of day {day}", at)
            if (nid, s) in listed:
                raise InvalidRequest(f"{at}: nurse {nid!r} has the {shift} shift of day {day} twice", at)
            listed.add((nid, s))
            rooms = json_list(item, "rooms", at)
            for r, room in enumerate(rooms):
                if not isinstance(room, str) or room not in instance.rooms_by_id:
                    raise InvalidRequest(f"{at}.rooms[{r}]: unknown room {room!r}", at)
                other = covered.setdefault((room, s), nid)
                if other != nid or rooms.index(room) != r:
                    raise InvalidRequest(f"{at}: room {room!r} already has nurse {other!r} in the {shift} "
                                         f"shift of day {day}", at)
            assignments.append(NurseAssignment(nid, day, shift, tuple(rooms)))
    return tuple(assignments)


def solution_to_json(solution: Solution, instance: Instance) -> dict[str, Any]:
    """The competition's JSON: every patient (``"none"`` if not admitted), and every nurse
    with every shift it works (an empty room list where it covers none)."""
    admitted = {a.patient_id: a for a in solution.admissions}
    patients: list[dict[str, Any]] = []
    for p in instance.patients:
        a = admitted.get(p.id)
        if a is None:
            patients.append({"id": p.id, "admission_day": "none"})
        else:
            patients.append({"id": p.id, "admission_day": a.day, "room": a.room_id,
                             "operating_theater": a.theater_id})
    rooms = {(a.nurse_id, a.day, a.shift): a.room_ids for a in solution.assignments}
    nurses = [{"id": n.id, "assignments": [
        {"day": ws.day, "shift": ws.shift, "rooms": list(rooms.get((n.id, ws.day, ws.shift), ()))}
        for ws in n.working_shifts]} for n in instance.nurses]
    return {"patients": patients, "nurses": nurses}


def write_solution(path: str | Path, solution: Solution, instance: Instance) -> None:
    """Write ``solution`` to ``path`` in the competition's format."""
    Path(path).write_text(json.dumps(solution_to_json(solution, instance), indent=2) + "\n", encoding="utf-8")


def _id(obj: dict[str, Any], key: str, where: str, known: Any, kind: str) -> str:
    ident = obj.get(key)
    if not isinstance(ident, str) or ident not in known:
        raise InvalidRequest(f"{where}: unknown {kind} {ident!r}", f"{where}.{key}")
    return ident
