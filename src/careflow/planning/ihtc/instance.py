"""An IHTC-2024 instance (../shared/data/ihtc2024/PROBLEM.md) as frozen dataclasses.

Days are ``0..days-1``; a shift is numbered ``s = day * len(shift_types) + position``.
Per-shift patient data (``workload_produced``, ``skill_level_required``) is indexed from
the patient's admission shift; for an occupant, from shift 0. Age groups are kept as
their index in ``Instance.age_groups`` (youngest first), so an age mix is a difference.

Malformed input raises ``InvalidRequest`` naming the offending field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careflow.domain.errors import InvalidRequest

__all__ = [
    "Instance",
    "Nurse",
    "NurseShift",
    "Occupant",
    "OperatingTheater",
    "Patient",
    "Room",
    "Surgeon",
    "Weights",
    "load_instance",
    "parse_instance",
    "read_json_file",
]


@dataclass(frozen=True, slots=True)
class Weights:
    """The cost weights, one per soft rule (keys as spelled in the instance files)."""

    room_mixed_age: int
    room_nurse_skill: int
    continuity_of_care: int
    nurse_eccessive_workload: int
    open_operating_theater: int
    surgeon_transfer: int
    patient_delay: int
    unscheduled_optional: int


@dataclass(frozen=True, slots=True)
class Occupant:
    """A person already in ``room_id`` at day 0; per-shift data is indexed from shift 0."""

    id: str
    gender: str
    age: int
    length_of_stay: int
    workload_produced: tuple[int, ...]
    skill_level_required: tuple[int, ...]
    room_id: str


@dataclass(frozen=True, slots=True)
class Patient:
    """A surgical patient to admit (or, if optional, leave out); per-shift data from admission."""

    id: str
    mandatory: bool
    gender: str
    age: int
    length_of_stay: int
    surgery_release_day: int
    surgery_due_day: int | None  # as in the file: only mandatory patients have one
    last_admission_day: int  # the due day if mandatory, else the horizon's last day
    surgery_duration: int
    surgeon_id: str
    incompatible_room_ids: frozenset[str]
    workload_produced: tuple[int, ...]
    skill_level_required: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Surgeon:
    id: str
    max_surgery_time: tuple[int, ...]  # minutes per day


@dataclass(frozen=True, slots=True)
class OperatingTheater:
    id: str
    availability: tuple[int, ...]  # minutes per day


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    capacity: int


@dataclass(frozen=True, slots=True)
class NurseShift:
    day: int
    shift: str
    max_load: int


@dataclass(frozen=True)
class Nurse:
    """A nurse, the shifts it works and its load limit in each (``max_load`` by shift index)."""

    id: str
    skill_level: int
    working_shifts: tuple[NurseShift, ...]
    max_load: Mapping[int, int] = field(hash=False, compare=False, repr=False)

    def works(self, shift: int) -> bool:
        """Whether the nurse works global shift ``shift``."""
        return shift in self.max_load


@dataclass(frozen=True)
class Instance:
    """One IHTC-2024 instance; the ``*_by_id`` maps give an entity from its id."""

    days: int
    skill_levels: int
    shift_types: tuple[str, ...]
    age_groups: tuple[str, ...]
    weights: Weights
    occupants: tuple[Occupant, ...]
    patients: tuple[Patient, ...]
    surgeons: tuple[Surgeon, ...]
    operating_theaters: tuple[OperatingTheater, ...]
    rooms: tuple[Room, ...]
    nurses: tuple[Nurse, ...]
    patients_by_id: Mapping[str, Patient] = field(init=False, hash=False, compare=False, repr=False)
    surgeons_by_id: Mapping[str, Surgeon] = field(init=False, hash=False, compare=False, repr=False)
    theaters_by_id: Mapping[str, OperatingTheater] = field(init=False, hash=False, compare=False, repr=False)
    rooms_by_id: Mapping[str, Room] = field(init=False, hash=False, compare=False, repr=False)
    nurses_by_id: Mapping[str, Nurse] = field(init=False, hash=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, items in (("patients", self.patients), ("surgeons", self.surgeons),
                            ("theaters", self.operating_theaters), ("rooms", self.rooms),
                            ("nurses", self.nurses)):
            object.__setattr__(self, f"{name}_by_id", {item.id: item for item in items})

    @property
    def shifts_per_day(self) -> int:
        return len(self.shift_types)

    @property
    def shifts(self) -> int:
        """Number of shifts in the horizon."""
        return self.days * len(self.shift_types)

    def shift_index(self, day: int, shift: str) -> int:
        """The global index of shift ``shift`` (a name in ``shift_types``) on ``day``."""
        return day * len(self.shift_types) + self.shift_types.index(shift)


def read_json_file(path: str | Path) -> Any:
    """The JSON document in ``path`` (an instance or a solution), or ``InvalidRequest`` naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"{path} is not valid JSON: {exc}") from exc


