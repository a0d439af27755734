"""The fakes keep the promises of the ports they stand in for."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from tests.factories import CASE_DAY, NOW, knee_replacement, local, option, small_system, stock
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.bookings import Booking, BookingStatus, ItemReservation
from careflow.domain.errors import InvalidRequest
from careflow.domain.events import HoldExpired
from careflow.domain.ids import BookingId, ResourceId
from careflow.domain.timespans import to_ts
from careflow.services.ports import AuditEntry, BookingFilter, RaceLost

FRIDAY = "2026-06-05"


def a_booking(id: str = "bk_1", status: BookingStatus = BookingStatus.BOOKED,
              patient_id: str = "pt_1", day: str = CASE_DAY) -> Booking:
    opt = option(knee_replacement(), local(day, "08:00"), patient_id=patient_id)
    return Booking(BookingId(id), opt.patient_id, opt.service_id, opt.site_id, opt.start, opt.end,
                   status, opt.allocations, (ItemReservation("knee_implant", 1),),
                   expires_at=NOW + timedelta(minutes=10))


@pytest.fixture
def fake() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory.of(small_system())


def test_writes_are_invisible_until_committed_and_gone_without_a_commit(
        fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking())
        uow.publish([HoldExpired("bk_1")])
        uow.audit(AuditEntry("u1", "book", "booking", "bk_1", "success"))
        assert fake(write=False).bookings.get("bk_1") is None

    assert fake.committed.bookings == {}
    assert (fake.events, fake.audit) == ([], [])
    assert fake.stock("site_main", "knee_implant").reserved == 0


def test_a_commit_makes_the_booking_its_stock_and_its_outbox_visible(
        fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking())
        uow.publish([HoldExpired("bk_1")])
        uow.commit()

    assert fake(write=False).bookings.get("bk_1") is not None
    assert fake.stock("site_main", "knee_implant").reserved == 1
    assert fake.events == [HoldExpired("bk_1")]


def test_adding_more_than_the_available_stock_loses_the_race(fake: FakeUnitOfWorkFactory) -> None:
    fake.put(stock(on_hand=1, reserved=1))

    with fake(write=True) as uow, pytest.raises(RaceLost):
        uow.bookings.add(a_booking())


def test_adding_onto_a_taken_lane_loses_the_race(fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking("bk_1"))
        with pytest.raises(RaceLost):
            uow.bookings.add(a_booking("bk_2", patient_id="pt_2", day=CASE_DAY))


def test_adding_a_second_booking_for_the_patient_at_the_same_time_loses_the_race(
        fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking("bk_1"))
        elsewhere = replace(a_booking("bk_2"), allocations=(), items=())
        with pytest.raises(RaceLost):
            uow.bookings.add(elsewhere)


def test_a_booking_cannot_hold_one_lane_twice_at_once(fake: FakeUnitOfWorkFactory) -> None:
    twice = a_booking()
    twice = replace(twice, allocations=twice.allocations + twice.allocations[:1])

    with fake(write=True) as uow, pytest.raises(RaceLost):
        uow.bookings.add(twice)


def test_saving_a_stale_version_loses_the_race(fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking())
        first, second = uow.bookings.get("bk_1"), uow.bookings.get("bk_1")
        assert first is not None
        assert second is not None
        first.cancel("first writer", "u1")
        uow.bookings.save(first, 1)
        second.cancel("second writer", "u2")
        with pytest.raises(RaceLost):
            uow.bookings.save(second, 1)


def test_busy_lists_only_active_allocations_overlapping_the_window(fake: FakeUnitOfWorkFactory) -> None:
    room = ResourceId("or_1")
    with fake(write=True) as uow:
        uow.bookings.add(a_booking("bk_1"))
        uow.bookings.add(a_booking("bk_2", patient_id="pt_2", day=FRIDAY))
        cancelled = uow.bookings.get("bk_2")
        assert cancelled is not None
        cancelled.cancel("test", "u1")
        uow.bookings.save(cancelled, 1)
        morning = (to_ts(local(CASE_DAY, "07:00")), to_ts(local(CASE_DAY, "09:00")))
        friday = (to_ts(local(FRIDAY, "07:00")), to_ts(local(FRIDAY, "16:00")))

        assert [b.booking_id for b in uow.bookings.busy([room], morning)[room]] == ["bk_1"]
        assert uow.bookings.busy([room], friday) == {}


def test_release_and_consume_settle_stock_once(fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        booking = a_booking()
        uow.bookings.add(booking)
        uow.bookings.consume(booking)
        uow.bookings.release(booking)
        uow.commit()

    level = fake.stock("site_main", "knee_implant")
    assert (level.on_hand, level.reserved) == (4, 0)


def test_expired_holds_are_the_holds_past_their_time(fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking("bk_1", BookingStatus.HELD))
        uow.bookings.add(a_booking("bk_2", BookingStatus.BOOKED, "pt_2", FRIDAY))

        assert uow.bookings.expired_holds(NOW) == []
        assert [b.id for b in uow.bookings.expired_holds(NOW + timedelta(minutes=10))] == ["bk_1"]


def test_find_filters_and_pages(fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking("bk_1"))
        uow.bookings.add(a_booking("bk_2", patient_id="pt_2", day=FRIDAY))

        page, total = uow.bookings.find(BookingFilter(site_id=None), 1, 1)
        mine, _ = uow.bookings.find(BookingFilter(patient_id=a_booking().patient_id), 0, 10)

    assert ([b.id for b in page], total) == (["bk_2"], 2)
    assert [b.id for b in mine] == ["bk_1"]


def test_changing_master_data_moves_its_version(fake: FakeUnitOfWorkFactory) -> None:
    before = fake(write=False).master.version()

    fake.put(stock(on_hand=9))

    assert fake(write=False).master.version() == before + 1
    assert fake(write=False).master.load_catalog().version == before + 1


def test_the_clock_stands_still_until_told_and_wants_aware_time() -> None:
    clock = FixedClock(NOW)

    assert clock() == NOW
    assert clock.advance(minutes=5) == clock() == NOW + timedelta(minutes=5)
    with pytest.raises(InvalidRequest):
        clock.set(NOW.replace(tzinfo=None))


def test_the_change_feed_lists_outbox_events_after_a_position(fake: FakeUnitOfWorkFactory) -> None:
    with fake(write=True) as uow:
        uow.bookings.add(a_booking())
        uow.publish([HoldExpired("bk_1"), HoldExpired("bk_2")])
        uow.commit()

    with fake() as uow:
        assert uow.bookings.change_head() == 2
        assert uow.bookings.changes_since(1) == [(2, "bk_2")]
        assert {rid for rid, _ in uow.bookings.allocations_of(["bk_1"])} == set(a_booking().resource_ids)
