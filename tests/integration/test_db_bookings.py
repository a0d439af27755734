"""The SQL booking store: writes, reads back full bookings, and keeps stock in step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from careflow.adapters.db import SqlMasterWriter, SqlUnitOfWorkFactory, load_health_system
from careflow.domain.bookings import Allocation, Booking, BookingStatus, ItemReservation, Override
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.resources import Resource, ResourceKind, RoomProfile
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import to_ts
from careflow.domain.violations import ViolationCode
from careflow.services.ports import BookingFilter, RaceLost

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday: the clock of these tests
SITE, SERVICE = SiteId("s1"), ServiceId("svc_lap")
ROOM, SURGEON = ResourceId("or1"), ResourceId("dr1")
DAY = NOW.replace(hour=0) + timedelta(days=1)
TEN = DAY.replace(hour=15)  # 10:00 in New York


def case(bid: str, patient: str = "p0", start: datetime = TEN, minutes: int = 60,
         status: BookingStatus = BookingStatus.BOOKED, room: str = ROOM, site: str = SITE,
         expires_at: datetime | None = None) -> Booking:
    end = start + timedelta(minutes=minutes)
    allocations = (Allocation(ResourceId(room), "room", start - timedelta(minutes=15),
                              end + timedelta(minutes=15)),
                   Allocation(SURGEON, "surgeon", start, end))
    return Booking(BookingId(bid), PatientId(patient), SERVICE, SiteId(site), start, end, status,
                   allocations, (ItemReservation("mesh", 1),), created_at=NOW, created_by="u1",
                   expires_at=expires_at, rule_version="rules/1")


def same(a: Booking, b: Booking) -> bool:
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(Booking) if f.name != "events")


@pytest.fixture
def uow(engine: Engine, tiny: Callable[..., HealthSystem]) -> SqlUnitOfWorkFactory:
    load_health_system(engine, tiny(patients=4), replace=True)
    return SqlUnitOfWorkFactory(engine, lambda: NOW)


def write(uow: SqlUnitOfWorkFactory, *bookings: Booking) -> None:
    with uow(write=True) as u:
        for b in bookings:
            u.bookings.add(b)
        u.commit()


def mesh(uow: SqlUnitOfWorkFactory, site: str = SITE) -> StockLevel:
    with uow() as u:
        return u.master.stock(SiteId(site), ["mesh"])["mesh"]


def test_add_then_get_returns_the_whole_booking_and_reserves_stock(uow: SqlUnitOfWorkFactory) -> None:
    booking = case("b1")
    booking.overrides = (Override(("STOCK_BELOW_THRESHOLD",), "urgent", "u1", NOW),)
    write(uow, booking)
    with uow() as u:
        got = u.bookings.get("b1")
        assert u.bookings.get("nope") is None
    assert got is not None
    assert same(got, booking)
    assert all(a.start.tzinfo is not None and a.start.utcoffset() == timedelta(0)
               for a in got.allocations)
    assert mesh(uow).reserved == 1


def test_save_is_optimistic_on_the_version(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, case("b1", status=BookingStatus.HELD, expires_at=NOW + timedelta(minutes=10)))
    with uow(write=True) as u:
        hold = u.bookings.get("b1", lock=True)
        assert hold is not None
        hold.confirm(from_hold=True)
        u.bookings.save(hold, expected_version=1)
        u.commit()
    with uow() as u:
        got = u.bookings.get("b1")
    assert got is not None
    assert (got.status, got.version, got.expires_at) == (BookingStatus.BOOKED, 2, None)
    with uow(write=True) as u, pytest.raises(RaceLost):
        u.bookings.save(replace(got, reason="stale"), expected_version=1)


def test_release_frees_resources_and_stock_once(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, case("b1"))
    window = (to_ts(DAY), to_ts(DAY + timedelta(days=1)))
    for _ in range(2):  # a second release gives nothing back twice
        with uow(write=True) as u:
            b = u.bookings.get("b1", lock=True)
            assert b is not None
            b.cancel("patient request", "u1")
            u.bookings.release(b)
            u.commit()
    with uow() as u:
        assert u.bookings.busy([ROOM, SURGEON], window) == {}
        got = u.bookings.get("b1")
    assert got is not None
    assert len(got.allocations) == 2  # the record keeps what it held
    assert mesh(uow).reserved == 0


def test_consume_turns_the_reservation_into_use(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, case("b1"))
    with uow(write=True) as u:
        b = u.bookings.get("b1")
        assert b is not None
        u.bookings.consume(b)
        u.bookings.consume(b)
        u.commit()
    level = mesh(uow)
    assert (level.on_hand, level.reserved) == (4, 0)


def test_replace_swaps_allocations_and_keeps_one_reservation(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, case("b1"))
    later = TEN + timedelta(hours=3)
    with uow(write=True) as u:
        b = u.bookings.get("b1", lock=True)
        assert b is not None
        previous = replace(b)
        moved = case("b1", start=later)
        b.move_to(b.site_id, later, later + timedelta(hours=1), moved.allocations, b.items, "clinic")
        u.bookings.replace(b, previous)
        u.bookings.save(b, previous.version)
        u.commit()
    with uow() as u:
        got = u.bookings.get("b1")
        busy = u.bookings.busy([SURGEON], (to_ts(DAY), to_ts(DAY + timedelta(days=1))))
    assert got is not None
    assert (got.start, got.version) == (later, 2)
    assert [a.start for a in got.allocations] == [a.start for a in moved.allocations]
    assert [b.start for b in busy[SURGEON]] == [to_ts(later)]
    assert mesh(uow).reserved == 1


def test_replace_to_another_site_moves_the_reservation(uow: SqlUnitOfWorkFactory) -> None:
    with uow(write=True) as u:
        writer = SqlMasterWriter(u.connection)
        writer.upsert_site(Site(SiteId("s2"), "Annex", SiteKind.SURGERY_CENTER, "UTC",
                                Position(41.0, -75.0)))
        writer.upsert_resource(Resource(ResourceId("or2"), SiteId("s2"), ResourceKind.ROOM, "OR 2",
                                        RoomProfile("operating")))
        writer.upsert_stock(StockLevel(SiteId("s2"), "mesh", "Surgical mesh", 3))
        u.commit()
    write(uow, case("b1"))
    with uow(write=True) as u:
        b = u.bookings.get("b1", lock=True)
        assert b is not None
        previous = replace(b)
        moved = case("b1", room="or2", site="s2")
        b.move_to(SiteId("s2"), b.start, b.end, moved.allocations, b.items, "closer to home")
        u.bookings.replace(b, previous)
        u.bookings.save(b, previous.version)
        u.commit()
    assert (mesh(uow).reserved, mesh(uow, "s2").reserved) == (0, 1)
    with uow() as u:
        got = u.bookings.get("b1")
    assert got is not None
    assert (got.site_id, got.allocations[0].resource_id) == ("s2", "or2")
    with uow() as u:  # found by the rooms it holds now, not by the one it left
        assert u.bookings.find(BookingFilter(resource_id=ResourceId("or2")), 0, 5)[1] == 1
        assert u.bookings.find(BookingFilter(resource_id=ROOM), 0, 5)[1] == 0


@pytest.mark.parametrize(("lo", "hi", "hit"), [
    (timedelta(hours=-2), timedelta(minutes=-15), False),  # ends where the room's use begins
    (timedelta(hours=-2), timedelta(minutes=-14), True),
    (timedelta(minutes=75), timedelta(hours=3), False),  # starts where it ends
    (timedelta(minutes=74), timedelta(hours=3), True),
    (timedelta(minutes=10), timedelta(minutes=20), True),  # inside
    (timedelta(hours=-5), timedelta(hours=5), True),  # around
])
def test_busy_is_exact_at_the_window_edges(uow: SqlUnitOfWorkFactory, lo: timedelta,
                                           hi: timedelta, hit: bool) -> None:
    write(uow, case("b1"))
    with uow() as u:
        busy = u.bookings.busy([ROOM, ResourceId("nurses")], (to_ts(TEN + lo), to_ts(TEN + hi)))
    if hit:
        (entry,) = busy[ROOM]
        assert (entry.start, entry.end, entry.lane, entry.booking_id, entry.role) == (
            to_ts(TEN - timedelta(minutes=15)), to_ts(TEN + timedelta(minutes=75)), 0, "b1", "room")
    else:
        assert busy == {}


def test_patient_busy_lists_other_active_bookings(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, case("b1"), case("b2", start=TEN + timedelta(hours=4)))
    whole_day = (to_ts(DAY), to_ts(DAY + timedelta(days=1)))
    with uow() as u:
        both = u.bookings.patient_busy(PatientId("p0"), whole_day, None)
        others = u.bookings.patient_busy(PatientId("p0"), whole_day, "b1")
        nobody = u.bookings.patient_busy(PatientId("p1"), whole_day, None)
    assert both == [(to_ts(TEN), to_ts(TEN) + 3600), (to_ts(TEN) + 4 * 3600, to_ts(TEN) + 5 * 3600)]
    assert others == both[1:]
    assert nobody == []


def test_expired_holds_lists_only_held_bookings_past_expiry(uow: SqlUnitOfWorkFactory) -> None:
    write(uow,
          case("h_old", "p0", expires_at=NOW - timedelta(minutes=5), status=BookingStatus.HELD),
          case("h_now", "p1", TEN + timedelta(hours=2), expires_at=NOW, status=BookingStatus.HELD),
          case("h_new", "p2", TEN + timedelta(hours=4), expires_at=NOW + timedelta(minutes=1),
               status=BookingStatus.HELD),
          case("booked", "p3", TEN + timedelta(hours=6)))
    with uow(write=True) as u:
        assert [b.id for b in u.bookings.expired_holds(NOW)] == ["h_old", "h_now"]
        assert [b.id for b in u.bookings.expired_holds(NOW, limit=1)] == ["h_old"]


def test_find_filters_and_pages(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, *(case(f"b{i}", f"p{i % 2}", TEN + timedelta(hours=2 * i)) for i in range(5)))
    with uow() as u:
        page, total = u.bookings.find(BookingFilter(patient_id=PatientId("p0")), 0, 2)
        assert ([b.id for b in page], total) == (["b0", "b2"], 3)
        page, total = u.bookings.find(BookingFilter(resource_id=SURGEON,
                                                    start_from=TEN + timedelta(hours=3)), 1, 10)
        assert ([b.id for b in page], total) == (["b3", "b4"], 3)
        _, total = u.bookings.find(BookingFilter(status=BookingStatus.HELD, site_id=SiteId(SITE)), 0, 5)
        assert total == 0


def test_reserving_stock_that_is_gone_is_a_lost_race(engine: Engine,
                                                     tiny: Callable[..., HealthSystem]) -> None:
    load_health_system(engine, tiny(mesh_on_hand=1), replace=True)
    uow = SqlUnitOfWorkFactory(engine, lambda: NOW)
    write(uow, case("b1"))
    with uow(write=True) as u, pytest.raises(RaceLost) as lost:
        u.bookings.add(case("b2", "p1", TEN + timedelta(hours=3)))
    assert [v.code for v in lost.value.violations] == [ViolationCode.STOCK_INSUFFICIENT]
    assert mesh(uow).reserved == 1


def test_an_overlapping_allocation_is_a_lost_race(uow: SqlUnitOfWorkFactory) -> None:
    write(uow, case("b1"))
    with uow(write=True) as u, pytest.raises(RaceLost) as lost:
        u.bookings.add(case("b2", "p1", TEN + timedelta(minutes=30)))
    codes: list[Any] = [v.code for v in lost.value.violations]
    assert codes == [ViolationCode.RESOURCE_BOOKED]
    with uow(write=True) as u, pytest.raises(RaceLost) as lost:
        u.bookings.add(case("b3", "p0", TEN + timedelta(minutes=30), room="or1", minutes=10))
    assert lost.value.violations  # the patient or a resource: either guard may fire first
