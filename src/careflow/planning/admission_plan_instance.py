"""An ``AdmissionProblem`` as an IHTC-2024 ``Instance``: which careflow fact becomes which rule.

| careflow | IHTC |
|---|---|
| surgical case | patient (id = case id), surgery duration = its operating-room minutes |
| urgent or emergent case, or latest date inside the horizon | mandatory, due = latest date (or last day) |
| routine case due after the horizon | optional: left out at ``ElectiveUnscheduledPatients`` per case |
| earliest date | release day (``AdmissionDay``); an overdue case is released on day 0 |
| operating room's free minutes per day | operating theater availability (``OperatingTheaterOvertime``) |
| surgeon's free minutes per day | surgeon max surgery time (``SurgeonOvertime``) |
| ward room (beds of one room) | room, capacity = its beds (``RoomCapacity``) |
| patient sex female / male | gender A / B (``RoomGenderMix``); other or unknown: single rooms only |
| other bed type, other sex's room, no isolation when needed | incompatible (``PatientRoomCompatibility``) |
| bed bookings overlapping the horizon | one occupant of the bed's room per bed |
| ward nurse on duty in a shift | nurse working that shift, max load ``NURSE_MAX_LOAD`` |

A case that no day of its window can take (no capable operating room or surgeon time long
enough, no compatible ward room, its window after the horizon) is not handed to the solver:
it comes back as an ``UnplannedCase`` with the reason.
"""

from __future__ import annotations

from careflow.planning.admission_plan import (
    ACUITY,
    AGE_GROUPS,
    SHIFTS,
    AdmissionProblem,
    CaseToPlan,
    Inpatient,
    UnplannedCase,
    WardRoom,
    acuity,
    age_group,
)
from careflow.planning.ihtc.instance import (
    Instance,
    Nurse,
    NurseShift,
    Occupant,
    OperatingTheater,
    Patient,
    Room,
    Surgeon,
)

__all__ = ["GENDER", "compatible", "mandatory", "to_instance"]

GENDER = {"female": "A", "male": "B"}  # anyone else is "U": kept to single rooms


def _gender(sex: str) -> str:
    return GENDER.get(sex, "U")


def compatible(case: CaseToPlan, room: WardRoom) -> bool:
    """Whether the room may take the case's patient (bed type, gender assignment, isolation)."""
    if room.bed_type != case.bed_type or (case.isolation and not room.isolation):
        return False
    if room.gender in GENDER and room.gender != case.sex:
        return False
    return case.sex in GENDER or len(room.bed_ids) == 1


def mandatory(case: CaseToPlan, problem: AdmissionProblem) -> bool:
    """A case must be operated in the horizon when it is urgent or its latest date falls inside."""
    return case.mandatory or (case.latest - problem.start).days < problem.days


def _occupant(stays: list[Inpatient], room_id: str, horizon: int) -> Occupant:
    """The bed's stays as one occupant from day 0 to the last one's end: the IHTC has no later
    arrivals, so a bed stays held between stays; workload and skill count only on stay days."""
    spd = len(SHIFTS)
    length = min(max(i.last_day for i in stays), horizon - 1) + 1
    workload, skill = [0] * (length * spd), [0] * (length * spd)
    for i in stays:
        for s in range(max(0, i.first_day) * spd, min(i.last_day + 1, length) * spd):
            workload[s] += acuity(i.bed_type) + 1
            skill[s] = max(skill[s], acuity(i.bed_type))
    first = min(stays, key=lambda i: (i.first_day, i.booking_id))
    return Occupant(id=f"bed:{first.bed_id}", gender=_gender(first.sex), age=age_group(first.age),
                    length_of_stay=length, workload_produced=tuple(workload),
                    skill_level_required=tuple(skill), room_id=room_id)


