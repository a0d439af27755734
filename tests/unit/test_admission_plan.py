"""The admission plan: careflow's cases, rooms, surgeons, beds, inpatients and nurses translated
into an IHTC instance rule by rule, solved, and read back in careflow's terms."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tests.admission_plan_world import MONDAY, SITE, ZONE, case, ward_system
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor, PermissionDenied
from careflow.domain.bookings import Allocation, Booking, BookingStatus, Urgency
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId
from careflow.domain.surgical_cases import CaseStatus, SurgicalCase
from careflow.planning.admission_plan import (
    AdmissionProblem,
    CaseToPlan,
    Inpatient,
    OperatingRoom,
    SurgeonDays,
    WardNurse,
    WardRoom,
)
from careflow.planning.admission_plan_instance import to_instance
from careflow.planning.admission_plan_repair import pack_day, reinsert
from careflow.planning.admission_plan_solve import plan_admissions
from careflow.planning.admission_plan_wards import ward_rooms
from careflow.planning.admission_plan_weights import COST_NAMES, SETTING, PlanningWeights
from careflow.planning.ihtc.score import COSTS
from careflow.planning.ihtc.solution import Admission, Solution
from careflow.services import admission_plan as use
from careflow.services.admission_plan_data import read_problem
from careflow.services.catalogs import CatalogCache
from careflow.services.site_settings import SiteSetting

DAYS = 5
SHIFT_NAMES = ("early", "late", "night")


def _case(ident: str, **kw: Any) -> CaseToPlan:
    fields: dict[str, Any] = {"case_id": ident, "patient_id": f"pat-{ident}", "surgeon_id": "s1",
                              "service_id": "svc", "minutes": 120, "stay_days": 2, "earliest": MONDAY,
                              "latest": MONDAY + timedelta(days=30), "mandatory": False, "sex": "female",
                              "age": 50, "bed_type": "surgical"}
    return CaseToPlan(**{**fields, **kw})


def _problem(*cases: CaseToPlan, **kw: Any) -> AdmissionProblem:
    fields: dict[str, Any] = {
        "site_id": "s", "start": MONDAY, "days": DAYS, "cases": cases,
        "operating_rooms": (OperatingRoom("or-lam", "OR 1", frozenset({"laminar-flow"}), (480,) * DAYS),
                            OperatingRoom("or-gen", "OR 2", frozenset(), (300,) * DAYS)),
        "surgeons": (SurgeonDays("s1", (400,) * DAYS), SurgeonDays("s2", (0, 0, 400, 0, 0))),
        "wards": (WardRoom("single", "4W", "surgical", "any", False, ("b1",)),
                  WardRoom("women", "4W", "surgical", "female", False, ("b2", "b3")),
                  WardRoom("men", "4W", "surgical", "male", False, ("b4", "b5")),
                  WardRoom("iso", "4W", "surgical", "any", True, ("b6",)),
                  WardRoom("icu", "ICU", "icu", "any", True, ("b7",))),
        "inpatients": (), "weights": PlanningWeights(),
        "nurses": tuple(WardNurse(f"n-{s}-{i}", 0, {(d, s): 6 for d in range(DAYS)})
                        for s in SHIFT_NAMES for i in (1, 2))}
    return AdmissionProblem(**{**fields, **kw})


def test_surgeon_and_operating_room_minutes_become_the_ihtc_daily_limits() -> None:
    instance, _ = to_instance(_problem(_case("a")))
    assert instance.surgeons_by_id["s2"].max_surgery_time == (0, 0, 400, 0, 0)
    assert instance.theaters_by_id["or-lam"].availability == (480,) * DAYS
    assert instance.patients_by_id["a"].surgery_duration == 120


def test_a_case_no_day_has_surgeon_time_for_is_left_out_with_the_reason() -> None:
    instance, unplanned = to_instance(_problem(_case("long", surgeon_id="s2", minutes=450), _case("ok")))
    assert [p.id for p in instance.patients] == ["ok"]
    assert [(u.case_id, u.reason) for u in unplanned] == [
        ("long", "no day of its window has 450 free minutes of a capable room and of its surgeon")]


def test_a_case_needing_a_capability_no_room_has_is_left_out() -> None:
    _, unplanned = to_instance(_problem(_case("robot", capabilities=frozenset({"robotic"}))))
    assert unplanned[0].reason == "no operating room has robotic"


def test_sex_becomes_the_ihtc_gender_and_rooms_of_the_other_sex_are_incompatible() -> None:
    people = (_case("f", sex="female"), _case("m", sex="male"), _case("u", sex="unknown"))
    instance, _ = to_instance(_problem(*people))
    women, men, other = (instance.patients_by_id[i] for i in "fmu")
    assert (women.gender, men.gender) == ("A", "B")
    assert women.incompatible_room_ids == {"men", "icu"}
    assert men.incompatible_room_ids == {"women", "icu"}
    assert other.incompatible_room_ids == {"women", "men", "icu"}  # single rooms only


def test_bed_type_and_isolation_make_rooms_incompatible() -> None:
    instance, _ = to_instance(_problem(_case("iso", isolation=True), _case("icu", bed_type="icu")))
    assert instance.patients_by_id["iso"].incompatible_room_ids == {"single", "women", "men", "icu"}
    assert instance.patients_by_id["icu"].incompatible_room_ids == {"single", "women", "men", "iso"}
    assert instance.rooms_by_id["women"].capacity == 2


def test_the_wanted_window_becomes_release_and_due_days() -> None:
    later = _case("later", earliest=MONDAY + timedelta(days=2))
    due = _case("due", latest=MONDAY + timedelta(days=3))
    urgent = _case("urgent", mandatory=True)
    overdue = _case("overdue", earliest=MONDAY - timedelta(days=9), latest=MONDAY - timedelta(days=2))
    instance, _ = to_instance(_problem(later, due, urgent, overdue))
    p = instance.patients_by_id
    later_days = (p["later"].surgery_release_day, p["later"].last_admission_day)
    assert (p["later"].mandatory, later_days) == (False, (2, 4))
    assert (p["due"].mandatory, p["due"].surgery_due_day) == (True, 3)
    assert (p["urgent"].mandatory, p["urgent"].surgery_due_day) == (True, 4)
    assert (p["overdue"].surgery_release_day, p["overdue"].last_admission_day) == (0, 4)


def test_a_case_wanted_after_the_horizon_is_not_planned_in_it() -> None:
    _, unplanned = to_instance(_problem(_case("next-week", earliest=MONDAY + timedelta(days=DAYS))))
    assert unplanned[0].reason == "its earliest date is after the horizon"


def test_the_stays_of_one_bed_become_one_occupant_held_from_day_zero() -> None:
    stays = (Inpatient("bk1", "x", "b4", "male", 70, "surgical", -3, 0),
             Inpatient("bk2", "y", "b4", "male", 40, "surgical", 2, 6))
    instance, _ = to_instance(_problem(inpatients=stays))
    (occupant,) = instance.occupants
    assert (occupant.room_id, occupant.gender, occupant.length_of_stay) == ("men", "B", DAYS)
    assert occupant.workload_produced[:9] == (1, 1, 1, 0, 0, 0, 1, 1, 1)


def test_ward_rooms_pair_gendered_beds_and_keep_open_and_isolation_beds_single() -> None:
    system = ward_system()
    rooms = ward_rooms(r for r in system.resources if r.kind.value == "bed")
    assert [(r.id, r.bed_ids) for r in rooms if r.unit == "4W"] == [
        ("bed-4W-01", ("bed-4W-01",)), ("bed-4W-02", ("bed-4W-02",)), ("bed-4W-03", ("bed-4W-03",)),
        ("bed-4W-04", ("bed-4W-04",)), ("bed-4W-05..bed-4W-06", ("bed-4W-05", "bed-4W-06")),
        ("bed-4W-07..bed-4W-08", ("bed-4W-07", "bed-4W-08"))]


@pytest.mark.parametrize("name", COST_NAMES)
def test_each_weight_of_the_site_setting_becomes_its_ihtc_weight(name: str) -> None:
    weights = PlanningWeights.of({name: 777})
    assert weights.as_dict()[name] == 777
    ihtc = weights.ihtc()
    assert getattr(ihtc, COSTS[name][1]) == 777
    assert sum(1 for other in COST_NAMES if getattr(ihtc, COSTS[other][1]) == 777) == 1


@pytest.mark.parametrize(("value", "field"), [
    ({"Delay": 3}, "weights.Delay"), ({"PatientDelay": -1}, "weights.PatientDelay"),
    ({"PatientDelay": 2.5}, "weights.PatientDelay"), ({"PatientDelay": True}, "weights.PatientDelay"),
    ({"SurgeonTransfer": 10**9}, "weights.SurgeonTransfer")])
def test_weights_refuse_unknown_names_and_values_that_are_not_small_non_negative_integers(
        value: Mapping[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        PlanningWeights.of(value)
    assert refused.value.field == field


def test_a_day_is_packed_again_so_a_case_needing_laminar_flow_is_in_the_laminar_room() -> None:
    knee = _case("knee", capabilities=frozenset({"laminar-flow"}), minutes=400)
    lap = _case("lap", minutes=250, surgeon_id="s2")
    problem = _problem(knee, lap)
    today = [(Admission("knee", 2, "single", "or-gen"), knee), (Admission("lap", 2, "women", "or-lam"), lap)]
    rooms = {r.id: r for r in problem.operating_rooms}
    assert pack_day(2, today, rooms) == {"knee": "or-lam", "lap": "or-gen"}


def test_a_mandatory_case_takes_the_place_of_an_optional_one_when_capable_minutes_are_short() -> None:
    knee = _case("knee", capabilities=frozenset({"laminar-flow"}), minutes=400)
    due = _case("due", capabilities=frozenset({"laminar-flow"}), minutes=400, mandatory=True, sex="male",
                latest=MONDAY)
    laminar = OperatingRoom("or-lam", "OR 1", frozenset({"laminar-flow"}), (480,))
    problem = _problem(knee, due, days=1, surgeons=(SurgeonDays("s1", (800,)),), operating_rooms=(laminar,),
                       nurses=tuple(WardNurse(f"n-{s}", 0, {(0, s): 6}) for s in SHIFT_NAMES))
    instance, _ = to_instance(problem)
    solution = Solution((Admission("knee", 0, "single", "or-lam"),), ())
    repaired, left = reinsert(problem, instance, solution, ["due"])
    assert [(a.patient_id, a.theater_id) for a in repaired.admissions] == [("due", "or-lam")]
    assert left == ("knee",)
    assert {(n.day, n.shift) for n in repaired.assignments} == {(0, s) for s in SHIFT_NAMES}


def test_a_solved_plan_reads_back_days_rooms_beds_and_nurse_cover_without_hard_violations() -> None:
    cases = (_case("knee", capabilities=frozenset({"laminar-flow"}), mandatory=True),
             _case("lap", sex="male", latest=MONDAY + timedelta(days=2)), _case("other", sex="unknown"),
             _case("icu", bed_type="icu", isolation=True, stay_days=3))
    inpatient = Inpatient("bk", "z", "b2", "female", 80, "surgical", -1, 3)
    plan = plan_admissions(_problem(*cases, inpatients=(inpatient,)), time_limit=1.0)
    assert plan.hard_violations == 0
    assert sorted(c.case_id for c in plan.planned) == ["icu", "knee", "lap", "other"]
    by_case = {c.case_id: c for c in plan.planned}
    assert by_case["knee"].operating_room_id == "or-lam"
    assert by_case["lap"].day <= MONDAY + timedelta(days=2)
    assert by_case["other"].ward_room_id in ("single", "iso") and by_case["icu"].ward_room_id == "icu"
    assert by_case["lap"].ward_room_id in ("single", "men", "iso")
    if by_case["knee"].ward_room_id == "women":
        assert by_case["knee"].bed_id == "b3"  # b2 holds the inpatient
    covered = {(n.day, n.shift, r) for n in plan.coverage for r in n.room_ids}
    for c in plan.planned:
        assert all((c.day, s, c.ward_room_id) in covered for s in SHIFT_NAMES)
    assert set(plan.costs) == set(COST_NAMES) and plan.total_cost == sum(plan.costs.values())


# --- the service, on careflow data (fake stores) -------------------------------------------------


class FakeSettings:
    """Site settings in memory, shared by every unit of work."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], SiteSetting] = {}

    def get(self, site_id: str, name: str, *, lock: bool = False) -> SiteSetting | None:
        return self.rows.get((site_id, name))

    def named(self, name: str) -> list[SiteSetting]:
        return [s for (_, n), s in sorted(self.rows.items()) if n == name]

    def put(self, setting: SiteSetting, expected_version: int | None) -> None:
        self.rows[setting.site_id, setting.name] = setting


