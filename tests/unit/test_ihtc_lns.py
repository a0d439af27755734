"""The CP-SAT neighbourhood search for IHTC-2024: each model rule on a tiny instance, the models'
objective against the official scorer, and the search end to end (feasible, no worse, repeatable)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from ortools.sat.python import cp_model

from careflow.planning.ihtc import lns
from careflow.planning.ihtc import solve as solve_module
from careflow.planning.ihtc.admit_model import AdmissionModel, Freed, build_admission_model
from careflow.planning.ihtc.compact import Compact, compact
from careflow.planning.ihtc.construct import Placement, construct_admissions
from careflow.planning.ihtc.instance import Instance, load_instance, parse_instance
from careflow.planning.ihtc.lns import Budget, Outcome, Patience, evaluate, improve
from careflow.planning.ihtc.neighbourhoods import (
    ADMISSION_KINDS,
    NURSE_KINDS,
    admission_neighbourhood,
    nurse_neighbourhood,
)
from careflow.planning.ihtc.nurse_model import NurseModel, build_nurse_model, cells_of
from careflow.planning.ihtc.nurses import assign_nurses
from careflow.planning.ihtc.score import score
from careflow.planning.ihtc.solve import solve
from careflow.planning.ihtc.ward import Roster, Ward, fill_empty_cells

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ihtc2024"
SHIFTS = ["early", "late", "night"]
NO_WEIGHTS = dict.fromkeys(["room_mixed_age", "room_nurse_skill", "continuity_of_care",
                            "nurse_eccessive_workload", "open_operating_theater", "surgeon_transfer",
                            "patient_delay", "unscheduled_optional"], 0)


def patient(ident: str, *, mandatory: bool = True, gender: str = "A", age: str = "adult", stay: int = 1,
            release: int = 0, due: int = 1, minutes: int = 60, surgeon: str = "s0",
            incompatible: tuple[str, ...] = (), load: int = 1, skill: int = 0) -> dict[str, Any]:
    """A patient as the instance file spells it, with sensible defaults."""
    p: dict[str, Any] = {
        "id": ident, "mandatory": mandatory, "gender": gender, "age_group": age, "length_of_stay": stay,
        "surgery_release_day": release, "surgery_duration": minutes, "surgeon_id": surgeon,
        "incompatible_room_ids": list(incompatible), "workload_produced": [load] * stay * 3,
        "skill_level_required": [skill] * stay * 3}
    if mandatory:
        p["surgery_due_day"] = due
    return p


def nurse(ident: str, *, skill: int = 3, load: int = 100, days: int = 2,
          shifts: tuple[int, ...] | None = None) -> dict[str, Any]:
    """A nurse working every shift of ``days`` days (or only global ``shifts``)."""
    working = shifts if shifts is not None else tuple(range(days * 3))
    return {"id": ident, "skill_level": skill, "working_shifts": [
        {"day": g // 3, "shift": SHIFTS[g % 3], "max_load": load} for g in working]}


def tiny(patients: list[dict[str, Any]], *, days: int = 2, rooms: int = 2, capacity: int = 2,
         theaters: int = 1, theater_minutes: int = 600, surgeon_minutes: int = 600,
         nurses: list[dict[str, Any]] | None = None, occupants: list[dict[str, Any]] | None = None,
         **weights: int) -> Compact:
    """A tiny instance: every weight 0 unless given, rooms r0.., theaters t0.., one surgeon s0."""
    return compact(parse_instance({
        "days": days, "skill_levels": 4, "shift_types": SHIFTS, "age_groups": ["young", "adult", "old"],
        "weights": {**NO_WEIGHTS, **weights}, "occupants": occupants or [], "patients": patients,
        "surgeons": [{"id": "s0", "max_surgery_time": [surgeon_minutes] * days}],
        "operating_theaters": [{"id": f"t{t}", "availability": [theater_minutes] * days}
                               for t in range(theaters)],
        "rooms": [{"id": f"r{r}", "capacity": capacity} for r in range(rooms)],
        "nurses": nurses if nurses is not None else [nurse("n0", days=days)]}))


def full_nurse_grid(c: Compact, rooms: dict[int, list[int]] | None = None) -> list[list[int]]:
    """nurse[g][r]: nurse ``rooms[r][g]`` where given, else nurse 0."""
    return [[(rooms or {}).get(r, [0] * c.shifts)[g] for r in range(len(c.room_capacity))]
            for g in range(c.shifts)]


def admit(c: Compact, nurse_grid: list[list[int]] | None = None,
          fixed: dict[int, Placement] | None = None) -> tuple[AdmissionModel, dict[int, Placement | None]]:
    """Solve the admission model with every patient not in ``fixed`` freed, any day, any room."""
    admissions: list[Placement | None] = [(fixed or {}).get(i) for i in range(len(c.patients))]
    roster = Roster(admissions, nurse_grid or full_nurse_grid(c))
    free = tuple(i for i in range(len(c.patients)) if i not in (fixed or {}))
    freed = Freed(free, frozenset(range(c.days)), frozenset(range(len(c.room_capacity))))
    m = build_admission_model(c, Ward.of(c, roster, frozenset(free)), freed)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(m.model) == cp_model.OPTIMAL
    return m, m.placements(solver.boolean_value)


# Admission model, hard rules


def test_a_patient_is_placed_only_from_its_release_day_in_a_compatible_room() -> None:
    c = tiny([patient("p0", release=1, incompatible=("r0",))], days=3, patient_delay=1)
    _, placed = admit(c)
    assert placed[0] is not None and placed[0].day == 1 and placed[0].room == 1


def test_a_mandatory_patient_is_admitted_even_when_leaving_it_out_would_cost_nothing() -> None:
    c = tiny([patient("p0", mandatory=True), patient("p1", mandatory=False)], patient_delay=5)
    _, placed = admit(c)
    assert placed[0] is not None and placed[1] is None


def test_a_full_room_takes_no_one_more_that_day() -> None:
    c = tiny([patient("p0"), patient("p1")], rooms=1, capacity=1, days=2)
    _, placed = admit(c)
    assert {a.day for a in placed.values() if a is not None} == {0, 1}


def test_patients_of_two_genders_never_share_a_room_day() -> None:
    c = tiny([patient("p0", gender="A", due=0), patient("p1", gender="B", due=0)], rooms=2, capacity=2)
    _, placed = admit(c)
    assert placed[0] is not None and placed[1] is not None and placed[0].room != placed[1].room


def test_a_theater_day_holds_no_more_minutes_than_it_has() -> None:
    c = tiny([patient("p0", minutes=60), patient("p1", minutes=60)], theater_minutes=100)
    _, placed = admit(c)
    assert {a.day for a in placed.values() if a is not None} == {0, 1}


def test_a_surgeon_operates_no_longer_than_the_daily_maximum() -> None:
    c = tiny([patient("p0", minutes=60), patient("p1", minutes=60)], theaters=2, surgeon_minutes=100)
    _, placed = admit(c)
    assert {a.day for a in placed.values() if a is not None} == {0, 1}


# Admission model, costs


def test_a_patient_is_admitted_on_its_release_day_when_delay_costs() -> None:
    c = tiny([patient("p0", release=1, due=3)], days=4, patient_delay=1)
    _, placed = admit(c)
    assert placed[0] is not None and placed[0].day == 1


def test_an_optional_patient_is_admitted_only_when_leaving_it_out_costs_more() -> None:
    wanted = tiny([patient("p0", mandatory=False, release=1)], patient_delay=1, unscheduled_optional=5)
    unwanted = tiny([patient("p0", mandatory=False, release=0)], open_operating_theater=10,
                    unscheduled_optional=5)
    assert admit(wanted)[1][0] is not None
    assert admit(unwanted)[1][0] is None


def test_the_youngest_and_the_oldest_get_separate_rooms() -> None:
    c = tiny([patient("p0", age="young", due=0), patient("p1", age="old", due=0)], room_mixed_age=1)
    _, placed = admit(c)
    assert placed[0] is not None and placed[1] is not None and placed[0].room != placed[1].room


def test_surgeries_share_an_open_theater() -> None:
    c = tiny([patient("p0", due=0), patient("p1", due=0)], theaters=2, open_operating_theater=1)
    _, placed = admit(c)
    assert placed[0] is not None and placed[1] is not None and placed[0].theater == placed[1].theater


def test_a_surgeon_stays_in_one_theater_a_day() -> None:
    c = tiny([patient("p0", due=0), patient("p1", due=0)], theaters=2, surgeon_transfer=1)
    _, placed = admit(c, fixed={0: Placement(0, 0, 1)})
    assert placed[1] is not None and placed[1].theater == 1


def test_a_patient_goes_where_the_nurse_has_the_skill_it_needs() -> None:
    nurses = [nurse("n0", skill=0), nurse("n1", skill=2)]
    c = tiny([patient("p0", skill=2)], nurses=nurses, room_nurse_skill=1)
    _, placed = admit(c, full_nurse_grid(c, {0: [0] * 6, 1: [1] * 6}))
    assert placed[0] is not None and placed[0].room == 1


def test_a_patient_goes_where_one_nurse_covers_its_whole_stay() -> None:
    nurses = [nurse("n0"), nurse("n1")]
    c = tiny([patient("p0", stay=2)], nurses=nurses, continuity_of_care=1)
    _, placed = admit(c, full_nurse_grid(c, {0: [0, 1, 0, 1, 0, 1], 1: [1] * 6}))
    assert placed[0] is not None and placed[0].room == 1


def test_a_patient_goes_where_the_nurse_has_load_to_spare() -> None:
    nurses = [nurse("n0", load=0), nurse("n1", load=5)]
    c = tiny([patient("p0", load=3)], nurses=nurses, nurse_eccessive_workload=1)
    _, placed = admit(c, full_nurse_grid(c, {0: [0] * 6, 1: [1] * 6}))
    assert placed[0] is not None and placed[0].room == 1


# Nurse model


def nurses_for(c: Compact, admissions: list[Placement | None], grid: list[list[int]],
               free: list[tuple[int, int]]) -> tuple[NurseModel, dict[tuple[int, int], int]]:
    """Solve the nurse model for the ``free`` cells, any nurse."""
    m = build_nurse_model(c, admissions, cells_of(c, admissions), grid, free, range(len(c.nurse_skill)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(m.model) == cp_model.OPTIMAL
    return m, m.assignment(solver.boolean_value)


def test_each_occupied_room_shift_gets_one_nurse_who_works_it() -> None:
    c = tiny([patient("p0")], nurses=[nurse("n0", shifts=(0,)), nurse("n1", shifts=(1, 2))])
    chosen = nurses_for(c, [Placement(0, 0, 0)], full_nurse_grid(c), [(0, 0), (1, 0), (2, 0), (0, 1)])[1]
    assert chosen == {(0, 0): 0, (1, 0): 1, (2, 0): 1}


def test_the_nurse_with_the_skill_required_is_chosen() -> None:
    c = tiny([patient("p0", skill=2)], nurses=[nurse("n0", skill=0), nurse("n1", skill=2)],
             room_nurse_skill=1)
    chosen = nurses_for(c, [Placement(0, 0, 0)], full_nurse_grid(c), [(0, 0)])[1]
    assert chosen == {(0, 0): 1}


def test_two_rooms_are_shared_out_when_one_nurse_would_be_overloaded() -> None:
    c = tiny([patient("p0", load=3), patient("p1", load=3)],
             nurses=[nurse("n0", load=3), nurse("n1", load=3)], nurse_eccessive_workload=1)
    chosen = nurses_for(c, [Placement(0, 0, 0), Placement(0, 1, 0)], full_nurse_grid(c), [(0, 0), (0, 1)])[1]
    assert chosen[0, 0] != chosen[0, 1]


def test_a_patient_keeps_the_nurse_it_already_has() -> None:
    c = tiny([patient("p0", stay=1)], nurses=[nurse("n0"), nurse("n1")], continuity_of_care=1)
    grid = full_nurse_grid(c, {0: [1, 0, 0, 0, 0, 0]})
    chosen = nurses_for(c, [Placement(0, 0, 0)], grid, [(1, 0), (2, 0)])[1]
    assert chosen == {(1, 0): 1, (2, 0): 1}


# Against the official scorer, and end to end

pytestmark_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"IHTC-2024 data not at {DATA}")


def _start(name: str, seed: int = 0) -> tuple[Compact, Roster]:
    c = compact(load_instance(DATA / f"{name}.json"))
    built = construct_admissions(c, seed, time.monotonic() + 5)
    roster = Roster(built.admissions, assign_nurses(c, built.admissions, time.monotonic() + 5).nurse)
    fill_empty_cells(c, roster)
    return c, roster


def _objective(model: cp_model.CpModel, fix: dict[cp_model.IntVar, bool] | None = None) -> float:
    if fix is not None:
        for v, value in fix.items():
            model.add(v == int(value))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 0.5
    solver.parameters.random_seed = 1
    assert solver.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return solver.objective_value


@pytestmark_data
@pytest.mark.parametrize("kind", ADMISSION_KINDS)
def test_an_admission_model_prices_a_change_as_the_official_scorer_does(kind: str) -> None:
    c, roster = _start("test/test03")
    freed = admission_neighbourhood(c, roster, kind, 300, random.Random(4))
    hint = [(i, roster.admissions[i]) for i in freed.patients]
    ward = Ward.of(c, roster, frozenset(freed.patients))
    before = build_admission_model(c, ward, freed, hint)
    rooms = {(j, a.day, a.room) for j, a in hint if a is not None}
    theaters = {(j, a.day, a.theater) for j, a in hint if a is not None}
    at_hint = _objective(before.model, {v: key in rooms for key, v in before.x.items()}
                         | {y: key in theaters for key, y in before.y.items()})
    after = build_admission_model(c, ward, freed, hint)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 0.5
    assert solver.solve(after.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    changed = roster.copy()
    for i, a in after.placements(solver.boolean_value).items():
        changed.admissions[i] = a
    assert evaluate(c, changed)[1] - evaluate(c, roster)[1] == round(solver.objective_value - at_hint)
    assert evaluate(c, changed)[0] == 0


def test_an_insert_neighbourhood_frees_a_left_out_patient_with_everyone_in_its_way() -> None:
    # One room for two, filled all three days by p0 and p1; p2 (optional, left out) could come on
    # day 1 or 2; p3 has a room of its own.
    c = tiny([patient("p0", stay=3, due=0), patient("p1", stay=3, due=0),
              patient("p2", mandatory=False, stay=1, release=1, incompatible=("r1",)),
              patient("p3", stay=1, due=2, release=2)], days=3, rooms=2, capacity=2)
    roster = Roster([Placement(0, 0, 0), Placement(0, 0, 0), None, Placement(2, 1, 0)], full_nurse_grid(c))
    for seed in range(4):
        freed = admission_neighbourhood(c, roster, "insert", 10_000, random.Random(seed))
        assert freed.patients == (0, 1, 2) and freed.rooms == frozenset({0}) and freed.days >= {0, 1, 2}
    m = build_admission_model(c, Ward.of(c, roster, frozenset(freed.patients)), freed)
    assert cp_model.CpSolver().solve(m.model) == cp_model.OPTIMAL


def test_with_nobody_left_out_an_insert_neighbourhood_frees_a_late_patient_in_its_own_room() -> None:
    c = tiny([patient("p0", due=2), patient("p1", release=1, due=2)], days=3, rooms=3)
    roster = Roster([Placement(0, 0, 0), Placement(2, 2, 0)], full_nurse_grid(c))
    for seed in range(4):
        freed = admission_neighbourhood(c, roster, "insert", 10_000, random.Random(seed))
        assert 1 in freed.patients and 2 in freed.rooms and 2 in freed.days


@pytestmark_data
@pytest.mark.parametrize("kind", NURSE_KINDS)
def test_a_nurse_model_prices_a_change_as_the_official_scorer_does(kind: str) -> None:
    c, roster = _start("test/test03")
    cells = cells_of(c, roster.admissions)
    free, nurses = nurse_neighbourhood(c, roster, cells, kind, 80, random.Random(4))
    before = build_nurse_model(c, roster.admissions, cells, roster.nurse, free, nurses)
    at_hint = _objective(before.model, {v: roster.nurse[g][r] == n for (g, r, n), v in before.b.items()})
    after = build_nurse_model(c, roster.admissions, cells, roster.nurse, free, nurses)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 0.5
    assert solver.solve(after.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    changed = roster.copy()
    for (g, r), n in after.assignment(solver.boolean_value).items():  # optimal or not, priced the same
        changed.nurse[g][r] = n
    assert evaluate(c, changed)[1] - evaluate(c, roster)[1] == round(solver.objective_value - at_hint)


def _only(monkeypatch: pytest.MonkeyPatch, *kinds: str) -> None:
    """Let the search pick only these kinds."""
    monkeypatch.setattr(lns, "SEARCHED", kinds)


def _moved_to_day_0(c: Compact, roster: Roster) -> Outcome:
    outcome = improve(c, roster, Budget(work=0.2, deadline=time.monotonic() + 20, call=0.05, seed=1))
    assert outcome.calls > 0 and outcome.violations == 0
    assert evaluate(c, outcome.roster) == (0, outcome.cost)
    return outcome


def test_a_replan_moves_a_patient_whom_the_fixed_nurse_plan_holds_back_and_its_nurses_with_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # p0 stays two days from day 1 with n1 throughout (continuity 5, delay 1). Admitted on day 0 it
    # would meet n0 on day 0 as the nurses stand (continuity 10): only with n1 on day 0 too does it pay.
    c = tiny([patient("p0", stay=2, due=1)], days=3, rooms=1, patient_delay=1, continuity_of_care=5,
             nurses=[nurse("n0", days=3), nurse("n1", days=3)])
    roster = Roster([Placement(1, 0, 0)], full_nurse_grid(c, {0: [0, 0, 0] + [1] * 6}))
    assert evaluate(c, roster) == (0, 6)
    _only(monkeypatch, "days", "rooms")
    assert _moved_to_day_0(c, roster).roster.admissions == [Placement(1, 0, 0)]  # the plain kinds stay put
    _only(monkeypatch, "replan")
    outcome = _moved_to_day_0(c, roster)
    assert outcome.roster.admissions == [Placement(0, 0, 0)] and outcome.cost == 5
    assert [outcome.roster.nurse[g][0] for g in range(6)] == [1] * 6
    assert outcome.by_kind == {"replan": 1}


def test_a_replan_moves_a_patient_to_a_day_whose_nurse_lacks_the_skill_and_brings_one_who_has_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # p0 (skill 2) waits a day for n1 (skill 2); on day 0, n0 (skill 0) has the room: 60 of shortfall.
    c = tiny([patient("p0", due=1, skill=2)], rooms=1, nurses=[nurse("n0", skill=0), nurse("n1", skill=2)],
             patient_delay=1, room_nurse_skill=10)
    roster = Roster([Placement(1, 0, 0)], full_nurse_grid(c, {0: [0, 0, 0, 1, 1, 1]}))
    assert evaluate(c, roster) == (0, 1)
    _only(monkeypatch, "days", "rooms")
    assert _moved_to_day_0(c, roster).roster.admissions == [Placement(1, 0, 0)]
    _only(monkeypatch, "replan")
    outcome = _moved_to_day_0(c, roster)
    assert outcome.roster.admissions == [Placement(0, 0, 0)] and outcome.cost == 0
    assert [outcome.roster.nurse[g][0] for g in range(3)] == [1, 1, 1]


@pytestmark_data
def test_a_search_of_replans_alone_keeps_a_real_plan_feasible_and_lowers_its_cost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    c, roster = _start("test/test03")
    hard, cost = evaluate(c, roster)
    _only(monkeypatch, "replan")
    outcome = improve(c, roster, Budget(work=0.5, deadline=time.monotonic() + 30, call=0.1, seed=2))
    assert (hard, outcome.violations) == (0, 0)
    assert outcome.cost < cost and set(outcome.by_kind) == {"replan"}
    assert evaluate(c, outcome.roster) == (0, outcome.cost)


@pytestmark_data
def test_the_search_keeps_the_plan_feasible_and_never_makes_it_worse() -> None:
    c, roster = _start("small/small05")
    hard, cost = evaluate(c, roster)
    outcome = improve(c, roster, Budget(work=0.5, deadline=time.monotonic() + 20, call=0.1))
    assert (hard, outcome.violations) == (0, 0)
    assert outcome.cost <= cost
    assert evaluate(c, outcome.roster) == (0, outcome.cost)


@pytestmark_data
def test_two_lanes_keep_the_plan_feasible_and_never_make_it_worse() -> None:
    c, roster = _start("test/test02")
    hard, cost = evaluate(c, roster)
    budget = Budget(work=0.5, deadline=time.monotonic() + 30, call=0.05, threads=2, seed=3)
    outcome = improve(c, roster, budget)
    assert (hard, outcome.violations) == (0, 0)
    assert outcome.calls >= 2
    assert outcome.cost <= cost
    assert evaluate(c, outcome.roster) == (0, outcome.cost)  # answers of stale models were scored anew


@pytestmark_data
def test_the_same_seed_and_work_budget_give_the_same_plan() -> None:
    c, roster = _start("test/test02")
    budget = Budget(work=0.3, deadline=time.monotonic() + 60, call=0.05, threads=1, seed=7, wall_per_work=1e6)
    first = improve(c, roster, budget)
    second = improve(c, roster, budget)
    assert not first.clock_stopped and not second.clock_stopped
    assert (first.roster.admissions, first.roster.nurse) == (second.roster.admissions, second.roster.nurse)


@pytestmark_data
def test_two_interleaved_workers_give_the_same_plan_for_the_same_seed_and_budget() -> None:
    c, roster = _start("test/test02")
    budget = Budget(work=0.3, deadline=time.monotonic() + 60, call=0.05, threads=2, seed=7, wall_per_work=1e6,
                    deterministic=True)
    first = improve(c, roster, budget)
    second = improve(c, roster, budget)
    assert not first.clock_stopped and not second.clock_stopped
    assert first.improvements > 0  # the calls found something, so a race would show
    assert (first.roster.admissions, first.roster.nurse) == (second.roster.admissions, second.roster.nurse)


@pytest.mark.serial
@pytestmark_data
@pytest.mark.slow
def test_solve_with_the_search_stays_within_its_time_limit_and_feasible() -> None:
    instance: Instance = load_instance(DATA / "test" / "test10.json")
    started = time.monotonic()
    solution = solve(instance, time_limit=6.0, seed=0, threads=2).solution
    assert time.monotonic() - started < 6.0 + 1.0
    assert sum(score(instance, solution)["violations"].values()) == 0


@pytest.mark.serial
@pytestmark_data
@pytest.mark.slow
def test_a_deterministic_solve_with_the_search_and_two_workers_repeats_its_plan() -> None:
    instance: Instance = load_instance(DATA / "test" / "test06.json")
    first, second = (solve(instance, time_limit=6.0, seed=4, threads=2, deterministic=True) for _ in range(2))
    assert first.repeatable and second.repeatable
    assert first.solution == second.solution


def test_an_instance_without_patients_is_searched_without_error() -> None:
    c = tiny([])
    roster = Roster([], full_nurse_grid(c))
    outcome = improve(c, roster, Budget(work=0.05, deadline=time.monotonic() + 10, call=0.01))
    assert (outcome.violations, outcome.cost) == (0, 0)


@pytestmark_data
def test_the_search_stops_once_it_finds_nothing_lower_for_its_patience() -> None:
    c, roster = _start("test/test02")
    started = time.monotonic()
    budget = Budget(work=1e6, deadline=started + 60, call=0.05, threads=1, seed=3, patience=Patience(0.5))
    outcome = improve(c, roster, budget)
    assert outcome.stalled and outcome.clock_stopped
    assert time.monotonic() - started < 30  # long before its deadline
    assert time.monotonic() - outcome.improved_at >= 0.5


def test_a_search_has_stalled_once_its_last_stretch_gained_less_than_its_patience_asks() -> None:
    outcome = Outcome(Roster([], []), 994, 0, history=[(0.0, 1000), (50.0, 995), (90.0, 994)])
    assert not outcome.stalled_by(Patience(60.0), 50.0)  # it has not run 60 s yet
    assert not outcome.stalled_by(Patience(60.0), 100.0)  # 1000 -> 994 in the last 60 s
    assert not outcome.stalled_by(Patience(60.0, gain=0.001), 100.0)  # 6 is more than 0.1 % of 994
    assert outcome.stalled_by(Patience(60.0, gain=0.01), 100.0)  # but not more than 1 %
    assert not outcome.stalled_by(Patience(60.0), 149.0)  # 995 -> 994 since 89 s
    assert outcome.stalled_by(Patience(60.0), 151.0)  # nothing lower since 91 s


@pytest.mark.serial
@pytestmark_data
@pytest.mark.slow
def test_a_solve_that_stalls_starts_again_with_another_seed_and_keeps_the_best_plan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    instance: Instance = load_instance(DATA / "test" / "test01.json")
    monkeypatch.setattr(solve_module, "RESTARTS",
                        solve_module.RestartRule(min_seconds=4.0, patience=0.03, gain=0.0, round=0.3,
                                                 min_round=1.5))
    rounds: list[tuple[int, int, int]] = []
    once = solve_module._solve_once

    def recorded(c: Compact, budget: float, seed: int, *rest: Any) -> Any:
        result = once(c, budget, seed, *rest)
        rounds.append((seed, result.violations, result.cost))
        return result

    monkeypatch.setattr(solve_module, "_solve_once", recorded)
    started = time.monotonic()
    solved = solve(instance, time_limit=10.0, seed=2, threads=2)
    assert time.monotonic() - started < 10.0 + 1.0
    assert len(rounds) >= 2 and len({seed for seed, _, _ in rounds}) == len(rounds)
    scored = score(instance, solved.solution)
    assert sum(scored["violations"].values()) == 0
    assert scored["total_cost"] == min(cost for _, hard, cost in rounds if hard == 0)
    assert not solved.repeatable
    assert solved.rounds == tuple(cost for _, _, cost in rounds)
    assert solved.stalled_at is not None and 0 < solved.stalled_at < 10.0 - 1.5
