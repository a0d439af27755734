"""Staff reallocation, computed: spare and short coverage per pool, and moves ranked by the
short coverage they cover, then travel (same site first; freed staff first among equals)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tests.factories import block, local, site, staff_pool

from careflow.domain.calendars import capacity_profile
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.resources import Resource
from careflow.domain.sites import Position
from careflow.domain.timespans import Span, to_ts
from careflow.planning.reallocation import Plan, hours_of, plan_reallocation, travel
from careflow.planning.staff_coverage import Demand, PoolState, Timeline

DAY = "2026-06-03"
WINDOW = (to_ts(local(DAY, "00:00")), to_ts(local("2026-06-04", "00:00")))
NOW = to_ts(local(DAY, "06:00"))
# Three sites: A and B about 11 km apart, C about 200 km away
SITES = {SiteId("a"): site("a", position=Position(40.76, -73.95)),
         SiteId("b"): site("b", position=Position(40.66, -73.95)),
         SiteId("c"): site("c", position=Position(42.55, -73.95))}


def at(hhmm: str) -> int:
    return to_ts(local(DAY, hhmm))


def busy(start: str, end: str, lane: int = 0, booking: str = "bk") -> Busy:
    return Busy(at(start), at(end), lane, booking, "anesthesia")


def state(pool: Resource, busy_: list[Busy] | None = None, freed: list[Span] | None = None) -> PoolState:
    zone = SITES[pool.site_id].zone
    pieces = capacity_profile(pool.availability, WINDOW, zone, pool.capacity, pool.site_id, pool.site_id)
    return PoolState(pool, pieces, busy_ or [], freed or [])


def anesthesia(id: str, site_id: str, on_duty: int, start: str = "07:00", end: str = "17:00",
               headcount: int | None = None) -> Resource:
    return staff_pool(id, role="anesthesia", headcount=headcount or on_duty, site_id=site_id,
                      blocks=(block(start, end, capacity=on_duty),))


def short_at_b(units: int = 1) -> PoolState:
    """Pool b1 has 2 on duty but ``units`` + 2 cases booked 10:00-12:00 (a call-out came after)."""
    return state(anesthesia("b1", "b", 2, headcount=units + 2),
                 [busy("10:00", "12:00", lane) for lane in range(units + 2)])


def plan(*states: PoolState, demands: tuple[Demand, ...] = (), **kw: object) -> Plan:
    return plan_reallocation(list(states), SITES, WINDOW, NOW, demands, **kw)  # type: ignore[arg-type]


def test_spare_and_short_follow_headcount_bookings_and_demand() -> None:
    tl = Timeline(state(anesthesia("a1", "a", 3), [busy("09:00", "10:00")]), WINDOW)
    assert tl.spare((at("09:00"), at("10:00"))) == 2
    assert tl.spare((at("10:00"), at("11:00"))) == 3
    assert tl.spare((at("16:00"), at("18:00"))) == 0  # off duty from 17:00
    over = Timeline(short_at_b(2), WINDOW)
    assert over.shortages(NOW) == [((at("10:00"), at("12:00")), 2)]
    pool = anesthesia("a1", "a", 1)
    wanted = Demand(SiteId("a"), "anesthesia", local(DAY, "08:00"), local(DAY, "09:00"), 3)
    asked = PoolState(pool, state(pool).pieces, demands=[wanted])
    assert Timeline(asked, WINDOW).shortages(NOW) == [((at("08:00"), at("09:00")), 2)]


def test_short_layers_give_one_span_per_unit_short() -> None:
    pool = anesthesia("b1", "b", 1, headcount=3)
    s = state(pool, [busy("09:00", "12:00", 0), busy("09:00", "12:00", 1), busy("10:00", "11:00", 2)])
    assert Timeline(s, WINDOW).shortages(NOW) == [((at("09:00"), at("12:00")), 1),
                                                 ((at("10:00"), at("11:00")), 1)]
    assert Timeline(s, WINDOW).shortages(at("10:30")) == [((at("10:30"), at("12:00")), 1),
                                                         ((at("10:30"), at("11:00")), 1)]


def test_staff_move_for_whole_clock_hours_not_for_the_minutes_cases_overlap() -> None:
    pool = anesthesia("b1", "b", 1, headcount=2)
    s = state(pool, [busy("10:00", "12:00", 0), busy("10:20", "10:35", 1), busy("11:40", "11:50", 1)])
    hours = hours_of(WINDOW, SITES[SiteId("b")].zone)
    assert Timeline(s, WINDOW).shortages(NOW, hours) == [((at("10:00"), at("12:00")), 1)]
    assert Timeline(s, WINDOW).shortages(at("10:30"), hours) == [((at("10:30"), at("12:00")), 1)]
    [move] = plan(state(anesthesia("a1", "a", 2)), s).proposals
    assert (move.move.start, move.move.end, move.move.leave_at) == (local(DAY, "10:00"), local(DAY, "12:00"),
                                                                    local(DAY, "09:40"))


def test_a_move_covers_the_shortage_from_the_spare_pool_leaving_in_time_to_travel() -> None:
    result = plan(state(anesthesia("a1", "a", 3), [busy("09:00", "10:00")]), short_at_b())
    [proposal] = result.proposals
    km, minutes = travel(SITES[SiteId("a")], SITES[SiteId("b")])
    assert 10 < km < 12 and minutes == 20
    move = proposal.move
    assert (move.source, move.target, move.units) == ("a1", "b1", 1)
    assert (move.start, move.end) == (local(DAY, "10:00"), local(DAY, "12:00"))
    assert move.leave_at == local(DAY, "09:40")
    assert proposal.covers_unit_hours == 2.0
    assert any("short of 1 anesthesia 10:00-12:00" in r for r in proposal.reasons)
    [shortage] = result.shortages
    assert (shortage.units, shortage.covered) == (1, 1)
    assert "more booked than on duty" in shortage.causes[0]


def test_same_site_first_then_the_nearest_then_freed_staff() -> None:
    far = state(anesthesia("c1", "c", 4))
    near = state(anesthesia("a1", "a", 4))
    same = state(anesthesia("b2", "b", 1))
    got = plan(far, near, same, short_at_b(2))
    assert [(p.move.source, p.move.units) for p in got.proposals] == [("b2", 1), ("a1", 1)]
    assert got.proposals[0].travel_km == 0 and got.proposals[0].travel_minutes == 0
    # Among equally near sources, the one whose spare staff a cancellation freed
    twin = state(anesthesia("a0", "a", 4))
    freed = state(anesthesia("a2", "a", 4), freed=[(at("08:00"), at("13:00"))])
    got = plan(twin, freed, short_at_b())
    assert [p.move.source for p in got.proposals] == ["a2"]
    assert got.proposals[0].freed_units == 1
    assert any("freed by cancellations" in r for r in got.proposals[0].reasons)


def test_ranked_by_short_coverage_covered_then_travel() -> None:
    long_short = state(anesthesia("b1", "b", 1, headcount=2),
                       [busy("08:00", "14:00", 0), busy("08:00", "14:00", 1)])
    brief_short = state(anesthesia("a1", "a", 1, headcount=2),
                        [busy("10:00", "11:00", 0), busy("10:00", "11:00", 1)])
    source = state(anesthesia("a9", "a", 5))
    got = plan(brief_short, long_short, source)
    assert [(p.move.target, p.covers_unit_hours) for p in got.proposals] == [("b1", 6.0), ("a1", 1.0)]


def test_spare_staff_are_promised_once() -> None:
    one_spare = state(anesthesia("a1", "a", 1))
    first = state(anesthesia("b1", "b", 1, headcount=2),
                  [busy("09:00", "12:00", 0), busy("09:00", "12:00", 1)])
    second = state(anesthesia("c9", "c", 1, headcount=2),  # overlapping shortage, also reachable
                   [busy("10:00", "11:00", 0), busy("10:00", "11:00", 1)])
    got = plan(one_spare, first, second, max_travel_minutes=600)
    assert [(p.move.source, p.move.target) for p in got.proposals] == [("a1", "b1")]
    uncovered = [s for s in got.shortages if s.covered < s.units]
    assert [s.pool_id for s in uncovered] == ["c9"]


def test_staff_hours_and_travel_limit_the_sources() -> None:
    leaves_early = state(anesthesia("a1", "a", 3, end="11:00"))  # shift ends before the need does
    starts_late = state(anesthesia("a2", "a", 3, start="09:50"))  # not on duty when it must leave
    too_far = state(anesthesia("c1", "c", 3, start="04:00"))  # ~200 km: 5 hours away
    assert plan(too_far, short_at_b()).proposals == []
    far = plan(too_far, short_at_b(), max_travel_minutes=600)  # setting off now, there after 11:00
    _, minutes = travel(SITES[SiteId("c")], SITES[SiteId("b")])
    assert [(p.move.source, p.move.leave_at, p.move.start) for p in far.proposals] == [
        ("c1", local(DAY, "06:00"), local(DAY, "06:00") + timedelta(minutes=minutes))]
    # neither is on duty for all of 09:40-12:00; each covers the hour it can
    got = plan(leaves_early, starts_late, too_far, short_at_b())
    assert sorted((p.move.source, p.move.start, p.move.end) for p in got.proposals) == [
        ("a1", local(DAY, "10:00"), local(DAY, "11:00")), ("a2", local(DAY, "11:00"), local(DAY, "12:00"))]
    [shortage] = got.shortages
    assert (shortage.covered, shortage.covered_unit_hours) == (0, 2.0)


def test_hour_by_hour_moves_of_the_same_staff_are_one_move() -> None:
    # a1 is busy 11:30-12:00 at home, so nobody is spare for all of 08:00-14:00: a1 covers
    # 08:00-11:00 (one move, not three), then a2 11:00-14:00 (staying on needs no travel)
    b1 = state(anesthesia("b1", "b", 1, headcount=2), [busy("08:00", "14:00", 0), busy("08:00", "14:00", 1)])
    a1 = state(anesthesia("a1", "a", 1), [busy("11:30", "12:00")])
    a2 = state(anesthesia("a2", "a", 1, start="10:00"))
    got = plan(a1, a2, b1)
    moves = sorted((p.move.source, p.move.start, p.move.end) for p in got.proposals)
    assert moves == [("a1", local(DAY, "08:00"), local(DAY, "11:00")),
                     ("a2", local(DAY, "11:00"), local(DAY, "14:00"))]
    assert {p.move.leave_at for p in got.proposals} == {local(DAY, "07:40"), local(DAY, "10:40")}
    assert [p.covers_unit_hours for p in got.proposals] == [3.0, 3.0]
    assert got.shortages[0].covered_unit_hours == 6.0 and got.shortages[0].covered == 0


def test_interpreters_move_only_to_a_pool_of_their_language() -> None:
    es_short = state(staff_pool("b_es", role="interpreter", headcount=2, languages=frozenset({"es"}),
                                site_id="b", blocks=(block("07:00", "17:00", capacity=1),)),
                     [Busy(at("10:00"), at("11:00"), lane, "bk", "interpreter") for lane in range(2)])
    fr = state(staff_pool("a_fr", role="interpreter", headcount=2, languages=frozenset({"fr"}), site_id="a"))
    es_fr = state(staff_pool("a_esfr", role="interpreter", headcount=2, languages=frozenset({"es", "fr"}),
                             site_id="a"))
    assert [p.move.source for p in plan(fr, es_fr, es_short).proposals] == ["a_esfr"]


def test_emergency_demand_is_routed_to_the_sites_pool_or_reported_unroutable() -> None:
    a1 = state(anesthesia("a1", "a", 2))
    b1 = state(anesthesia("b1", "b", 1))
    wanted = Demand(SiteId("b"), "anesthesia", local(DAY, "13:00"), local(DAY, "15:00"), 2,
                    reason="trauma")
    nowhere = Demand(SiteId("c"), "anesthesia", local(DAY, "13:00"), local(DAY, "15:00"))
    got = plan(a1, b1, demands=(wanted, nowhere))
    assert [(p.move.source, p.move.target, p.move.units) for p in got.proposals] == [("a1", "b1", 1)]
    routed = next(s for s in got.shortages if s.pool_id == "b1")
    assert routed.units == 1 and any("emergency: 2 anesthesia asked for (trauma)" in c for c in routed.causes)
    unroutable = next(s for s in got.shortages if s.pool_id is None)
    assert unroutable.site_id == "c" and "no anesthesia pool at c" in unroutable.causes[0]


def test_only_the_future_is_short() -> None:
    got = plan_reallocation([state(anesthesia("a1", "a", 3)), short_at_b()], SITES, WINDOW, at("11:00"))
    # the shortage is from 11:00; staff who set off now arrive 20 minutes later
    assert [(p.move.leave_at, p.move.start, p.move.end) for p in got.proposals] == [
        (local(DAY, "11:00"), local(DAY, "11:20"), local(DAY, "12:00"))]
    assert plan_reallocation([state(anesthesia("a1", "a", 3)), short_at_b()], SITES, WINDOW,
                             at("12:00")).proposals == []


def test_hourly_rows_per_site_and_pool_type() -> None:
    got = plan(state(anesthesia("a1", "a", 3), [busy("09:00", "10:00")],
                     freed=[(at("09:00"), at("10:00"))]),
               state(anesthesia("a2", "a", 1)), short_at_b(), targets=frozenset({SiteId("a")}))
    rows = {(r.site_id, r.hour): r for r in got.rows}
    nine = rows[(SiteId("a"), local(DAY, "09:00"))]
    assert (nine.on_duty, nine.booked, nine.short, nine.surplus, nine.freed) == (4, 1, 0, 3, 1)
    assert nine.pool_type == "anesthesia"
    assert {r.site_id for r in got.rows} == {"a"}  # only the target site's rows
    assert local(DAY, "06:00") not in {r.hour for r in got.rows}  # nobody on duty, nothing booked
    assert got.proposals == []  # b's shortage is outside the targets


def test_hours_follow_the_local_clock_across_daylight_saving() -> None:
    zone = SITES[SiteId("a")].zone
    spring = (to_ts(local("2026-03-08", "00:00")), to_ts(local("2026-03-09", "00:00")))
    assert len(hours_of(spring, zone)) == 23
    assert all(b - a == 3600 for a, b in hours_of(spring, zone))
    autumn = (to_ts(local("2026-11-01", "00:00")), to_ts(local("2026-11-02", "00:00")))
    assert len(hours_of(autumn, zone)) == 25
    assert all(b - a == 3600 for a, b in hours_of(autumn, zone))


def test_a_demand_is_refused_when_malformed() -> None:
    start = local(DAY, "10:00")
    with pytest.raises(InvalidRequest, match="end"):
        Demand(SiteId("a"), "anesthesia", start, start)
    with pytest.raises(InvalidRequest, match="units"):
        Demand(SiteId("a"), "anesthesia", start, start + timedelta(hours=1), 0)
    with pytest.raises(InvalidRequest, match="24 hours"):
        Demand(SiteId("a"), "anesthesia", start, start + timedelta(hours=25))
    with pytest.raises(InvalidRequest, match="start"):
        Demand(SiteId("a"), "anesthesia", datetime(2026, 6, 3, 10), start)


def test_move_ids_are_stable() -> None:
    a = plan(state(anesthesia("a1", "a", 3)), short_at_b()).proposals[0].move
    b = plan(state(anesthesia("a1", "a", 3)), short_at_b()).proposals[0].move
    assert a.id == b.id and a.id.startswith("mv_")
