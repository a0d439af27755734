"""Occupancy: on duty, free, which lanes of a pool are free, which allocations conflict."""

from __future__ import annotations

from tests.factories import staff_pool

from careflow.domain.calendars import CapacityPiece
from careflow.domain.occupancy import Busy, Occupancy

H = 3600
# A pool of three: three on duty 07-12, one 12-15, none 15-16, two 16-19 (hours as seconds).
PIECES = [CapacityPiece(7 * H, 12 * H, 3), CapacityPiece(12 * H, 15 * H, 1),
          CapacityPiece(16 * H, 19 * H, 2)]


def pool(*busy: Busy) -> Occupancy:
    return Occupancy(staff_pool(headcount=3), (0, 24 * H), list(PIECES), list(busy))


def busy(start: float, end: float, lane: int = 0, booking: str = "bk_other") -> Busy:
    return Busy(int(start * H), int(end * H), lane, booking)


def span(start: float, end: float) -> tuple[int, int]:
    return (int(start * H), int(end * H))


def test_on_duty_needs_enough_units_throughout_the_span() -> None:
    occ = pool()

    assert occ.on_duty(span(8, 14))
    assert occ.on_duty(span(8, 11), units=3)
    assert not occ.on_duty(span(11, 13), units=2)
    assert not occ.on_duty(span(14, 17))  # a gap at 15-16
    assert not occ.on_duty(span(6, 8))


def test_the_fewest_on_duty_is_zero_across_a_gap() -> None:
    occ = pool()

    assert occ.min_capacity(span(8, 13)) == 1
    assert occ.min_capacity(span(14, 17)) == 0


def test_every_lane_under_the_headcount_is_free_when_nothing_is_booked() -> None:
    assert pool().lanes_free(span(8, 9)) == [0, 1, 2]


def test_only_lanes_on_duty_for_the_whole_span_are_free_when_headcount_drops() -> None:
    occ = pool()

    assert occ.lanes_free(span(11, 13)) == [0]
    assert occ.lanes_free(span(16, 18)) == [0, 1]
    assert occ.lanes_free(span(14, 17)) == []


def test_a_booked_lane_is_not_free() -> None:
    occ = pool(busy(8, 10, lane=0), busy(9, 11, lane=2))

    assert occ.lanes_free(span(9, 10)) == [1]
    assert occ.lanes_free(span(10, 12)) == [0, 1]
    assert occ.lanes_free(span(11.5, 13)) == [0]


def test_a_long_allocation_that_started_long_before_still_conflicts() -> None:
    occ = pool(busy(1, 20, lane=1), busy(8, 8.5), busy(9, 9.5))

    assert [b.start for b in occ.conflicts(span(10, 11))] == [1 * H]
    assert len(occ.conflicts(span(8, 9.25))) == 3


def test_allocations_that_only_touch_do_not_conflict_or_stack() -> None:
    occ = pool(busy(8, 9), busy(9, 10, lane=1))

    assert occ.conflicts(span(10, 11)) == []
    assert occ.peak_use(span(8, 10)) == 1


def test_peak_use_counts_overlapping_allocations() -> None:
    occ = pool(busy(8, 10), busy(9, 11, lane=1), busy(9.5, 12, lane=2))

    assert occ.peak_use(span(7, 12)) == 3
    assert occ.peak_use(span(10.5, 12)) == 2


def test_ignoring_a_booking_frees_its_lanes() -> None:
    occ = pool(busy(8, 10, booking="bk_mine"), busy(8, 10, lane=1))

    assert occ.without(["bk_mine"]).lanes_free(span(8, 9)) == [0, 2]


def test_a_lanes_free_time_is_its_time_on_duty_minus_its_allocations() -> None:
    occ = pool(busy(8, 9, lane=1))

    assert occ.lane_free_spans(1) == [span(7, 8), span(9, 12), span(16, 19)]
    assert occ.lane_free_spans(2) == [span(7, 12)]