def load_instance(path: str | Path) -> Instance:
    """Read and parse an instance file."""
    return parse_instance(read_json_file(path))


def parse_instance(data: Any) -> Instance:
    """The instance in ``data`` (the decoded JSON), checked for shape and cross-references."""
    top = json_object(data, "instance")
    days = _int(top, "days", "instance", minimum=1)
    shift_types = _names(top, "shift_types")
    age_groups = _names(top, "age_groups")
    if not shift_types:
        raise InvalidRequest("instance: shift_types is empty", "shift_types")
    ages = {name: i for i, name in enumerate(age_groups)}
    w = json_object(top.get("weights"), "weights")
    weights = Weights(**{k: _int(w, k, "weights", minimum=0) for k in Weights.__slots__})
    rooms = tuple(Room(_str(r.get("id"), f"{where}.id"), _int(r, "capacity", where, minimum=0))
                  for where, r in _items(top, "rooms"))
    room_ids = {r.id for r in rooms}
    surgeons = tuple(Surgeon(_str(s.get("id"), f"{where}.id"), _ints(s, "max_surgery_time", where, days))
                     for where, s in _items(top, "surgeons"))
    theaters = tuple(OperatingTheater(_str(t.get("id"), f"{where}.id"), _ints(t, "availability", where, days))
                     for where, t in _items(top, "operating_theaters"))
    surgeon_ids = {s.id for s in surgeons}
    spd = len(shift_types)
    occupants: list[Occupant] = []
    for where, o in _items(top, "occupants"):
        los = _int(o, "length_of_stay", where, minimum=1)
        occupants.append(Occupant(
            id=_str(o.get("id"), f"{where}.id"), gender=_str(o.get("gender"), f"{where}.gender"),
            age=_ref(ages, o, "age_group", where), length_of_stay=los,
            workload_produced=_ints(o, "workload_produced", where, los * spd),
            skill_level_required=_ints(o, "skill_level_required", where, los * spd),
            room_id=_known(room_ids, o, "room_id", where)))
    patients: list[Patient] = []
    for where, p in _items(top, "patients"):
        los = _int(p, "length_of_stay", where, minimum=1)
        mandatory = p.get("mandatory")
        if not isinstance(mandatory, bool):
            raise InvalidRequest(f"{where}.mandatory must be true or false", f"{where}.mandatory")
        due = _int(p, "surgery_due_day", where) if mandatory else None
        incompatible = frozenset(_str(v, f"{where}.incompatible_room_ids[{i}]")
                                 for i, v in enumerate(json_list(p, "incompatible_room_ids", where)))
        if incompatible - room_ids:
            raise InvalidRequest(f"{where}: unknown room {sorted(incompatible - room_ids)[0]!r} "
                                 f"in incompatible_room_ids", f"{where}.incompatible_room_ids")
        patients.append(Patient(
            id=_str(p.get("id"), f"{where}.id"), mandatory=mandatory,
            gender=_str(p.get("gender"), f"{where}.gender"), age=_ref(ages, p, "age_group", where),
            length_of_stay=los, surgery_release_day=_int(p, "surgery_release_day", where),
            surgery_due_day=due, last_admission_day=due if due is not None else days - 1,
            surgery_duration=_int(p, "surgery_duration", where, minimum=0),
            surgeon_id=_known(surgeon_ids, p, "surgeon_id", where), incompatible_room_ids=incompatible,
            workload_produced=_ints(p, "workload_produced", where, los * spd),
            skill_level_required=_ints(p, "skill_level_required", where, los * spd)))
    nurses: list[Nurse] = []
    for where, n in _items(top, "nurses"):
        shifts: list[NurseShift] = []
        loads: dict[int, int] = {}
        for i, ws in enumerate(json_list(n, "working_shifts", where)):
            at = f"{where}.working_shifts[{i}]"
            ws = json_object(ws, at)
            day = _int(ws, "day", at, minimum=0)
            name = _str(ws.get("shift"), f"{at}.shift")
            if day >= days or name not in shift_types:
                raise InvalidRequest(f"{at}: no shift {name!r} on day {day}", at)
            shift = NurseShift(day, name, _int(ws, "max_load", at, minimum=0))
            shifts.append(shift)
            loads[day * spd + shift_types.index(name)] = shift.max_load
        nurses.append(Nurse(_str(n.get("id"), f"{where}.id"), _int(n, "skill_level", where, minimum=0),
                            tuple(shifts), loads))
    instance = Instance(days, _int(top, "skill_levels", "instance", minimum=0), shift_types, age_groups,
                        weights, tuple(occupants), tuple(patients), surgeons, theaters, rooms, tuple(nurses))
    for kind, items, index in (("patient", instance.patients, instance.patients_by_id),
                               ("surgeon", surgeons, instance.surgeons_by_id),
                               ("operating theater", theaters, instance.theaters_by_id),
                               ("room", rooms, instance.rooms_by_id),
                               ("nurse", instance.nurses, instance.nurses_by_id)):
        if len(index) != len(items):
            raise InvalidRequest(f"instance: two {kind}s share an id")
    return instance


