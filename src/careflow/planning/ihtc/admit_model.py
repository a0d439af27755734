"""CP-SAT model of an admission neighbourhood: some patients re-placed (day, room, theater) among
everyone else, who stays where they are.

The nurse plan is fixed and covers every room-shift some nurse works (``ward.Roster``), so a
patient's skill shortfall, continuity and its nurses' extra load are known for each placement:
the objective is the exact change of the total cost, up to a constant. Placements are the
boolean ``x[i, day, room]``; the theater is ``y[i, day, theater]``. Each rule of PROBLEM.md is
one function below: the hard ones add constraints (or, for the admission window, compatibility
and nurse presence, keep the placement out of the model); the soft ones return their weighted
cost as a linear expression.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from careflow.planning.ihtc.compact import Compact, Person
from careflow.planning.ihtc.construct import Placement
from careflow.planning.ihtc.ward import Ward

__all__ = ["ADMISSION_COSTS", "HARD_RULES", "SOFT_RULES", "AdmissionModel", "Freed", "build_admission_model"]

Expr = cp_model.LinearExprT


@dataclass(frozen=True, slots=True)
class Freed:
    """The patients a neighbourhood re-places, the days they may be admitted on and the rooms."""

    patients: tuple[int, ...]
    days: frozenset[int]
    rooms: frozenset[int]


@dataclass
class AdmissionModel:
    """The CP-SAT model of one neighbourhood and its variables, by (patient, day, room|theater)."""

    c: Compact
    ward: Ward
    freed: Freed
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    x: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    y: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    # (room, day) -> [(patient, 0/1 expression "the patient is in the room that day")]
    present: dict[tuple[int, int], list[tuple[int, Expr]]] = field(default_factory=dict)

    def placements(self, values: Callable[[cp_model.IntVar], bool]) -> dict[int, Placement | None]:
        """The placement each freed patient gets under ``values`` (a solver's boolean values)."""
        chosen: dict[int, Placement | None] = dict.fromkeys(self.freed.patients)
        rooms = {(i, d): r for (i, d, r), v in self.x.items() if values(v)}
        for (i, d, t), v in self.y.items():
            if values(v):
                chosen[i] = Placement(d, rooms[i, d], t)
        return chosen


def _stay_days(c: Compact, p: Person, day: int) -> range:
    return range(day, min(day + p.length_of_stay, c.days))


# Hard rules


def admission_window(m: AdmissionModel) -> None:
    """AdmissionDay, PatientRoomCompatibility, RoomGenderMix against fixed people, NursePresence
    and UncoveredRoom: only placements that break none of them become variables."""
    c, w = m.c, m.ward
    for i in m.freed.patients:
        p = c.patients[i]
        for day in sorted(m.freed.days):
            if day not in c.admission_days(p):
                continue
            if c.surgeon_max_time[p.surgeon][day] - w.surgeon_minutes[p.surgeon][day] < p.surgery_duration:
                continue
            if not any(a[day] - w.theater_minutes[t][day] >= p.surgery_duration
                       for t, a in enumerate(c.theater_availability)):
                continue
            for r in sorted(m.freed.rooms):
                if r in p.incompatible_rooms or any(w.nurse[g][r] < 0 for g in c.stay_shifts(p, day)):
                    continue
                if all(w.occupancy[r][d] < c.room_capacity[r]
                       and w.genders[r][d][p.gender] == w.occupancy[r][d] for d in _stay_days(c, p, day)):
                    m.x[i, day, r] = m.model.new_bool_var(f"x{i}_{day}_{r}")
    by_room: dict[tuple[int, int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (i, day, r), v in m.x.items():
        for d in _stay_days(c, c.patients[i], day):
            by_room[i, r, d].append(v)
    for (i, r, d), vs in by_room.items():
        m.present.setdefault((r, d), []).append((i, sum(vs) if len(vs) > 1 else vs[0]))


def mandatory_unscheduled_patients(m: AdmissionModel) -> None:
    """A mandatory patient is admitted exactly once; an optional one at most once."""
    placed: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (i, _, _), v in m.x.items():
        placed[i].append(v)
    for i in m.freed.patients:
        if m.c.patients[i].mandatory:
            m.model.add_exactly_one(placed[i])
        else:
            m.model.add_at_most_one(placed[i])


def room_capacity(m: AdmissionModel) -> None:
    """People in a room on a day, fixed and freed, stay within its capacity."""
    for (r, d), people in m.present.items():
        room_left = m.c.room_capacity[r] - m.ward.occupancy[r][d]
        if len(people) > room_left:
            m.model.add(sum(e for _, e in people) <= room_left)


def room_gender_mix(m: AdmissionModel) -> None:
    """Freed people of different genders never share a room-day (fixed people are kept out by
    ``admission_window``)."""
    for (r, d), people in m.present.items():
        genders = sorted({m.c.patients[i].gender for i, _ in people})
        if len(genders) < 2:
            continue
        chosen = {g: m.model.new_bool_var(f"g{r}_{d}_{g}") for g in genders}
        m.model.add_at_most_one(chosen.values())
        for i, e in people:
            m.model.add(e <= chosen[m.c.patients[i].gender])


def operating_theater_overtime(m: AdmissionModel) -> None:
    """Each admission has one theater that day, and a theater's minutes stay within its availability."""
    c, w = m.c, m.ward
    days: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (i, d, _), v in m.x.items():
        days[i, d].append(v)
    minutes: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (i, d), vs in days.items():
        p = c.patients[i]
        ys = []
        for t, availability in enumerate(c.theater_availability):
            if availability[d] - w.theater_minutes[t][d] >= p.surgery_duration:
                m.y[i, d, t] = y = m.model.new_bool_var(f"y{i}_{d}_{t}")
                ys.append(y)
                minutes[t, d].append((p.surgery_duration, y))
        m.model.add(sum(ys) == sum(vs))
    for (t, d), cases in minutes.items():
        left = c.theater_availability[t][d] - w.theater_minutes[t][d]
        if sum(k for k, _ in cases) > left:
            m.model.add(sum(k * y for k, y in cases) <= left)


def surgeon_overtime(m: AdmissionModel) -> None:
    """A surgeon's minutes on a day stay within the surgeon's maximum."""
    c, w = m.c, m.ward
    minutes: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (i, d, _), v in m.x.items():
        p = c.patients[i]
        minutes[p.surgeon, d].append((p.surgery_duration, v))
    for (s, d), cases in minutes.items():
        left = c.surgeon_max_time[s][d] - w.surgeon_minutes[s][d]
        if sum(k for k, _ in cases) > left:
            m.model.add(sum(k * v for k, v in cases) <= left)


# Costs (weighted)


def patient_delay(m: AdmissionModel) -> Expr:
    """Days between release and admission, per admitted freed patient."""
    c = m.c
    return c.weights.patient_delay * sum((d - c.patients[i].release_day) * v for (i, d, _), v in m.x.items())


def elective_unscheduled_patients(m: AdmissionModel) -> Expr:
    """Freed optional patients left out."""
    optional = [i for i in m.freed.patients if not m.c.patients[i].mandatory]
    admitted = [v for (i, _, _), v in m.x.items() if not m.c.patients[i].mandatory]
    return m.c.weights.unscheduled_optional * (len(optional) - sum(admitted))


def room_age_mix(m: AdmissionModel) -> Expr:
    """Per room-day with a freed person, the spread of age groups present (fixed spread included)."""
    c, terms = m.c, []
    top = c.age_groups - 1
    for (r, d), people in m.present.items():
        hi = m.model.new_int_var(0, top, f"hi{r}_{d}")
        lo = m.model.new_int_var(0, top, f"lo{r}_{d}")
        m.model.add(hi >= lo)
        fixed = m.ward.age_range(r, d)
        if fixed is not None:
            m.model.add(lo <= fixed[0])
            m.model.add(hi >= fixed[1])
        for i, e in people:
            age = c.patients[i].age
            m.model.add(hi >= age * e)
            m.model.add(lo <= age + (top - age) * (1 - e))
        terms.append(hi - lo)
    return c.weights.room_mixed_age * sum(terms)


def open_operating_theater(m: AdmissionModel) -> Expr:
    """Theater-days opened by a freed patient's surgery (those already open cost nothing more)."""
    opened: dict[tuple[int, int], cp_model.IntVar] = {}
    for (_, d, t), y in m.y.items():
        if m.ward.theater_cases[t][d]:
            continue
        if (t, d) not in opened:
            opened[t, d] = m.model.new_bool_var(f"open{t}_{d}")
        m.model.add_implication(y, opened[t, d])
    return m.c.weights.open_operating_theater * sum(opened.values())


def surgeon_transfer(m: AdmissionModel) -> Expr:
    """Per surgeon-day, theaters used beyond the first."""
    c, w = m.c, m.ward
    used: dict[tuple[int, int, int], cp_model.IntVar] = {}
    for (i, d, t), y in m.y.items():
        s = c.patients[i].surgeon
        if t in w.surgeon_theaters[s][d]:
            continue
        if (s, d, t) not in used:
            used[s, d, t] = m.model.new_bool_var(f"used{s}_{d}_{t}")
        m.model.add_implication(y, used[s, d, t])
    by_day: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (s, d, _), u in used.items():
        by_day[s, d].append(u)
    terms: list[Expr] = []
    for (s, d), us in by_day.items():
        if w.surgeon_theaters[s][d]:
            terms.append(sum(us))
        elif len(us) > 1:
            extra = m.model.new_int_var(0, len(us) - 1, f"transfer{s}_{d}")
            m.model.add(extra >= sum(us) - 1)
            terms.append(extra)
    return c.weights.surgeon_transfer * sum(terms)


def room_skill_level(m: AdmissionModel) -> Expr:
    """Per shift of a freed patient's stay, the skill it requires beyond its room's nurse."""
    c, nurse = m.c, m.ward.nurse
    terms = []
    for (i, d, r), v in m.x.items():
        p = c.patients[i]
        first = d * c.shifts_per_day
        shortfall = sum(max(0, p.skill[g - first] - c.nurse_skill[nurse[g][r]]) for g in c.stay_shifts(p, d))
        if shortfall:
            terms.append(shortfall * v)
    return c.weights.room_nurse_skill * sum(terms)


def continuity_of_care(m: AdmissionModel) -> Expr:
    """Per admitted freed patient, the distinct nurses of its room during its stay."""
    c, nurse = m.c, m.ward.nurse
    return c.weights.continuity_of_care * sum(
        len({nurse[g][r] for g in c.stay_shifts(c.patients[i], d)}) * v for (i, d, r), v in m.x.items())


def excessive_nurse_workload(m: AdmissionModel) -> Expr:
    """Per nurse and shift a freed patient's room touches, the load beyond the nurse's maximum."""
    c, w = m.c, m.ward
    added: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (i, d, r), v in m.x.items():
        p = c.patients[i]
        first = d * c.shifts_per_day
        for g in c.stay_shifts(p, d):
            if p.workload[g - first]:
                added[g, w.nurse[g][r]].append((p.workload[g - first], v))
    terms = []
    for (g, n), loads in added.items():
        spare = c.nurse_max_load[n][g] - w.nurse_load[g].get(n, 0)
        if sum(k for k, _ in loads) <= max(spare, 0):
            continue
        excess = m.model.new_int_var(0, sum(k for k, _ in loads), f"excess{g}_{n}")
        m.model.add(excess >= sum(k * v for k, v in loads) - max(spare, 0))
        terms.append(excess)
    return c.weights.nurse_eccessive_workload * sum(terms)


HARD_RULES: tuple[Callable[[AdmissionModel], None], ...] = (
    admission_window, mandatory_unscheduled_patients, room_capacity, room_gender_mix,
    operating_theater_overtime, surgeon_overtime)
"""The hard rules, in the order they are added (``admission_window`` first: it makes the variables)."""

SOFT_RULES: tuple[Callable[[AdmissionModel], Expr], ...] = (
    patient_delay, elective_unscheduled_patients, room_age_mix, open_operating_theater, surgeon_transfer,
    room_skill_level, continuity_of_care, excessive_nurse_workload)
"""The costs, each already multiplied by its weight."""

ADMISSION_COSTS: tuple[Callable[[AdmissionModel], Expr], ...] = (
    patient_delay, elective_unscheduled_patients, room_age_mix, open_operating_theater, surgeon_transfer)
"""The costs that do not depend on the nurse plan."""


def build_admission_model(c: Compact, ward: Ward, freed: Freed,
                          current: Iterable[tuple[int, Placement | None]] = (),
                          costs: Iterable[Callable[[AdmissionModel], Expr]] = SOFT_RULES) -> AdmissionModel:
    """The model of ``freed`` around ``ward``, minimizing the weighted ``costs`` (all of them unless
    given); ``current`` placements (patient, placement) become the solver's hint."""
    m = AdmissionModel(c, ward, freed)
    for rule in HARD_RULES:
        rule(m)
    m.model.minimize(sum(cost(m) for cost in costs))
    hinted = {(i, a.day, a.room): (i, a.day, a.theater) for i, a in current if a is not None}
    for key, v in m.x.items():
        m.model.add_hint(v, key in hinted)
    chosen = set(hinted.values())
    for key, y in m.y.items():
        m.model.add_hint(y, key in chosen)
    return m