class FakeCases:
    def __init__(self, cases: list[SurgicalCase]) -> None:
        self.cases = cases

    def find(self, status: str | None, patient_id: str | None, offset: int,
             limit: int) -> tuple[list[SurgicalCase], int]:
        return self.cases[offset:offset + limit], len(self.cases)


def _deps(cases: list[SurgicalCase], nurses: int = 3) -> tuple[use.AdmissionPlanDeps, FakeSettings]:
    settings = FakeSettings()
    deps = use.AdmissionPlanDeps(FakeUnitOfWorkFactory.of(ward_system(nurses)), CatalogCache(),
                                 lambda: datetime(2030, 1, 6, tzinfo=UTC), lambda uow: settings,
                                 lambda uow: FakeCases(cases))  # type: ignore[arg-type,return-value]
    return deps, settings


PLANNER = Actor("planner", frozenset({"perioperative_coordinator"}))


def test_a_plan_built_from_careflow_data_has_no_hard_violation() -> None:
    cases = [case(1, "svc-tka", patient=0, urgency=Urgency.URGENT), case(2, "svc-lap", patient=1, surgeon=2),
             case(3, "svc-lap", patient=2, first=1), case(4, "svc-tka", patient=3, surgeon=2),
             case(5, "svc-day", patient=4), case(6, "svc-lap", patient=5, status=CaseStatus.BOOKED),
             case(7, "svc-lap", patient=6, first=9)]
    deps, _ = _deps(cases)
    plan = use.propose_admission_plan(deps, PLANNER, use.PlanRequest(SITE, MONDAY, DAYS, time_limit=1.0))
    assert plan.hard_violations == 0
    assert sorted(c.case_id for c in plan.planned) == ["c1", "c2", "c3", "c4"]  # no day case, booked or later
    by_case = {c.case_id: c for c in plan.planned}
    assert by_case["c1"].operating_room_id == by_case["c4"].operating_room_id == "or-1"  # laminar flow
    assert by_case["c2"].ward_room_id != "bed-4W-05..bed-4W-06"  # a man is not put in the women's room
    assert by_case["c3"].ward_room_id in {f"bed-4W-0{n}" for n in range(1, 5)}  # unknown sex: a single room
    assert all(c.day.weekday() < 5 for c in plan.planned)  # the operating rooms open on weekdays
    rooms_with_inpatient = {r for n in plan.coverage if n.day == MONDAY for r in n.room_ids}
    assert "bed-4W-07..bed-4W-08" in rooms_with_inpatient  # the inpatient's room is covered