def json_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be an object", where)
    return value


def json_list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}.{key} must be a list", f"{where}.{key}")
    return value



def _items(obj: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{key}[{i}]", json_object(v, f"{key}[{i}]"))
            for i, v in enumerate(json_list(obj, key, "instance"))]


def _names(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(_str(v, f"{key}[{i}]") for i, v in enumerate(json_list(obj, key, "instance")))


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where} must be a non-empty string", where)
    return value


def _int(obj: dict[str, Any], key: str, where: str, minimum: int | None = None) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{where}.{key} must be an integer", f"{where}.{key}")
    if minimum is not None and value < minimum:
        raise InvalidRequest(f"{where}.{key} must be at least {minimum}", f"{where}.{key}")
    return value


def _ints(obj: dict[str, Any], key: str, where: str, length: int) -> tuple[int, ...]:
    values = json_list(obj, key, where)
    if len(values) != length or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise InvalidRequest(f"{where}.{key} must be a list of {length} integers", f"{where}.{key}")
    return tuple(values)


def _ref(index: Mapping[str, int], obj: dict[str, Any], key: str, where: str) -> int:
    name = _str(obj.get(key), f"{where}.{key}")
    if name not in index:
        raise InvalidRequest(f"{where}.{key}: unknown {key} {name!r}", f"{where}.{key}")
    return index[name]


def _known(ids: set[str], obj: dict[str, Any], key: str, where: str) -> str:
    ident = _str(obj.get(key), f"{where}.{key}")
    if ident not in ids:
        raise InvalidRequest(f"{where}.{key}: unknown id {ident!r}", f"{where}.{key}")
    return ident
