"""The admission annealing's ledger and search (``planning/ihtc/local.py``): its counters and cost
deltas against the official scorer and a plain recount, and the search end to end (every hard rule
kept, never worse than its start, the same plan for the same seed)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from careflow.planning.ihtc.compact import Compact, compact
from careflow.planning.ihtc.construct import Placement, construct_admissions
from careflow.planning.ihtc.instance import load_instance
from careflow.planning.ihtc.local import Ledger, improve_admissions
from careflow.planning.ihtc.nurses import assign_nurses
from careflow.planning.ihtc.score import score
from careflow.planning.ihtc.ward import Roster, to_solution

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ihtc2024"
ADMISSION_RULES = ["RoomAgeMix", "OpenOperatingTheater", "SurgeonTransfer", "PatientDelay",
                   "ElectiveUnscheduledPatients"]
ADMISSION_HARD = ["MandatoryUnscheduledPatients", "AdmissionDay", "RoomCapacity", "RoomGenderMix",
                  "PatientRoomCompatibility", "SurgeonOvertime", "OperatingTheaterOvertime"]


@pytest.fixture(scope="module")
def c() -> Compact:
    path = DATA / "test" / "test07.json"  # 5 age groups, 3 theaters, 2 surgeons
    if not path.exists():
        pytest.skip(f"IHTC-2024 data not found at {DATA}")
    return compact(load_instance(path))


def start_plan(c: Compact) -> list[Placement | None]:
    built = construct_admissions(c, 0, time.monotonic() + 30)
    assert built.complete
    return built.admissions


def admission_score(c: Compact, admissions: list[Placement | None]) -> tuple[int, dict[str, int]]:
    """The admission part of the official cost and the admission hard rules' violations (no nurses:
    they change neither)."""
    nobody = [[-1] * len(c.room_capacity) for _ in range(c.shifts)]
    result = score(c.instance, to_solution(c, Roster(admissions, nobody)))
    return (sum(result["costs"][name] for name in ADMISSION_RULES),
            {name: result["violations"][name] for name in ADMISSION_HARD})


def spread_cost(c: Compact, ledger: Ledger, room: int, first: int, end: int) -> int:
    """The age-mix cost of ``room`` over days [first, end), recounted from the ledger's ages."""
    total = 0
    for d in range(first, end):
        present = [a for a, n in enumerate(ledger.ages[room][d]) if n]
        total += present[-1] - present[0] if present else 0
    return total * c.weights.room_mixed_age


def test_room_cost_is_the_rise_in_age_spread_or_none_when_a_rule_forbids(c: Compact) -> None:
    ledger = Ledger(c, start_plan(c))
    rng = random.Random(1)
    checked = forbidden = 0
    for _ in range(400):
        p = c.patients[rng.randrange(len(c.patients))]
        room, day = rng.randrange(len(c.room_capacity)), rng.choice(c.admission_days(p))
        end = min(day + p.length_of_stay, c.days)
        cost = ledger.room_cost(p, day, room)
        occupied = [ledger.occupancy[room][d] for d in range(day, end)]
        allowed = room not in p.incompatible_rooms and all(
            n < c.room_capacity[room] and ledger.genders[room][d][p.gender] == n
            for d, n in zip(range(day, end), occupied, strict=True))
        if not allowed:
            assert cost is None
            forbidden += 1
            continue
        before = spread_cost(c, ledger, room, day, end)
        ledger._stay(p, day, room, 1)
        after = spread_cost(c, ledger, room, day, end)
        ledger._stay(p, day, room, -1)
        assert cost == after - before
        checked += 1
    assert checked > 50 and forbidden > 50  # both branches were exercised


def test_counters_return_exactly_after_admit_and_discharge(c: Compact) -> None:
    ledger = Ledger(c, start_plan(c))

    def counters() -> str:
        return repr((ledger.occupancy, ledger.genders, ledger.ages, ledger.theater_minutes,
                     ledger.theater_cases, ledger.surgeon_minutes, ledger.surgeon_theaters))

    snapshot = counters()
    rng = random.Random(2)
    moved = []
    for i in rng.sample(range(len(c.patients)), 10):
        old = ledger.admissions[i]
        if old is not None:
            ledger.discharge(i)
            ledger.admit(i, Placement(old.day, (old.room + 1) % len(c.room_capacity), 0))
            moved.append((i, old))
    for i, old in moved:
        ledger.discharge(i)
        ledger.admit(i, old)
    assert moved
    assert snapshot == counters()


def test_a_patients_cost_is_what_the_official_scorer_drops_without_it(c: Compact) -> None:
    admissions = start_plan(c)
    ledger = Ledger(c, admissions)
    full, _ = admission_score(c, admissions)
    admitted = [i for i, a in enumerate(admissions) if a is not None]
    assert any(not c.patients[i].mandatory for i in admitted)
    for i in admitted:
        without = [None if j == i else a for j, a in enumerate(admissions)]
        dropped, _ = admission_score(c, without)
        # the ledger prices i where it is (delay, age-mix rise, opened theater, transfer);
        # an optional patient left out costs the weight of an unscheduled one instead
        left_out = 0 if c.patients[i].mandatory else c.weights.unscheduled_optional
        assert ledger.cost_of(i) == full - dropped + left_out, f"patient {i}"


def test_annealing_keeps_every_hard_rule_and_never_worsens_its_start(c: Compact) -> None:
    start = start_plan(c)
    before, _ = admission_score(c, start)
    improved = improve_admissions(c, start, seed=3, moves=20000, deadline=time.monotonic() + 60)
    after, violations = admission_score(c, improved)
    assert violations == dict.fromkeys(ADMISSION_HARD, 0)
    assert after <= before
    assert improved != start  # 20,000 moves change something on this instance


def test_the_same_seed_and_moves_give_the_same_plan(c: Compact) -> None:
    start = start_plan(c)
    runs = [improve_admissions(c, start, seed=5, moves=5000, deadline=time.monotonic() + 60)
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = improve_admissions(c, start, seed=6, moves=5000, deadline=time.monotonic() + 60)
    assert other != runs[0]


def test_a_nurse_plan_past_its_deadline_still_covers_every_occupied_room_shift(c: Compact) -> None:
    admissions = start_plan(c)
    late = assign_nurses(c, admissions, deadline=time.monotonic() - 1.0, seed=0, moves=1000)
    on_time = assign_nurses(c, admissions, deadline=time.monotonic() + 60, seed=0, moves=0)
    scores = [score(c.instance, to_solution(c, Roster(admissions, plan.nurse))) for plan in (late, on_time)]
    assert late.uncovered == on_time.uncovered == 0
    assert [s["violations"]["UncoveredRoom"] for s in scores] == [0, 0]
    assert [s["violations"]["NursePresence"] for s in scores] == [0, 0]
    # the least-loaded choice is feasible but dearer than choosing by cost
    assert scores[0]["total_cost"] > scores[1]["total_cost"]
