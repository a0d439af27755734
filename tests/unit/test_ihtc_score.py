"""The IHTC-2024 scorer: the official validator's numbers on the published solutions, one
small case per rule, the reader's refusals, and `careflow ihtc score`."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from careflow.cli import main
from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.instance import Instance, load_instance, parse_instance
from careflow.planning.ihtc.score import COSTS, HARD, Score, score
from careflow.planning.ihtc.solution import (
    NurseAssignment,
    Solution,
    load_solution,
    parse_solution,
    solution_to_json,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ihtc2024"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no IHTC-2024 data at {DATA}")


def _reference_cases() -> list[tuple[str, Path, Path]]:
    tests = [(f"test{k:02d}", DATA / "test" / f"test{k:02d}.json",
              DATA / "test_solutions" / f"sol_test{k:02d}.json") for k in range(1, 11)]
    return [("toy", DATA / "toy" / "toy.json", DATA / "toy" / "toy_solution.json"), *tests]


@needs_data
@pytest.mark.parametrize(("name", "instance_file", "solution_file"), _reference_cases(),
                         ids=[c[0] for c in _reference_cases()])
def test_reproduces_the_official_validator_on_the_published_solutions(
        name: str, instance_file: Path, solution_file: Path) -> None:
    reference = json.loads((DATA / "reference_costs.json").read_text())
    expected = reference["toy"] if name == "toy" else reference["test_solutions"][name]
    instance = load_instance(instance_file)
    result = score(instance, load_solution(solution_file, instance))
    assert result["raw"] == expected["raw_components"]
    assert result["total_cost"] == expected["total_cost"]
    if "violations_by_constraint" in expected:
        assert result["violations"] == expected["violations_by_constraint"]
    else:
        assert sum(result["violations"].values()) == expected["violations"]
    weights = instance.weights
    assert result["costs"] == {n: result["raw"][n] * getattr(weights, key) for n, (_, key) in COSTS.items()}


@needs_data
def test_a_written_solution_reads_back_to_the_same_score() -> None:
    instance = load_instance(DATA / "test" / "test01.json")
    solution = load_solution(DATA / "test_solutions" / "sol_test01.json", instance)
    again = parse_solution(json.loads(json.dumps(solution_to_json(solution, instance))), instance)
    assert score(instance, again) == score(instance, solution)


# A tiny instance: 2 days, rooms r0 (2 beds) and r1 (1 bed), theaters t0 and t1, one surgeon;
# p0 is mandatory (release 0, due 1), p1 optional; nurse n0 (skill 2) works every shift,
# n1 (skill 0, load 3) only the early shift of day 0.

SHIFTS = ["early", "late", "night"]


def _patient(pid: str, **extra: Any) -> dict[str, Any]:
    base = {"id": pid, "mandatory": False, "gender": "A", "age_group": "young", "length_of_stay": 1,
            "surgery_release_day": 0, "surgery_duration": 60, "surgeon_id": "s0", "incompatible_room_ids": [],
            "workload_produced": [1, 1, 1], "skill_level_required": [0, 0, 0]}
    return base | extra


def tiny_instance(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "days": 2, "skill_levels": 3, "shift_types": SHIFTS, "age_groups": ["young", "old"],
        "weights": {"room_mixed_age": 2, "room_nurse_skill": 3, "continuity_of_care": 5,
                    "nurse_eccessive_workload": 7, "open_operating_theater": 11, "surgeon_transfer": 13,
                    "patient_delay": 17, "unscheduled_optional": 19},
        "occupants": [],
        "patients": [_patient("p0", mandatory=True, surgery_due_day=1), _patient("p1")],
        "surgeons": [{"id": "s0", "max_surgery_time": [480, 480]}],
        "operating_theaters": [{"id": t, "availability": [480, 480]} for t in ("t0", "t1")],
        "rooms": [{"id": "r0", "capacity": 2}, {"id": "r1", "capacity": 1}],
        "nurses": [{"id": "n0", "skill_level": 2, "working_shifts": [
                        {"day": d, "shift": s, "max_load": 20} for d in range(2) for s in SHIFTS]},
                   {"id": "n1", "skill_level": 0,
                    "working_shifts": [{"day": 0, "shift": "early", "max_load": 3}]}],
    }
    return data | changes


def with_patients(p0: dict[str, Any] | None = None, p1: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tiny instance with fields of p0 and p1 changed."""
    return tiny_instance(patients=[_patient("p0", mandatory=True, surgery_due_day=1) | (p0 or {}),
                                   _patient("p1") | (p1 or {})])


