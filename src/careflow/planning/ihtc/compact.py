"""The instance as integer indices and lists, the shape the construction and search loops want."""

from __future__ import annotations

from dataclasses import dataclass

from careflow.planning.ihtc.instance import Instance, Weights

__all__ = ["Compact", "Person", "compact"]


@dataclass(frozen=True, slots=True)
class Person:
    """A patient or an occupant with every reference turned into an index."""

    index: int
    mandatory: bool
    gender: int
    age: int
    length_of_stay: int
    release_day: int
    due_day: int  # the last admission day allowed
    surgery_duration: int
    surgeon: int
    incompatible_rooms: frozenset[int]
    workload: tuple[int, ...]
    skill: tuple[int, ...]
    room: int = -1  # an occupant's fixed room


@dataclass(frozen=True, slots=True)
class Compact:
    """Index-based view of an ``Instance``; list positions follow the instance's tuples."""

    instance: Instance
    days: int
    shifts_per_day: int
    age_groups: int
    genders: int
    weights: Weights
    patients: tuple[Person, ...]
    occupants: tuple[Person, ...]
    room_capacity: tuple[int, ...]
    theater_availability: tuple[tuple[int, ...], ...]
    surgeon_max_time: tuple[tuple[int, ...], ...]
    nurse_skill: tuple[int, ...]
    nurse_max_load: tuple[dict[int, int], ...]  # per nurse: global shift -> max load

    @property
    def shifts(self) -> int:
        return self.days * self.shifts_per_day

    def admission_days(self, p: Person) -> range:
        """The days ``p`` may be admitted on within the horizon (empty when none)."""
        return range(p.release_day, min(p.due_day, self.days - 1) + 1)

    def stay_shifts(self, p: Person, day: int) -> range:
        """The global shifts of ``p``'s stay when admitted on ``day`` (an occupant: day 0), within
        the horizon."""
        first = day * self.shifts_per_day
        return range(first, min(first + len(p.workload), self.shifts))


def compact(instance: Instance) -> Compact:
    """The index-based view of ``instance``."""
    rooms = {r.id: i for i, r in enumerate(instance.rooms)}
    surgeons = {s.id: i for i, s in enumerate(instance.surgeons)}
    gender_names = sorted({p.gender for p in instance.patients} | {o.gender for o in instance.occupants})
    genders = {g: i for i, g in enumerate(gender_names)}
    patients = tuple(
        Person(i, p.mandatory, genders[p.gender], p.age, p.length_of_stay, p.surgery_release_day,
               p.last_admission_day, p.surgery_duration, surgeons[p.surgeon_id],
               frozenset(rooms[r] for r in p.incompatible_room_ids), p.workload_produced,
               p.skill_level_required)
        for i, p in enumerate(instance.patients))
    occupants = tuple(
        Person(i, True, genders[o.gender], o.age, o.length_of_stay, 0, 0, 0, -1, frozenset(),
               o.workload_produced, o.skill_level_required, room=rooms[o.room_id])
        for i, o in enumerate(instance.occupants))
    return Compact(
        instance=instance, days=instance.days, shifts_per_day=instance.shifts_per_day,
        age_groups=max(1, len(instance.age_groups)), genders=max(1, len(gender_names)),
        weights=instance.weights, patients=patients, occupants=occupants,
        room_capacity=tuple(r.capacity for r in instance.rooms),
        theater_availability=tuple(t.availability for t in instance.operating_theaters),
        surgeon_max_time=tuple(s.max_surgery_time for s in instance.surgeons),
        nurse_skill=tuple(n.skill_level for n in instance.nurses),
        nurse_max_load=tuple(dict(n.max_load) for n in instance.nurses))