def test_the_plan_uses_the_weights_the_site_setting_holds() -> None:
    deps, settings = _deps([case(1, "svc-lap")])
    admin = Actor("admin", frozenset({"admin"}))
    use.change_weights(deps, admin, SITE, {"PatientDelay": 0, "ElectiveUnscheduledPatients": 2}, "OR board")
    assert settings.rows[SITE, SETTING].value["PatientDelay"] == 0
    plan = use.propose_admission_plan(deps, PLANNER, use.PlanRequest(SITE, MONDAY, DAYS, time_limit=0.5))
    assert plan.weights == PlanningWeights(patient_delay=0, elective_unscheduled_patients=2)
    assert plan.weights.as_dict() == dict(settings.rows[SITE, SETTING].value)


def test_a_site_without_ward_nurses_is_refused_naming_it() -> None:
    deps, _ = _deps([case(1, "svc-lap")], nurses=0)
    with pytest.raises(InvalidRequest, match="records no ward nurses"):
        use.propose_admission_plan(deps, PLANNER, use.PlanRequest(SITE, MONDAY, DAYS, time_limit=0.5))


def test_planning_needs_plan_read_and_changing_weights_plan_configure() -> None:
    deps, _ = _deps([])
    with pytest.raises(PermissionDenied):
        use.propose_admission_plan(deps, Actor("clerk", frozenset({"auditor"})),
                                   use.PlanRequest(SITE, MONDAY, DAYS))
    with pytest.raises(PermissionDenied):
        use.change_weights(deps, Actor("beds", frozenset({"bed_manager"})), SITE, {"PatientDelay": 1},
                           "no right")