def tiny_solution(p0: Any = (0, "r0", "t0"), p1: Any = None, uncover: tuple[int, str] | None = None,
                  n1_early: bool = False) -> dict[str, Any]:
    """p0 and p1 as (day, room, theater) or None; n0 covers both rooms in every shift but
    ``uncover``; with ``n1_early``, n1 covers r0 in the early shift of day 0 instead of n0."""
    patients = []
    for pid, where in (("p0", p0), ("p1", p1)):
        if where is None:
            patients.append({"id": pid, "admission_day": "none"})
        else:
            day, room, theater = where
            patients.append({"id": pid, "admission_day": day, "room": room, "operating_theater": theater})
    n0 = []
    for d in range(2):
        for s in SHIFTS:
            given_to_n1 = ("r0",) if n1_early and (d, s) == (0, "early") else ()
            rooms = [r for r in ("r0", "r1") if (d, s) != uncover and r not in given_to_n1]
            n0.append({"day": d, "shift": s, "rooms": rooms})
    n1 = [{"day": 0, "shift": "early", "rooms": ["r0"] if n1_early else []}]
    nurses = [{"id": "n0", "assignments": n0}, {"id": "n1", "assignments": n1}]
    return {"patients": patients, "nurses": nurses}


def scored(instance: dict[str, Any] | None = None, **solution: Any) -> Score:
    parsed = parse_instance(instance or tiny_instance())
    return score(parsed, parse_solution(tiny_solution(**solution), parsed))


def hard_only(result: Score, name: str) -> int:
    """The rule's count, after checking that no other hard rule fired."""
    assert {k: v for k, v in result["violations"].items() if k != name and v} == {}
    return result["violations"][name]


def test_the_tiny_baseline_is_feasible_and_costs_what_its_weights_say() -> None:
    result = scored()
    assert result["violations"] == dict.fromkeys(HARD, 0)
    assert result["raw"] == {"RoomAgeMix": 0, "RoomSkillLevel": 0, "ContinuityOfCare": 1,
                             "ExcessiveNurseWorkload": 0, "OpenOperatingTheater": 1, "SurgeonTransfer": 0,
                             "PatientDelay": 0, "ElectiveUnscheduledPatients": 1}
    assert result["total_cost"] == 1 * 5 + 1 * 11 + 1 * 19


# Hard rules, one violation each


def test_counts_a_mandatory_patient_not_admitted() -> None:
    assert hard_only(scored(p0=None), "MandatoryUnscheduledPatients") == 1


def test_counts_an_admission_before_the_release_day() -> None:
    instance = with_patients(p0={"surgery_release_day": 1})
    assert hard_only(scored(instance), "AdmissionDay") == 1


def test_counts_a_mandatory_admission_after_the_due_day() -> None:
    instance = with_patients(p0={"surgery_due_day": 0})
    assert hard_only(scored(instance, p0=(1, "r0", "t0")), "AdmissionDay") == 1


def test_counts_each_person_beyond_a_rooms_capacity() -> None:
    assert hard_only(scored(p0=(0, "r1", "t0"), p1=(0, "r1", "t0")), "RoomCapacity") == 1


def test_counts_the_smaller_gender_in_a_mixed_room() -> None:
    instance = with_patients(p1={"gender": "B"})
    assert hard_only(scored(instance, p1=(0, "r0", "t0")), "RoomGenderMix") == 1


def test_counts_a_patient_in_an_incompatible_room() -> None:
    instance = with_patients(p0={"incompatible_room_ids": ["r1"]})
    assert hard_only(scored(instance, p0=(0, "r1", "t0")), "PatientRoomCompatibility") == 1


def test_counts_a_surgeons_minutes_beyond_the_daily_maximum() -> None:
    instance = tiny_instance(surgeons=[{"id": "s0", "max_surgery_time": [100, 480]}])
    assert hard_only(scored(instance, p1=(0, "r0", "t0")), "SurgeonOvertime") == 20


def test_counts_a_theaters_minutes_beyond_its_availability() -> None:
    instance = tiny_instance(operating_theaters=[{"id": "t0", "availability": [100, 480]},
                                                 {"id": "t1", "availability": [480, 480]}])
    assert hard_only(scored(instance, p1=(0, "r0", "t0")), "OperatingTheaterOvertime") == 20


def test_counts_a_nurse_assigned_in_a_shift_it_does_not_work() -> None:
    instance = parse_instance(tiny_instance())
    base = parse_solution(tiny_solution(), instance)  # reading a file would refuse the extra shift
    solution = Solution(base.admissions, (*base.assignments, NurseAssignment("n1", 1, "late", ("r1",))))
    assert hard_only(score(instance, solution), "NursePresence") == 1


def test_counts_each_shift_an_occupied_room_has_no_nurse() -> None:
    assert hard_only(scored(uncover=(0, "late")), "UncoveredRoom") == 1


def test_counts_an_occupant_s_room_as_occupied() -> None:
    occupant = {"id": "a0", "gender": "A", "age_group": "old", "length_of_stay": 1, "room_id": "r1",
                "workload_produced": [1, 1, 1], "skill_level_required": [0, 0, 0]}
    assert hard_only(scored(tiny_instance(occupants=[occupant]), uncover=(0, "night")), "UncoveredRoom") == 2


# Costs, one each


def test_costs_the_age_spread_in_a_room() -> None:
    instance = with_patients(p1={"age_group": "old"})
    result = scored(instance, p1=(0, "r0", "t0"))
    assert result["raw"]["RoomAgeMix"] == 1
    assert result["costs"]["RoomAgeMix"] == 2


