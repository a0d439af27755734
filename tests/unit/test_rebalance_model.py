"""The rebalancing model, rule by rule: ``planning.rebalance``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careflow.domain.bookings import Allocation, Booking, BookingStatus
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import Option
from careflow.planning.rebalance import (
    Displaced,
    Impact,
    Move,
    RebalanceProblem,
    Use,
    impact_of,
    solve,
)

H = 3600
T0 = int(datetime(2030, 3, 4, 14, 0, tzinfo=UTC).timestamp())


def use(resource: str, hour: float, hours: float = 1.0, units: int = 1) -> Use:
    return Use(resource, T0 + int(hour * H), T0 + int((hour + hours) * H), units)


def move(key: str, *uses: Use, shift: int = 0, **impact: object) -> Move:
    return Move(key, uses, Impact(shift_minutes=shift, **impact))  # type: ignore[arg-type]


def booking(booking_id: str, *moves: Move, priority: int = 1, held: tuple[Use, ...] = ()) -> Displaced:
    return Displaced(booking_id, moves, held, priority)


def plan(*displaced: Displaced, capacity: dict[str, int] | None = None,
         taken: tuple[Use, ...] = ()) -> dict[str, str | None]:
    result = solve(RebalanceProblem(displaced, capacity or {}, taken))
    assert result.status == "optimal", result
    return {c.booking_id: c.move_key for c in result.choices}


def greedy(*displaced: Displaced) -> dict[str, str | None]:
    """One by one, each booking's least disruptive move that still fits (capacity one)."""
    taken: list[Use] = []
    out: dict[str, str | None] = {}
    for d in displaced:
        fits = [m for m in sorted(d.moves, key=lambda m: abs(m.impact.shift_minutes))
                if not any(u.resource_id == t.resource_id and u.start < t.end and t.start < u.end
                           for u in m.uses for t in taken)]
        out[d.booking_id] = fits[0].key if fits else None
        taken.extend(fits[0].uses if fits else ())
    return out


def test_a_booking_takes_at_most_one_move_the_least_disruptive() -> None:
    assert plan(booking("a", move("late", use("room_1", 2), shift=120),
                        move("soon", use("room_2", 0.5), shift=30))) == {"a": "soon"}


def test_two_moves_on_one_room_at_once_cannot_both_be_taken() -> None:
    result = solve(RebalanceProblem((booking("a", move("a1", use("room_1", 0))),
                                     booking("b", move("b1", use("room_1", 0.5)), priority=2))))
    assert {c.booking_id: c.move_key for c in result.choices} == {"a": None, "b": "b1"}
    unplaced = next(c for c in result.choices if c.booking_id == "a")
    assert "overfill" in unplaced.reason


def test_back_to_back_moves_share_a_room() -> None:
    assert plan(booking("a", move("a1", use("room_1", 0))),
                booking("b", move("b1", use("room_1", 1)))) == {"a": "a1", "b": "b1"}


def test_a_pool_of_two_takes_two_overlapping_moves_but_not_three() -> None:
    three = [booking(x, move(f"{x}1", use("nurses", 0))) for x in "abc"]
    placed = plan(*three, capacity={"nurses": 2})
    assert sum(1 for key in placed.values() if key is not None) == 2


def test_capacity_that_stays_taken_leaves_less_for_the_moves() -> None:
    two = [booking(x, move(f"{x}1", use("nurses", 0))) for x in "ab"]
    placed = plan(*two, capacity={"nurses": 2}, taken=(use("nurses", 0.5, 2),))
    assert sum(1 for key in placed.values() if key is not None) == 1
    assert plan(booking("a", move("a1", use("room_1", 0))), taken=(use("room_1", 0.9),)) == {"a": None}


def test_a_booking_keeps_what_it_holds_until_it_moves() -> None:
    # b still holds room_1 at 10:00; a may take it only if b moves away
    b_stays = booking("b", held=(use("room_1", 0),))
    assert plan(booking("a", move("a1", use("room_1", 0))), b_stays) == {"a": None, "b": None}
    b_moves = booking("b", move("b1", use("room_2", 0), shift=0), held=(use("room_1", 0),))
    assert plan(booking("a", move("a1", use("room_1", 0))), b_moves) == {"a": "a1", "b": "b1"}


