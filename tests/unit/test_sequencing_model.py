"""Day-of-surgery sequencing: one small day per rule, solved by the CP-SAT model and
checked by the plain-Python rules (every proposal is re-checked there before it is returned)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import BookingId, PatientId, ResourceId
from careflow.planning.sequencing import sequence
from careflow.planning.sequencing_order import order_breaches
from careflow.planning.sequencing_problem import (
    CasePlan,
    DayCase,
    DayProblem,
    FixedUse,
    RoomDay,
    SequenceResult,
    Shared,
    SharedKind,
    SolveStatus,
    Use,
    Weights,
)
from careflow.planning.sequencing_rules import booked_placement, breaches, penalties
from careflow.planning.sequencing_steps import park

NY = "America/New_York"
ORIGIN = int(datetime(2026, 6, 3, tzinfo=ZoneInfo(NY)).timestamp())
H, M = 3600, 60


def at(hhmm: str) -> int:
    """POSIX seconds of a local wall-clock time on the test day."""
    hours, minutes = hhmm.split(":")
    return ORIGIN + int(hours) * H + int(minutes) * M


def room(rid: str = "or1", opens: str = "07:00", closes: str = "15:00",
         fixed: tuple[FixedUse, ...] = ()) -> RoomDay:
    return RoomDay(ResourceId(rid), ((at(opens), at(closes)),), fixed=fixed)


def shared(rid: str, kind: SharedKind, units: int = 1, tail: int = 0, opens: str = "06:00",
           closes: str = "20:00", fixed: tuple[FixedUse, ...] = ()) -> Shared:
    return Shared(ResourceId(rid), kind, ((at(opens), at(closes), units),), tail * M, fixed)


def case(bid: str, start: str, minutes: int = 60, room_id: str = "or1", uses: tuple[str, ...] = (),
         setup: int = 15, turnover: int = 15, **kw: object) -> DayCase:
    return DayCase(BookingId(bid), PatientId(f"p-{bid}"), "SVC", ResourceId(room_id), at(start), minutes * M,
                   setup * M, turnover * M, tuple(Use(ResourceId(u)) for u in uses), **kw)  # type: ignore[arg-type]


def day(rooms: tuple[RoomDay, ...], cases: tuple[DayCase, ...], resources: tuple[Shared, ...] = (),
        **kw: object) -> DayProblem:
    return DayProblem(ORIGIN, 30 * H, rooms, resources, cases, timezone=NY, **kw)  # type: ignore[arg-type]


def solve(problem: DayProblem, **kw: object) -> SequenceResult:
    result = sequence(problem, time_limit=10.0, seed=1, **kw)  # type: ignore[arg-type]
    assert result.has_proposal, result.explanation
    return result


def placed(result: SequenceResult) -> dict[str, CasePlan]:
    return {c.booking_id: c for c in result.cases}


def penalty(result: SequenceResult, name: str) -> int:
    return next(p.amount for p in result.penalties if p.name == name)


def test_a_day_already_in_order_is_proposed_unchanged_at_no_moving_cost() -> None:
    problem = day((room(),), (case("a", "07:15"), case("b", "08:45")))
    result = solve(problem)
    assert result.status is SolveStatus.OPTIMAL
    assert result.moved == ()
    assert penalty(result, "moved_case") == 0
    assert [c.order for c in result.cases] == [1, 2]


def test_room_turnover_and_the_next_setup_separate_consecutive_cases() -> None:
    problem = day((room(),), (case("a", "07:15", turnover=30), case("b", "08:20", setup=20)))
    assert any(b.rule == "room_turnover" for b in breaches(problem, booked_placement(problem)))
    cases = placed(solve(problem))
    first, second = sorted(cases.values(), key=lambda c: c.start)
    assert second.start - first.end >= (30 + 20) * M


def test_the_re_check_finds_a_resource_that_goes_off_duty_or_is_taken_partway_through_a_case() -> None:
    off_at_ten = shared("dr", SharedKind.SURGEON, opens="06:00", closes="10:00")
    late = day((room(),), (case("a", "09:30", 60, uses=("dr",)),), (off_at_ten,))
    assert [b.rule for b in breaches(late, booked_placement(late))] == ["surgeon_one_room"]
    elsewhere = FixedUse((at("09:00"), at("11:00")), 1, "bk-other")
    carm = shared("carm", SharedKind.EQUIPMENT, fixed=(elsewhere,))
    taken = day((room(),), (case("b", "08:30", 60, uses=("carm",)),), (carm,))
    assert [b.rule for b in breaches(taken, booked_placement(taken))] == ["equipment_one_room"]


def test_a_surgeon_is_never_in_two_rooms_at_once() -> None:
    problem = day((room("or1"), room("or2")),
                  (case("a", "08:00", 90, "or1", ("dr",)), case("b", "08:00", 90, "or2", ("dr",))),
                  (shared("dr", SharedKind.SURGEON),))
    a, b = placed(solve(problem)).values()
    assert a.end <= b.start or b.end <= a.start


def test_a_shared_c_arm_serves_one_room_at_a_time_with_its_reprocessing_between() -> None:
    problem = day((room("or1"), room("or2")),
                  (case("a", "08:00", 60, "or1", ("carm",)), case("b", "08:00", 60, "or2", ("carm",))),
                  (shared("carm", SharedKind.EQUIPMENT, tail=20),))
    first, second = sorted(placed(solve(problem)).values(), key=lambda c: c.start)
    assert second.start >= first.end + 20 * M


def test_anesthesia_covers_no_more_rooms_at_once_than_it_has_staff() -> None:
    rooms = (room("or1"), room("or2"), room("or3"))
    cases = tuple(case(f"c{i}", "08:00", 60, f"or{i}", ("anes",)) for i in (1, 2, 3))
    two_on_duty = day(rooms, cases, (shared("anes", SharedKind.ANESTHESIA, units=2),))
    plans = list(placed(solve(two_on_duty)).values())
    most = max(sum(1 for o in plans if o.start <= p.start < o.end) for p in plans)
    assert most == 2
    three_on_duty = day(rooms, cases, (shared("anes", SharedKind.ANESTHESIA, units=3),))
    assert solve(three_on_duty).moved == ()


def test_a_pool_case_needs_one_lane_free_throughout_not_just_enough_staff_at_each_instant() -> None:
    def held(lane: int, lo: str, hi: str) -> FixedUse:
        return FixedUse((at(lo), at(hi)), 1, f"bk-{lane}-{lo}", lane)

    busy = (held(0, "08:30", "09:00"), held(1, "08:00", "08:30"), held(1, "09:00", "09:30"))
    nurses = Shared(ResourceId("nurses"), SharedKind.STAFF, ((at("06:00"), at("20:00"), 2),), fixed=busy,
                    lanes=2)
    problem = day((room(),), (case("a", "07:00", 60, setup=0, turnover=0, locked=True),
                              case("b", "07:30", 60, uses=("nurses",), setup=0, turnover=0)), (nurses,))
    # one nurse is busy at every instant from 08:00 to 09:30, but no one nurse is free 08:00-09:00
    assert placed(solve(problem))["b"].start == at("09:00")


def test_equipment_of_two_units_keeps_one_unit_through_the_case_and_its_reprocessing() -> None:
    busy = (FixedUse((at("08:00"), at("09:00")), 1, "bk-0", 0),
            FixedUse((at("07:00"), at("07:30")), 1, "bk-1", 1),
            FixedUse((at("08:20"), at("09:00")), 1, "bk-2", 1))
    carms = Shared(ResourceId("carms"), SharedKind.EQUIPMENT, ((at("06:00"), at("20:00"), 2),), 20 * M, busy,
                   lanes=2)
    problem = day((room(),), (case("a", "07:00", 60, uses=("carms",), setup=0, turnover=0),), (carms,))
    # unit 0 is free 07:00-08:00 for the case but not for its 20 minutes of reprocessing
    assert placed(solve(problem))["a"].start == at("09:00")


def test_other_bookings_and_hours_off_duty_leave_less_of_a_resource_for_the_cases() -> None:
    clinic = FixedUse((at("08:00"), at("10:00")), 1, "bk-clinic")
    problem = day((room(),), (case("a", "08:00", 60, uses=("dr",)),),
                  (shared("dr", SharedKind.SURGEON, opens="07:00", fixed=(clinic,)),))
    assert placed(solve(problem))["a"].start >= at("10:00")


def test_overtime_is_penalized_by_the_minute_past_the_close() -> None:
    problem = day((room(closes="10:00"),), (case("a", "07:15", 120), case("b", "09:45", 60)),
                  overtime_allowance=60 * M)
    result = solve(problem)
    # the room holds a 07:00-09:30 and b 09:30-11:00 (setup and turnover): 60 minutes past the close
    assert penalty(result, "overtime") == 60
    assert next(p.cost for p in result.penalties if p.name == "overtime") == 60 * Weights().overtime_minute


def test_overtime_is_avoided_when_the_cases_fit_before_the_close() -> None:
    problem = day((room(closes="12:00"),), (case("a", "07:15", 60), case("b", "11:00", 60)),
                  overtime_allowance=60 * M)
    result = solve(problem)
    assert penalty(result, "overtime") == 0
    assert [c.booking_id for c in result.moved] == ["b"]


def test_each_moved_case_and_each_minute_it_moves_are_penalized() -> None:
    problem = day((room(),), (case("a", "07:15", 60), case("b", "07:30", 60)))
    result = solve(problem)
    assert penalty(result, "moved_case") == 1
    moved = result.moved[0]
    assert penalty(result, "moved_minutes") == abs(moved.moved_minutes)
    assert any("room_turnover" in why for why in moved.reasons)


def test_a_child_goes_first_in_the_room() -> None:
    problem = day((room(),), (case("a", "07:15", 60), case("kid", "08:45", 60, priority=("child",))),
                  weights=Weights(priority_late_minute=10))
    cases = placed(solve(problem))
    assert cases["kid"].order == 1
    assert "priority (child): starts earlier" in cases["kid"].reasons


def test_surgeon_idle_time_pulls_their_cases_together() -> None:
    problem = day((room("or1"), room("or2")),
                  (case("a", "07:15", 60, "or1", ("dr",)), case("b", "13:00", 60, "or2", ("dr",))),
                  (shared("dr", SharedKind.SURGEON),), weights=Weights(moved_case=0, moved_minute=0))
    result = solve(problem)
    assert penalty(result, "surgeon_idle") == 0
    assert result.booked_penalties[1].amount > 0


def test_a_locked_case_stays_where_it_is_booked() -> None:
    problem = day((room(),), (case("a", "07:15", 60, locked=True),
                              case("kid", "08:30", 60, priority=("child",))),
                  weights=Weights(priority_late_minute=10))
    cases = placed(solve(problem))
    assert cases["a"].start == at("07:15") and not cases["a"].moved


def test_a_moved_case_respects_the_booking_notice() -> None:
    notice = at("11:00")
    problem = day((room(),), (case("a", "07:15", 60, earliest_move=notice),
                              case("b", "07:30", 60, earliest_move=notice)))
    moved = solve(problem).moved
    assert len(moved) == 1 and moved[0].start >= notice


def test_a_case_changes_room_only_when_allowed_and_the_room_fits() -> None:
    rooms = (room("or1", closes="09:00"), room("or2"))
    cases = (case("a", "07:15", 60, "or1"), case("b", "07:30", 60, "or1", rooms=(ResourceId("or2"),)))
    kept = solve(day(rooms, cases, overtime_allowance=120 * M))
    assert {c.room_id for c in kept.cases} == {"or1"}
    moved = placed(solve(day(rooms, cases, allow_room_change=True)))
    assert moved["b"].room_id == "or2" and moved["b"].booked_room_id == "or1"


def test_an_overloaded_room_is_explained_as_infeasible() -> None:
    problem = day((room(closes="10:00"),), tuple(case(f"c{i}", "07:15", 90) for i in range(3)))
    result = sequence(problem, time_limit=5.0, seed=1)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.cases == ()
    text = "\n".join(result.explanation)
    assert text.count("room_hours: c") >= 2  # at least two of the three cannot both fit
    assert "or1: its 3 case(s) need 360 min with setup and turnover; it is open 180 min" in text


def test_the_same_day_and_seed_give_the_same_proposal() -> None:
    problem = day((room("or1"), room("or2")),
                  tuple(case(f"c{i}", f"{8 + i % 3:02d}:00", 45 + 15 * (i % 3), f"or{1 + i % 2}",
                             ("dr", "carm")) for i in range(4)),
                  (shared("dr", SharedKind.SURGEON), shared("carm", SharedKind.EQUIPMENT, tail=10)))
    first, second = solve(problem), solve(problem)
    assert first.cases == second.cases and first.objective == second.objective


def test_a_busy_day_is_sequenced_without_breaking_any_hard_rule() -> None:
    rooms = tuple(room(f"or{i}", closes="17:00") for i in (1, 2, 3))
    resources = (shared("dr1", SharedKind.SURGEON), shared("dr2", SharedKind.SURGEON),
                 shared("carm", SharedKind.EQUIPMENT, tail=15),
                 shared("anes", SharedKind.ANESTHESIA, units=2))
    cases = tuple(case(f"c{i}", f"{7 + i % 5:02d}:30", 40 + 10 * (i % 4), f"or{1 + i % 3}",
                       (f"dr{1 + i % 2}", "anes") + (("carm",) if i % 3 == 0 else ()),
                       priority=("child",) if i == 7 else ())
                  for i in range(8))
    problem = day(rooms, cases, resources)
    as_booked = {b.rule for b in breaches(problem, booked_placement(problem))}
    assert as_booked >= {"surgeon_one_room", "room_turnover"}
    result = solve(problem)  # a proposal is made only when the plain-Python rules find it breaks none
    placement = {c.booking_id: (c.room_id, (c.start - ORIGIN) // M) for c in result.cases}
    assert breaches(problem, placement) == []
    assert sum(p.cost for p in penalties(problem, placement)) == result.objective


def test_moves_are_proposed_in_an_order_the_core_can_apply_one_case_at_a_time() -> None:
    cases = (case("a", "07:15", 60), case("kid", "08:45", 60, priority=("child",)))
    problem = day((room(closes="17:00"),), cases, weights=Weights(priority_late_minute=10))
    result = solve(problem)
    plans = placed(result)
    assert plans["kid"].start == at("07:15")
    assert plans["a"].start - 15 * M >= at("08:45") + 75 * M, "a moves clear of where kid is booked"
    placement = {c.booking_id: (c.room_id, (c.start - ORIGIN) // M) for c in result.cases}
    assert order_breaches(problem, placement) == []


def test_a_swap_is_proposed_only_when_swaps_are_allowed() -> None:
    cases = (case("a", "07:15", 60), case("kid", "08:45", 60, priority=("child",)))
    problem = day((room(closes="17:00"),), cases, weights=Weights(priority_late_minute=10), allow_swaps=True)
    swapped = placed(solve(problem))
    assert swapped["kid"].start == at("07:15") and swapped["a"].start == at("08:45")
    forbidden = day((room(closes="17:00"),), cases, weights=Weights(priority_late_minute=10))
    swap = {"a": ("or1", 8 * 60 + 45), "kid": ("or1", 7 * 60 + 15)}
    assert [b.rule for b in order_breaches(forbidden, swap)] == ["apply_order"]


def test_a_swap_is_unblocked_by_parking_one_case_clear_of_the_others_destination() -> None:
    problem = day((room(),), (case("a", "07:15", 120), case("b", "09:45", 60)))
    now = booked_placement(problem)
    targets = {"a": ("or1", 8 * 60 + 30), "b": ("or1", 7 * 60 + 15)}
    minute = park(problem, now, "b", targets)
    assert minute is not None and minute >= 10 * 60 + 45 + 15  # after a's new turnover, with b's setup


def test_a_time_limit_outside_the_bounds_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        sequence(day((room(),), ()), time_limit=0)
