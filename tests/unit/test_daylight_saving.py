"""Templates are wall-clock time at the site: correct on both sides of a daylight-saving change.

Spring forward (March) makes the night shift that spans it 11 hours; fall back
(October/November) makes it 13. A 07:00 start stays 07:00 local while its UTC offset moves.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.factories import BERLIN, NEW_YORK, block, consult, local, option, small_system, staff_pool
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.calendars import Availability, CapacityPiece, capacity_profile
from careflow.domain.catalog import Catalog
from careflow.domain.commands import CheckOption
from careflow.domain.timespans import Span, to_ts
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, check
from careflow.services.catalogs import CatalogCache

# (zone, day of the change, hours of the night shift that spans it)
CHANGES = [(NEW_YORK, "2026-03-08", 11), (NEW_YORK, "2026-11-01", 13),
           (BERLIN, "2026-03-29", 11), (BERLIN, "2026-10-25", 13)]
changes = pytest.mark.parametrize(("zone", "day", "night_hours"), CHANGES,
                                  ids=[f"{z}-{d}" for z, d, _ in CHANGES])
DAY_SHIFT = Availability((block("07:00", "19:00"),))
NIGHT_SHIFT = Availability((block("19:00", "07:00"),))


def around(day: str, zone: str) -> Span:
    """From the local midnight two days before ``day`` to the one two days after."""
    d = date.fromisoformat(day)
    lo = datetime.combine(d - timedelta(days=2), datetime.min.time(), tzinfo=ZoneInfo(zone))
    hi = datetime.combine(d + timedelta(days=3), datetime.min.time(), tzinfo=ZoneInfo(zone))
    return (to_ts(lo), to_ts(hi))


def local_of(piece: CapacityPiece, zone: str) -> tuple[datetime, datetime]:
    return (datetime.fromtimestamp(piece.start, ZoneInfo(zone)),
            datetime.fromtimestamp(piece.end, ZoneInfo(zone)))


@changes
def test_a_day_shift_starts_at_seven_local_on_both_sides_of_the_change(
        zone: str, day: str, night_hours: int) -> None:
    pieces = capacity_profile(DAY_SHIFT, around(day, zone), ZoneInfo(zone), 1)

    shifts = [local_of(p, zone) for p in pieces]
    assert [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in shifts] == [("07:00", "19:00")] * 5
    before, on_the_day = shifts[1][0], shifts[2][0]
    assert on_the_day.date().isoformat() == day
    assert before.utcoffset() != on_the_day.utcoffset()
    assert all(p.end - p.start == 12 * 3600 for p in pieces)


@changes
def test_the_night_shift_that_spans_the_change_is_an_hour_shorter_or_longer(
        zone: str, day: str, night_hours: int) -> None:
    pieces = capacity_profile(NIGHT_SHIFT, around(day, zone), ZoneInfo(zone), 1)

    spanning = next(p for p in pieces if local_of(p, zone)[1].date().isoformat() == day)
    start, end = local_of(spanning, zone)
    assert (start.strftime("%H:%M"), end.strftime("%H:%M")) == ("19:00", "07:00")
    assert (spanning.end - spanning.start) / 3600 == night_hours
    others = [p for p in pieces if p is not spanning and p.end - p.start > 7 * 3600]
    assert others
    assert all(p.end - p.start == 12 * 3600 for p in others)


@changes
def test_the_catalog_pages_agree_with_the_capacity_profile(zone: str, day: str, night_hours: int) -> None:
    system = small_system(zone)
    pool = staff_pool(blocks=(block("07:00", "19:00", capacity=2), block("19:00", "07:00")))
    catalog = Catalog(1, {s.id: s for s in system.sites}, {pool.id: pool}, {})
    lo, hi = around(day, zone)
    # A window that starts and ends mid-shift and crosses a 28-day page boundary.
    window = (lo - 20 * 86400 + 3 * 3600, hi + 20 * 86400 - 5 * 3600)

    paged = catalog.capacity(pool, pool.site_id, window)

    assert paged == capacity_profile(pool.availability, window, ZoneInfo(zone), pool.capacity,
                                     pool.site_id, pool.site_id)
    assert catalog.capacity(pool, pool.site_id, window) == paged  # from the cache, unchanged


@changes
def test_a_consult_on_the_day_of_the_change_is_on_duty_at_half_past_seven_not_half_past_six(
        zone: str, day: str, night_hours: int) -> None:
    system = small_system(zone)
    day_before = (date.fromisoformat(day) - timedelta(days=2)).isoformat()
    deps = BookingDeps(FakeUnitOfWorkFactory.of(system), CatalogCache(),
                       FixedClock(local(day_before, "12:00", zone)))
    scheduler = Actor("u_scheduler", frozenset({"scheduler"}))

    on_duty = check(CheckOption(option(consult(), local(day, "07:30", zone)), scheduler), deps)
    too_early = check(CheckOption(option(consult(), local(day, "06:30", zone)), scheduler), deps)

    assert on_duty == []
    assert {(v.code, v.subject) for v in too_early} == {
        (ViolationCode.RESOURCE_UNAVAILABLE, "dr_bone"), (ViolationCode.RESOURCE_UNAVAILABLE, "exam_1")}