def test_two_bookings_cannot_trade_places_but_can_follow_each_other() -> None:
    # the store applies one move at a time: a swap would need each place free first
    swap = (booking("a", move("a_to_b", use("room_1", 1)), held=(use("room_1", 0),)),
            booking("b", move("b_to_a", use("room_1", 0)), held=(use("room_1", 1),)))
    assert plan(*swap) == {"a": None, "b": None}
    chain = (booking("a", move("a_to_b", use("room_1", 1)), held=(use("room_1", 0),)),
             booking("b", move("b_away", use("room_2", 1)), held=(use("room_1", 1),)))
    result = solve(RebalanceProblem(chain))
    assert [(c.booking_id, c.move_key) for c in result.in_order()] == [("b", "b_away"), ("a", "a_to_b")]


def test_an_urgent_booking_is_placed_before_a_routine_one() -> None:
    routine = booking("routine", move("r1", use("room_1", 0)), priority=1)
    urgent = booking("urgent", move("u1", use("room_1", 0), shift=240), priority=3)
    assert plan(routine, urgent) == {"routine": None, "urgent": "u1"}


def test_placing_a_booking_beats_any_impact_of_its_move() -> None:
    far = move("far", use("room_9", 30), shift=30 * 60, site_changed=True, resources_changed=3,
               clinician_changed=True)
    assert plan(booking("a", far)) == {"a": "far"}


def test_each_impact_rule_penalizes_its_change() -> None:
    assert plan(booking("a", move("later", use("r", 1), shift=60),
                        move("sooner", use("r", 0), shift=-30))) == {"a": "sooner"}
    assert plan(booking("a", move("away", use("r", 0), site_changed=True),
                        move("wait", use("r", 2), shift=120))) == {"a": "wait"}
    assert plan(booking("a", move("two", use("r", 0), resources_changed=2),
                        move("one", use("r", 0), resources_changed=1))) == {"a": "one"}
    assert plan(booking("a", move("new_doctor", use("r", 0), resources_changed=1, clinician_changed=True),
                        move("new_room", use("r", 0), resources_changed=1))) == {"a": "new_room"}
    assert plan(booking("a", move("worse", use("r", 0), rank_points=40),
                        move("better", use("r", 0), rank_points=10))) == {"a": "better"}


def test_greedy_one_by_one_strands_a_booking_the_joint_plan_places() -> None:
    # a's cheapest move takes room_1, the only room b can use; room_2 costs a 15 more minutes
    a = booking("a", move("a_room_1", use("room_1", 0), shift=15),
                move("a_room_2", use("room_2", 0), shift=30))
    b = booking("b", move("b_room_1", use("room_1", 0), shift=15))
    assert greedy(a, b) == {"a": "a_room_1", "b": None}
    assert plan(a, b) == {"a": "a_room_2", "b": "b_room_1"}


def test_the_result_explains_itself_and_is_repeatable() -> None:
    problem = RebalanceProblem((booking("a", move("a1", use("room_1", 0), shift=45, resources_changed=1)),
                                booking("b", move("b1", use("room_1", 0.5))), booking("c")))
    first, again = solve(problem), solve(problem)
    assert first.status == "optimal" and first.choices == again.choices and first.objective == again.objective
    assert first.objective == sum(first.penalties.values())
    assert first.penalties["unplaced"] > 0, "one of a and b, and c, stay where they are"
    reasons = {c.booking_id: c.reason for c in first.choices}
    assert reasons["c"] == "no move was offered"
    assert "joint plan optimal" in first.summary()


def test_the_impact_of_an_option_reads_what_changes_for_the_patient() -> None:
    start = datetime(2030, 3, 4, 14, 0, tzinfo=UTC)
    allocations = (Allocation(ResourceId("dr_a"), "clinician", start, start + timedelta(hours=1)),
                   Allocation(ResourceId("exam_1"), "room", start, start + timedelta(hours=1)))
    current = Booking(BookingId("b1"), PatientId("p1"), ServiceId("s1"), SiteId("h1"), start,
                      start + timedelta(hours=1), BookingStatus.BOOKED, allocations)
    later = start + timedelta(minutes=45)
    option = Option(ServiceId("s1"), PatientId("p1"), SiteId("h1"), later, later + timedelta(hours=1),
                    (Allocation(ResourceId("dr_b"), "clinician", later, later + timedelta(hours=1)),
                     Allocation(ResourceId("exam_1"), "room", later, later + timedelta(hours=1))), score=12.5)
    assert impact_of(current, option, frozenset({"clinician"})) == Impact(45, False, 1, True, 12.5)