def _why_not(case: CaseToPlan, problem: AdmissionProblem, release: int, last: int) -> str | None:
    """Why no day of the window can take the case, or None when one may."""
    if release >= problem.days:
        return "its earliest date is after the horizon"
    if not any(compatible(case, room) for room in problem.wards):
        isolation = ", isolation" if case.isolation else ""
        return f"no ward room takes this patient (a {case.bed_type} bed{isolation})"
    surgeon = next((s for s in problem.surgeons if s.id == case.surgeon_id), None)
    if surgeon is None:
        return f"surgeon {case.surgeon_id} has no operating time at {problem.site_id}"
    rooms = [r for r in problem.operating_rooms if case.capabilities <= r.capabilities]
    if not rooms:
        return f"no operating room has {', '.join(sorted(case.capabilities))}"
    for day in range(release, last + 1):
        if surgeon.minutes[day] >= case.minutes and any(r.minutes[day] >= case.minutes for r in rooms):
            return None
    return f"no day of its window has {case.minutes} free minutes of a capable room and of its surgeon"


def _patient(case: CaseToPlan, problem: AdmissionProblem, release: int, last: int,
             must: bool) -> Patient:
    level = acuity(case.bed_type)
    spd = len(SHIFTS)
    return Patient(
        id=case.case_id, mandatory=must, gender=_gender(case.sex), age=age_group(case.age),
        length_of_stay=case.stay_days, surgery_release_day=release,
        surgery_due_day=last if must else None, last_admission_day=last,
        surgery_duration=case.minutes, surgeon_id=case.surgeon_id,
        incompatible_room_ids=frozenset(r.id for r in problem.wards if not compatible(case, r)),
        workload_produced=(level + 1,) * (case.stay_days * spd),
        skill_level_required=(level,) * (case.stay_days * spd))


def to_instance(problem: AdmissionProblem) -> tuple[Instance, tuple[UnplannedCase, ...]]:
    """The IHTC instance of ``problem``, and the cases it leaves out because no day can take them."""
    days = problem.days
    room_of_bed = {bed: room.id for room in problem.wards for bed in room.bed_ids}
    stays: dict[str, list[Inpatient]] = {}
    for i in problem.inpatients:
        if i.bed_id in room_of_bed and i.last_day >= 0 and i.first_day < days:
            stays.setdefault(i.bed_id, []).append(i)
    occupants = tuple(_occupant(found, room_of_bed[bed], days) for bed, found in sorted(stays.items()))
    patients: list[Patient] = []
    unplanned: list[UnplannedCase] = []
    for case in problem.cases:
        must = mandatory(case, problem)
        release = max(0, (case.earliest - problem.start).days)
        last = min(days - 1, (case.latest - problem.start).days) if must else days - 1
        if last < release:  # overdue: operate as soon as possible
            last = days - 1
        reason = _why_not(case, problem, release, last)
        if reason is not None:
            unplanned.append(UnplannedCase(case.case_id, case.patient_id, must, reason))
        else:
            patients.append(_patient(case, problem, release, last, must))
    nurses = []
    for n in problem.nurses:
        shifts = tuple(NurseShift(day, name, load) for (day, name), load in sorted(n.shifts.items())
                       if 0 <= day < days)
        loads = {day * len(SHIFTS) + [s for s, _, _ in SHIFTS].index(name): load
                 for day, name, load in ((s.day, s.shift, s.max_load) for s in shifts)}
        nurses.append(Nurse(n.id, n.skill_level, shifts, loads))
    instance = Instance(
        days=days, skill_levels=max(ACUITY.values(), default=0) + 1,
        shift_types=tuple(name for name, _, _ in SHIFTS), age_groups=tuple(name for name, _ in AGE_GROUPS),
        weights=problem.weights.ihtc(), occupants=occupants, patients=tuple(patients),
        surgeons=tuple(Surgeon(s.id, s.minutes) for s in problem.surgeons),
        operating_theaters=tuple(OperatingTheater(r.id, r.minutes) for r in problem.operating_rooms),
        rooms=tuple(Room(w.id, len(w.bed_ids)) for w in problem.wards), nurses=tuple(nurses))
    return instance, tuple(unplanned)