def test_costs_the_skill_a_nurse_lacks_for_each_person() -> None:
    instance = with_patients(p0={"skill_level_required": [2, 2, 2]})
    result = scored(instance, n1_early=True)
    assert result["raw"]["RoomSkillLevel"] == 2
    assert result["costs"]["RoomSkillLevel"] == 6


def test_costs_each_distinct_nurse_a_patient_sees() -> None:
    assert scored(n1_early=True)["raw"]["ContinuityOfCare"] == 2


def test_costs_a_nurse_s_load_beyond_its_maximum() -> None:
    instance = with_patients(p0={"workload_produced": [5, 1, 1]})
    result = scored(instance, n1_early=True)
    assert result["raw"]["ExcessiveNurseWorkload"] == 2
    assert result["costs"]["ExcessiveNurseWorkload"] == 14


def test_costs_each_theater_day_in_use_and_each_surgeon_transfer() -> None:
    result = scored(p1=(0, "r0", "t1"))
    assert result["raw"]["OpenOperatingTheater"] == 2
    assert result["raw"]["SurgeonTransfer"] == 1
    assert result["costs"]["SurgeonTransfer"] == 13


def test_costs_the_days_between_release_and_admission() -> None:
    result = scored(p0=(1, "r0", "t0"))
    assert result["raw"]["PatientDelay"] == 1
    assert result["costs"]["PatientDelay"] == 17


def test_costs_each_optional_patient_left_out() -> None:
    assert scored(p1=(0, "r0", "t0"))["raw"]["ElectiveUnscheduledPatients"] == 0
    assert scored()["costs"]["ElectiveUnscheduledPatients"] == 19


# What the reader refuses


def _refused(solution: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_solution(solution, parse_instance(tiny_instance()))


def test_refuses_a_patient_listed_twice() -> None:
    solution = tiny_solution()
    solution["patients"].append({"id": "p0", "admission_day": "none"})
    _refused(solution, "patient 'p0' is listed twice")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("id", "p9", "unknown patient 'p9'"), ("room", "r9", "unknown room 'r9'"),
    ("operating_theater", "t9", "unknown operating theater 't9'"),
    ("admission_day", 2, "outside the horizon"),
])
def test_refuses_an_unknown_id_or_day(field: str, value: Any, message: str) -> None:
    solution = tiny_solution()
    solution["patients"][0][field] = value
    _refused(solution, message)


def test_refuses_a_nurse_assigned_in_a_shift_it_does_not_work() -> None:
    solution = tiny_solution()
    solution["nurses"][1]["assignments"].append({"day": 1, "shift": "late", "rooms": []})
    _refused(solution, "nurse 'n1' does not work the late shift of day 1")


def test_refuses_a_room_given_two_nurses_in_one_shift() -> None:
    solution = tiny_solution()
    solution["nurses"][1]["assignments"][0]["rooms"] = ["r1"]
    _refused(solution, "room 'r1' already has nurse 'n0'")


def test_refuses_an_instance_with_a_missing_field() -> None:
    data = tiny_instance()
    broken = copy.deepcopy(data)
    del broken["patients"][1]["surgeon_id"]
    with pytest.raises(InvalidRequest, match=r"patients\[1\].surgeon_id"):
        parse_instance(broken)
    assert isinstance(parse_instance(data), Instance)


# The command line


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["careflow", *args], int(exited.value.code or 0), out, err)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    instance, solution = tmp_path / "instance.json", tmp_path / "solution.json"
    instance.write_text(json.dumps(tiny_instance()))
    solution.write_text(json.dumps(tiny_solution()))
    return instance, solution


def test_score_json_has_violations_costs_and_total(capsys: pytest.CaptureFixture[str],
                                                   files: tuple[Path, Path]) -> None:
    result = in_process(capsys, "ihtc", "score", str(files[0]), str(files[1]), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"violations", "costs", "total_cost"}
    assert list(doc["violations"]) == list(HARD)
    assert list(doc["costs"]) == list(COSTS)
    assert doc["total_cost"] == 35


def test_score_prints_tables_by_default(capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]) -> None:
    result = in_process(capsys, "ihtc", "score", str(files[0]), str(files[1]))
    assert result.returncode == 0, result.stderr
    assert "total cost: 35" in result.stdout
    assert "ElectiveUnscheduledPatients" in result.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not valid JSON"),
    (json.dumps({"patients": [], "nurses": [{"id": "n9", "assignments": []}]}), "unknown nurse 'n9'"),
])
def test_a_bad_solution_file_is_one_line_with_exit_2(
        capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], content: str, message: str) -> None:
    files[1].write_text(content)
    result = in_process(capsys, "ihtc", "score", str(files[0]), str(files[1]), "--json")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_a_missing_instance_file_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    result = in_process(capsys, "ihtc", "score", str(tmp_path / "nope.json"), str(tmp_path / "s.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
