"""The days-first start for IHTC-2024: the days model keeps surgeon minutes, theater minutes and
beds per day and gender, and the packed plan is feasible with every mandatory patient in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.unit.test_ihtc_lns import patient, tiny

from careflow.planning.ihtc.compact import compact
from careflow.planning.ihtc.construct import Placement
from careflow.planning.ihtc.days_first import _fewest_opened, choose_days, days_first
from careflow.planning.ihtc.instance import load_instance
from careflow.planning.ihtc.lns import evaluate
from careflow.planning.ihtc.local import Ledger
from careflow.planning.ihtc.nurses import assign_nurses
from careflow.planning.ihtc.ward import Roster, fill_empty_cells

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ihtc2024"


def test_a_surgeon_operates_no_longer_than_their_day_allows() -> None:
    c = tiny([patient("p0", due=1, minutes=60), patient("p1", due=1, minutes=60)], surgeon_minutes=90,
             patient_delay=1)
    days = choose_days(c, 5.0).day
    assert days is not None and sorted(days.values()) == [0, 1]


def test_the_theaters_minutes_bound_a_day_as_well() -> None:
    c = tiny([patient("p0", due=1, minutes=60), patient("p1", due=1, minutes=60)], theater_minutes=100,
             patient_delay=1)
    days = choose_days(c, 5.0).day
    assert days is not None and sorted(days.values()) == [0, 1]


def test_beds_run_out_so_the_optional_patient_stays_out() -> None:
    c = tiny([patient("p0", due=0, stay=2), patient("p1", mandatory=False, stay=2)], days=2, rooms=1,
             capacity=1, patient_delay=1, unscheduled_optional=100)
    assert choose_days(c, 5.0).day == {0: 0}


def test_each_room_serves_one_gender_a_day() -> None:
    group_a = [patient(f"a{k}", mandatory=False) for k in range(3)]
    c = tiny([*group_a, patient("b0", mandatory=False, gender="B")], days=1, rooms=2, capacity=2,
             unscheduled_optional=100)
    days = choose_days(c, 5.0).day
    assert days is not None and len(days) == 3  # beds per day alone would let all four in


def test_an_occupant_holds_its_room_for_its_gender_until_it_leaves() -> None:
    occupant = {"id": "o0", "gender": "B", "age_group": "adult", "length_of_stay": 1, "room_id": "r0",
                "workload_produced": [1] * 3, "skill_level_required": [0] * 3}
    c = tiny([patient("a0", mandatory=False, gender="A"), patient("b0", mandatory=False, gender="B")],
             days=2, rooms=2, capacity=2, occupants=[occupant], patient_delay=1, unscheduled_optional=100)
    days = choose_days(c, 5.0).day
    assert days == {0: 0, 1: 0}  # r0 is B's on day 0; r1 takes the A patient
    c = tiny([patient("a0", mandatory=False, gender="A"), patient("a1", mandatory=False, gender="A"),
              patient("a2", mandatory=False, gender="A")],
             days=2, rooms=2, capacity=2, occupants=[occupant], patient_delay=1, unscheduled_optional=100)
    days = choose_days(c, 5.0).day
    assert days is not None and sorted(days.values()) == [0, 0, 1]  # the third A waits for r0 to empty


def test_packing_fills_a_shared_room_before_an_empty_one() -> None:
    group_b = [patient(f"b{k}", due=0, gender="B") for k in range(4)]
    c = tiny([patient("a0", due=0), patient("a1", due=0), *group_b], days=1, rooms=3, capacity=2)
    plan, _ = days_first(c, seed=0, seconds=5.0, deadline=time.monotonic() + 10)
    assert plan is not None and plan.complete and plan.restarts == 0  # the first pass fits everyone
    rooms = [a.room for a in plan.admissions if a is not None]
    assert len(rooms) == 6 and rooms[0] == rooms[1] and rooms[0] not in rooms[2:]


def test_a_patient_joins_a_room_of_their_gender_rather_than_open_an_empty_one() -> None:
    c = tiny([patient("a0"), patient("a1"), patient("b0", gender="B")], days=1, rooms=3, capacity=2)
    ledger = Ledger(c, [Placement(0, 1, 0), None, None])
    assert _fewest_opened(ledger, c.patients[1], Placement(0, 2, 0)) == Placement(0, 1, 0)
    assert _fewest_opened(ledger, c.patients[2], Placement(0, 1, 0)).room in (0, 2)


def test_admitting_an_optional_patient_is_worth_some_delay() -> None:
    c = tiny([patient("p0", due=1), patient("p1", mandatory=False)], days=2, rooms=1, capacity=1,
             patient_delay=10, unscheduled_optional=100)
    days = choose_days(c, 5.0).day
    assert days is not None and set(days) == {0, 1}


def test_a_mandatory_patient_with_no_day_to_operate_makes_no_plan() -> None:
    c = tiny([patient("p0", due=0, minutes=700)], days=1)
    assert choose_days(c, 5.0).day is None


@pytest.mark.parametrize("name", ["test/test01", "test/test05", "public/i02"])
def test_the_packed_plan_is_feasible_with_every_mandatory_patient_in(name: str) -> None:
    path = DATA / f"{name}.json"
    if not path.exists():
        pytest.skip(f"IHTC-2024 data not found at {path}")
    c = compact(load_instance(path))
    plan, clock_stopped = days_first(c, seed=0, seconds=10.0, deadline=time.monotonic() + 30)
    assert plan is not None and plan.complete and not clock_stopped
    assert all(a is not None for a, p in zip(plan.admissions, c.patients, strict=True) if p.mandatory)
    roster = Roster(plan.admissions, assign_nurses(c, plan.admissions, time.monotonic() + 10).nurse)
    fill_empty_cells(c, roster)
    assert evaluate(c, roster)[0] == 0


@pytest.mark.serial
def test_in_deterministic_mode_two_workers_repeat_their_days() -> None:
    path = DATA / "public" / "i02.json"
    if not path.exists():
        pytest.skip(f"IHTC-2024 data not found at {path}")
    c = compact(load_instance(path))
    first = choose_days(c, 5.0, threads=2, seed=3, deterministic=True)
    second = choose_days(c, 5.0, threads=2, seed=3, deterministic=True)
    assert first.day is not None and not first.clock_stopped
    assert first == second