@pytest.mark.parametrize(("kwargs", "field"), [({"days": 0}, "days"), ({"days": 29}, "days"),
                                              ({"time_limit": 0.0}, "time_limit")])
def test_a_plan_request_refuses_a_bad_horizon_or_time_limit(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        replace(use.PlanRequest(SITE, MONDAY), **kwargs)
    assert refused.value.field == field


def test_no_cases_give_an_empty_plan() -> None:
    deps, _ = _deps([])
    plan = use.propose_admission_plan(deps, PLANNER, use.PlanRequest(SITE, MONDAY, 2, time_limit=0.2))
    assert (plan.planned, plan.unplanned, plan.hard_violations) == ((), (), 0)


def test_careflow_data_becomes_free_minutes_wards_inpatients_and_nurses() -> None:
    cases = [case(1, "svc-tka"), case(2, "svc-lap", surgeon=2)]
    deps, _ = _deps(cases)
    start = datetime.combine(MONDAY, datetime.min.time(), tzinfo=ZONE) + timedelta(hours=8)
    end = start + timedelta(hours=2)
    booked = Booking(BookingId("bk-or"), PatientId("p2"), ServiceId("svc-day"), SITE, start, end,
                     BookingStatus.BOOKED, (Allocation(ResourceId("or-1"), "room", start, end),
                                            Allocation(ResourceId("surgeon-1"), "surgeon", start, end)))
    with deps.uow(write=True) as uow:
        uow.bookings.add(booked)
        uow.commit()
    with deps.uow() as uow:
        problem = read_problem(uow, deps.catalogs.get(uow), FakeCases(cases), SITE, MONDAY, 7,
                               PlanningWeights())
    rooms = {r.id: r.minutes for r in problem.operating_rooms}
    assert rooms == {"or-1": (480, 600, 600, 600, 600, 0, 0), "or-2": (600, 600, 600, 600, 600, 0, 0)}
    surgeons = {s.id: s.minutes for s in problem.surgeons}
    assert surgeons == {"surgeon-1": (360, 480, 480, 480, 480, 0, 0),  # two hours booked on Monday
                        "surgeon-2": (480, 480, 480, 480, 480, 0, 0)}
    knee = next(c for c in problem.cases if c.case_id == "c1")
    assert (knee.minutes, knee.stay_days, knee.bed_type) == (150, 3, "surgical")  # 15 + 120 + 15; 48 h
    assert knee.capabilities == {"laminar-flow"}
    assert len(problem.wards) == 6 and all(w.bed_type == "surgical" for w in problem.wards)  # no ICU needed
    (inpatient,) = problem.inpatients
    assert (inpatient.bed_id, inpatient.sex) == ("bed-4W-07", "male")
    assert (inpatient.first_day, inpatient.last_day) == (-1, 2)  # Sunday to Wednesday
    assert len(problem.nurses) == 9  # three on duty in each of the three shifts
    assert {len(n.shifts) for n in problem.nurses} == {7} and {n.skill_level for n in problem.nurses} == {0}


def test_a_mandatory_case_no_day_can_take_counts_as_a_hard_violation() -> None:
    plan = plan_admissions(_problem(_case("long", surgeon_id="s2", minutes=450, mandatory=True)), 0.5)
    assert plan.violations["MandatoryUnscheduledPatients"] == 1 and plan.hard_violations == 1
    assert [u.case_id for u in plan.unplanned] == ["long"]


def test_a_mandatory_case_moves_another_mandatory_case_to_a_later_day_of_its_window() -> None:
    flexible = _case("flexible", capabilities=frozenset({"laminar-flow"}), minutes=400, mandatory=True,
                     latest=MONDAY + timedelta(days=1))
    due = _case("due", capabilities=frozenset({"laminar-flow"}), minutes=400, mandatory=True, sex="male",
                latest=MONDAY)
    laminar = OperatingRoom("or-lam", "OR 1", frozenset({"laminar-flow"}), (480, 480))
    problem = _problem(flexible, due, days=2, surgeons=(SurgeonDays("s1", (800, 800)),),
                       operating_rooms=(laminar,),
                       nurses=tuple(WardNurse(f"n-{s}", 0, {(d, s): 6 for d in (0, 1)}) for s in SHIFT_NAMES))
    instance, _ = to_instance(problem)
    solution = Solution((Admission("flexible", 0, "single", "or-lam"),), ())
    repaired, left = reinsert(problem, instance, solution, ["due"])
    assert sorted((a.patient_id, a.day) for a in repaired.admissions) == [("due", 0), ("flexible", 1)]
    assert left == ()


def test_a_horizon_across_the_spring_daylight_saving_change_keeps_local_hours_and_shifts() -> None:
    cases = [case(1, "svc-lap")]
    deps, _ = _deps(cases)
    monday = date(2030, 3, 4)  # clocks in New York go forward on Sunday 10 March at 02:00
    with deps.uow() as uow:
        problem = read_problem(uow, deps.catalogs.get(uow), FakeCases(cases), SITE, monday, 7,
                               PlanningWeights())
    assert {r.minutes for r in problem.operating_rooms} == {(600,) * 5 + (0, 0)}
    on_duty = Counter(key for n in problem.nurses for key in n.shifts)
    assert on_duty == {(d, s): 3 for d in range(7) for s in SHIFT_NAMES}  # the short night of 9-10 March too
