"""Half-open integer spans: the set operations the checks and slot finding rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careflow.domain.errors import InvalidRequest
from careflow.domain.timespans import (
    Interval,
    Span,
    covers,
    from_ts,
    intersect,
    normalize,
    overlaps,
    shrink,
    subtract,
    to_ts,
    union,
)


def test_spans_that_only_touch_do_not_overlap() -> None:
    assert not overlaps((0, 10), (10, 20))
    assert overlaps((0, 10), (9, 20))


def test_normalizing_sorts_merges_touching_spans_and_drops_empty_ones() -> None:
    assert normalize([(20, 30), (0, 10), (10, 15), (5, 5), (28, 40)]) == [(0, 15), (20, 40)]


def test_union_of_lists_is_normalized() -> None:
    assert union([(0, 10)], [(5, 12), (20, 21)]) == [(0, 12), (20, 21)]


def test_intersecting_keeps_only_the_shared_parts() -> None:
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]


def test_intersecting_spans_that_touch_gives_nothing() -> None:
    assert intersect([(0, 10)], [(10, 20)]) == []


def test_intersecting_with_nothing_gives_nothing() -> None:
    assert intersect([(0, 10)], []) == []


def test_subtracting_a_hole_splits_a_span() -> None:
    assert subtract([(0, 10)], [(3, 5)]) == [(0, 3), (5, 10)]


def test_subtracting_cuts_both_ends_and_several_holes() -> None:
    assert subtract([(0, 10), (20, 30)], [(-5, 2), (4, 6), (8, 22), (29, 40)]) == [
        (2, 4), (6, 8), (22, 29)]


def test_subtracting_a_span_that_only_touches_leaves_it_whole() -> None:
    assert subtract([(10, 20)], [(0, 10), (20, 30)]) == [(10, 20)]


def test_subtracting_a_covering_span_leaves_nothing() -> None:
    assert subtract([(10, 20), (25, 26)], [(0, 30)]) == []


def test_subtracting_nothing_leaves_everything() -> None:
    assert subtract([(0, 5)], []) == [(0, 5)]


def test_shrinking_gives_the_starts_at_which_a_case_with_buffers_fits() -> None:
    # free 08:00-12:00 (in minutes); 30 setup before, 90 case + turnover after
    assert shrink([(480, 720)], 30, 90) == [(510, 631)]


def test_shrinking_a_span_that_fits_exactly_leaves_one_start() -> None:
    assert shrink([(0, 100)], 0, 100) == [(0, 1)]


def test_shrinking_a_span_too_short_leaves_no_start() -> None:
    assert shrink([(0, 100), (200, 250)], 10, 91) == []


def test_covers_only_a_span_that_lies_inside_one_span_of_the_list() -> None:
    spans = [(0, 20), (30, 40)]
    assert covers(spans, (2, 8))
    assert covers(spans, (30, 40))
    assert covers(spans, (0, 20))
    assert not covers(spans, (15, 31))
    assert not covers(spans, (25, 35))
    assert not covers(spans, (35, 41))
    assert not covers(spans, (-5, 1))
    assert not covers([], (0, 1))


def test_an_interval_is_kept_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    interval = Interval(datetime(2026, 6, 1, 10, tzinfo=plus_two), datetime(2026, 6, 1, 11, tzinfo=UTC))

    assert interval.start == datetime(2026, 6, 1, 8, tzinfo=UTC)
    assert interval.duration == timedelta(hours=3)
    assert Interval.of_span(interval.span) == interval
    assert from_ts(to_ts(interval.start)) == interval.start


def test_an_interval_refuses_an_end_at_its_start() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)

    with pytest.raises(InvalidRequest) as refused:
        Interval(at, at)

    assert refused.value.field == "end"


# Against a brute-force model: a span list is the set of integer instants it covers.
spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=6).map(normalize)


def points(span_list: list[Span]) -> set[int]:
    return {t for lo, hi in span_list for t in range(lo, hi)}


@settings(max_examples=200, deadline=None)
@given(spans, spans)
def test_set_operations_agree_with_sets_of_instants(a: list[Span], b: list[Span]) -> None:
    assert points(intersect(a, b)) == points(a) & points(b)
    assert points(subtract(a, b)) == points(a) - points(b)
    assert points(union(a, b)) == points(a) | points(b)
    assert normalize(subtract(a, b)) == subtract(a, b)
    assert normalize(intersect(a, b)) == intersect(a, b)
