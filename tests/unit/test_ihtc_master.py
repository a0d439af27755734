"""The whole admission plan in one CP-SAT model (``planning/ihtc/master.py``): it admits what the
plan in hand left out when that pays, never makes the admission costs worse, keeps every hard rule,
and leaves a plan with a mandatory patient missing alone."""

from __future__ import annotations

import time

from tests.unit.test_ihtc_lns import _start, full_nurse_grid, patient, pytestmark_data, tiny

from careflow.planning.ihtc.admit_model import AdmissionModel, Freed, admission_window
from careflow.planning.ihtc.compact import Compact
from careflow.planning.ihtc.construct import Placement
from careflow.planning.ihtc.lns import evaluate
from careflow.planning.ihtc.master import model_size, refine_admissions
from careflow.planning.ihtc.nurses import assign_nurses
from careflow.planning.ihtc.score import score
from careflow.planning.ihtc.ward import Roster, Ward, fill_empty_cells, to_solution

ADMISSION_COSTS = ("RoomAgeMix", "OpenOperatingTheater", "SurgeonTransfer", "PatientDelay",
                   "ElectiveUnscheduledPatients")
NURSE_RULES = ("NursePresence", "UncoveredRoom")


def admission_cost_and_violations(c: Compact, admissions: list[Placement | None]) -> tuple[int, int]:
    """The official admission costs and the hard violations the admissions alone can cause."""
    result = score(c.instance, to_solution(c, Roster(list(admissions), full_nurse_grid(c))))
    hard = sum(n for name, n in result["violations"].items() if name not in NURSE_RULES)
    return sum(result["costs"][name] for name in ADMISSION_COSTS), hard


def test_an_optional_patient_left_out_is_admitted_when_a_mandatory_one_moves_over() -> None:
    # One single room: p0 sits on day 1, where p1 (who may only come on day 1, its stay of two
    # days ending with the horizon) must go; p0 can move to day 0.
    c = tiny([patient("p0", release=0, due=1), patient("p1", mandatory=False, release=1, stay=2)],
             rooms=1, capacity=1, days=2, unscheduled_optional=100, patient_delay=1)
    start: list[Placement | None] = [Placement(1, 0, 0), None]
    plan = refine_admissions(c, start, seconds=10)
    assert plan == [Placement(0, 0, 0), Placement(1, 0, 0)]
    assert admission_cost_and_violations(c, plan) == (0, 0)


def test_a_plan_with_a_mandatory_patient_missing_is_left_alone() -> None:
    c = tiny([patient("p0"), patient("p1", mandatory=False)], unscheduled_optional=100)
    start: list[Placement | None] = [None, None]
    assert refine_admissions(c, start, seconds=5) == start


def test_the_size_estimate_is_never_below_the_placements_the_model_makes() -> None:
    c = tiny([patient("p0", due=2, incompatible=("r1",)), patient("p1", mandatory=False, release=1)],
             days=3, rooms=3)
    everyone = tuple(range(len(c.patients)))
    freed = Freed(everyone, frozenset(range(c.days)), frozenset(range(len(c.room_capacity))))
    m = AdmissionModel(c, Ward.of(c, Roster([None, None], full_nurse_grid(c)), frozenset(everyone)), freed)
    admission_window(m)
    assert model_size(c) >= len(m.x) == 3 * 2 + 2 * 3


@pytestmark_data
def test_on_a_real_instance_the_admission_costs_never_rise_and_every_rule_holds() -> None:
    c, roster = _start("test/test05")
    before = admission_cost_and_violations(c, roster.admissions)
    plan = refine_admissions(c, roster.admissions, seconds=8, threads=1)
    after = admission_cost_and_violations(c, plan)
    assert before[1] == after[1] == 0
    assert after[0] <= before[0]
    nursed = Roster(plan, assign_nurses(c, plan, deadline=time.monotonic() + 10).nurse)
    fill_empty_cells(c, nursed)
    assert evaluate(c, nursed)[0] == 0
