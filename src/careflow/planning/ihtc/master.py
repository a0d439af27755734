"""The whole admission plan as one CP-SAT model, started from a plan in hand: every patient may
move to any day, room and theater, with the admission costs only (delay, left-out optional
patients, age mix, opened theaters, surgeon transfers), before a nurse plan exists.

Local moves change one patient at a time, so they rarely find that admitting one more optional
patient pays when it means shifting several others across days and rooms; the whole model sees
such chains. It is used only on long time limits: on the largest instances presolve alone takes
seconds. The start plan is handed over as a complete hint (every auxiliary variable too, found by a
first solve with the placements fixed), so the answer is never worse than the start.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from careflow.planning.ihtc.admit_model import ADMISSION_COSTS, AdmissionModel, Freed, build_admission_model
from careflow.planning.ihtc.compact import Compact
from careflow.planning.ihtc.construct import Placement
from careflow.planning.ihtc.ward import Roster, Ward

__all__ = ["model_size", "refine_admissions"]


def model_size(c: Compact) -> int:
    """An upper estimate of the whole model's placements (patient, day, room)."""
    rooms = len(c.room_capacity)
    return sum(len(c.admission_days(p)) * (rooms - len(p.incompatible_rooms)) for p in c.patients)


def _any_nurse(c: Compact) -> list[list[int]]:
    """A stand-in nurse plan: some working nurse in every room-shift anyone works (the admission
    costs do not depend on who)."""
    rooms = len(c.room_capacity)
    first = [min((n for n, loads in enumerate(c.nurse_max_load) if g in loads), default=-1)
             for g in range(c.shifts)]
    return [[first[g]] * rooms for g in range(c.shifts)]


def _complete_hint(m: AdmissionModel, seconds: float) -> float | None:
    """Extend the model's hint (the placements) to every variable; the hinted plan's objective, or
    None when the plan could not be completed."""
    fixed = cp_model.CpSolver()
    fixed.parameters.num_workers = 1
    fixed.parameters.fix_variables_to_their_hinted_value = True
    fixed.parameters.max_time_in_seconds = seconds
    if fixed.solve(m.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    proto = m.model.proto
    values = [fixed.value(m.model.get_int_var_from_proto_index(k)) for k in range(len(proto.variables))]
    m.model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in ortools
    for k, value in enumerate(values):
        m.model.add_hint(m.model.get_int_var_from_proto_index(k), value)
    return float(fixed.objective_value)


def refine_admissions(c: Compact, admissions: list[Placement | None], seconds: float, threads: int = 1,
                      seed: int = 0) -> list[Placement | None]:
    """A plan no worse than ``admissions`` (all mandatory patients in) by the admission costs,
    within ``seconds`` (building the model included); ``admissions`` itself when CP-SAT finds
    nothing better."""
    deadline = time.monotonic() + seconds
    everyone = tuple(range(len(c.patients)))
    if not everyone or seconds <= 0 or any(a is None for a, p in zip(admissions, c.patients, strict=True)
                                           if p.mandatory):
        return list(admissions)
    freed = Freed(everyone, frozenset(range(c.days)), frozenset(range(len(c.room_capacity))))
    ward = Ward.of(c, Roster(list(admissions), _any_nurse(c)), frozenset(everyone))
    m = build_admission_model(c, ward, freed, enumerate(admissions), ADMISSION_COSTS)
    start = _complete_hint(m, 0.25 * seconds)
    if start is None:
        return list(admissions)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, threads)
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = max(0.01, deadline - time.monotonic())
    if solver.solve(m.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or solver.objective_value >= start:
        return list(admissions)
    plan = list(admissions)
    for i, a in m.placements(solver.boolean_value).items():
        plan[i] = a
    return plan
