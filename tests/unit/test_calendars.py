"""Availability: weekly templates, exceptions that close, reduce or add, capacity over time."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from tests.factories import CASE_DAY, NEW_YORK, block, closed, extra, local

from careflow.domain.calendars import (
    Availability,
    CalendarException,
    CapacityPiece,
    ExceptionKind,
    WeeklyBlock,
    capacity_profile,
    free_spans,
)
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId
from careflow.domain.timespans import Span, to_ts

ZONE = ZoneInfo(NEW_YORK)
WEDNESDAY: Span = (to_ts(local(CASE_DAY, "00:00")), to_ts(local("2026-06-04", "00:00")))


def at(hhmm: str, day: str = CASE_DAY) -> int:
    return to_ts(local(day, hhmm))


def piece(start: str, end: str, count: int) -> CapacityPiece:
    return CapacityPiece(at(start), at(end), count)


def profile(*blocks: WeeklyBlock, exceptions: tuple[CalendarException, ...] = (),
            max_capacity: int = 5, window: Span = WEDNESDAY) -> list[CapacityPiece]:
    return capacity_profile(Availability(blocks, exceptions), window, ZONE, max_capacity)


def test_a_block_applies_only_on_its_weekdays() -> None:
    mondays = block("07:00", "19:00", weekdays=frozenset({0}))

    assert profile(mondays) == []
    assert mondays.applies_on(date(2026, 6, 1))


def test_a_block_applies_only_inside_its_validity() -> None:
    later = WeeklyBlock(frozenset(range(7)), block().start, block().end, valid_from=date(2026, 6, 4))

    assert profile(later) == []
    assert later.applies_on(date(2026, 6, 4))


def test_overlapping_shifts_add_their_headcounts() -> None:
    pieces = profile(block("07:00", "15:00", capacity=2), block("11:00", "19:00", capacity=1))

    assert pieces == [piece("07:00", "11:00", 2), piece("11:00", "15:00", 3),
                      piece("15:00", "19:00", 1)]


def test_headcount_is_clamped_to_the_resource_capacity() -> None:
    assert profile(block(capacity=2), block(capacity=2), max_capacity=3) == [piece("07:00", "19:00", 3)]


def test_a_vacation_closes_the_resource() -> None:
    away = closed(local(CASE_DAY, "10:00"), local(CASE_DAY, "12:00"))

    assert profile(block(capacity=2), exceptions=(away,)) == [
        piece("07:00", "10:00", 2), piece("12:00", "19:00", 2)]


def test_a_partial_call_out_reduces_a_pool() -> None:
    one_sick = closed(local(CASE_DAY, "07:00"), local(CASE_DAY, "13:00"), ExceptionKind.CALL_OUT,
                      capacity_delta=1)

    assert profile(block(capacity=3), exceptions=(one_sick,)) == [
        piece("07:00", "13:00", 2), piece("13:00", "19:00", 3)]


def test_a_call_out_of_more_than_are_on_duty_leaves_none() -> None:
    all_sick = closed(local(CASE_DAY, "07:00"), local(CASE_DAY, "13:00"), ExceptionKind.CALL_OUT,
                      capacity_delta=5)

    assert profile(block(capacity=3), exceptions=(all_sick,)) == [piece("13:00", "19:00", 3)]


def test_an_extra_session_adds_units_even_outside_the_template() -> None:
    evening = extra(local(CASE_DAY, "18:00"), local(CASE_DAY, "21:00"), units=1)

    assert profile(block(capacity=1), exceptions=(evening,)) == [
        piece("07:00", "18:00", 1), piece("18:00", "19:00", 2), piece("19:00", "21:00", 1)]


def test_an_exception_outside_the_window_changes_nothing() -> None:
    last_week = closed(local("2026-05-27", "00:00"), local("2026-05-28", "00:00"))

    assert profile(block(), exceptions=(last_week,)) == [piece("07:00", "19:00", 1)]


def test_only_blocks_at_the_asked_site_count() -> None:
    blocks = (block("07:00", "12:00"), block("13:00", "17:00", site_id="site_asc"))
    at_asc = capacity_profile(Availability(blocks), WEDNESDAY, ZONE, 1, SiteId("site_asc"),
                              SiteId("site_main"))
    at_main = capacity_profile(Availability(blocks), WEDNESDAY, ZONE, 1, SiteId("site_main"),
                               SiteId("site_main"))

    assert at_asc == [piece("13:00", "17:00", 1)]
    assert at_main == [piece("07:00", "12:00", 1)]


def test_free_spans_merge_pieces_that_touch() -> None:
    pieces = [piece("07:00", "11:00", 2), piece("11:00", "15:00", 1), piece("16:00", "17:00", 1)]

    assert free_spans(pieces) == [(at("07:00"), at("15:00")), (at("16:00"), at("17:00"))]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"weekdays": frozenset()}, "weekdays"),
    ({"weekdays": frozenset({7})}, "weekdays"),
    ({"capacity": 0}, "capacity"),
    ({"end": block().start}, "end"),
])
def test_a_template_block_refuses_nonsense(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"weekdays": frozenset({0}), "start": block().start,
                                 "end": block().end, **kwargs}

    with pytest.raises(InvalidRequest) as refused:
        WeeklyBlock(**values)  # type: ignore[arg-type]

    assert refused.value.field == field
