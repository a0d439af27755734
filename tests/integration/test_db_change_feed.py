"""The outbox as a change feed (what the find calendar cache tails), on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from careflow.adapters.db import SqlUnitOfWorkFactory, load_health_system
from careflow.domain.bookings import Allocation, Booking, BookingStatus
from careflow.domain.events import BookingCancelled, BookingConfirmed
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.timespans import to_ts

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
T = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)
H = timedelta(hours=1)


def case(bid: str, patient: str, start: datetime) -> Booking:
    return Booking(BookingId(bid), PatientId(patient), ServiceId("svc_lap"), SiteId("s1"), start,
                   start + H, BookingStatus.BOOKED,
                   (Allocation(ResourceId("or1"), "room", start, start + H),
                    Allocation(ResourceId("nurses"), "nurse", start, start + H, lane=2)))


def test_the_feed_lists_outbox_rows_after_a_mark_and_their_live_allocations(
        engine: Engine, tiny: Callable[..., HealthSystem]) -> None:
    load_health_system(engine, tiny(patients=3), replace=True)
    uow = SqlUnitOfWorkFactory(engine, lambda: NOW)
    with uow() as u:
        assert u.bookings.change_head() == 0
        assert u.bookings.changes_since(0) == []
    with uow(write=True) as u:
        u.bookings.add(case("b1", "p0", T))
        u.bookings.add(case("b2", "p1", T + 2 * H))
        u.publish([BookingConfirmed("b1"), BookingConfirmed("b2")])
        u.commit()
    with uow(write=True) as u:
        cancelled = u.bookings.get("b2")
        assert cancelled is not None
        u.bookings.release(cancelled)
        u.publish([BookingCancelled("b2", "asked", "u1")])
        u.commit()
    with uow() as u:
        head = u.bookings.change_head()
        feed = u.bookings.changes_since(0)
        assert [agg for _, agg in feed] == ["b1", "b2", "b2"]
        assert [i for i, _ in feed] == sorted(i for i, _ in feed)
        assert head == feed[-1][0]
        assert u.bookings.changes_since(feed[0][0], limit=1) == [feed[1]]
        assert u.bookings.changes_since(head) == []
        live = sorted(u.bookings.allocations_of(["b1", "b2", "nope"]), key=lambda x: x[0])
        assert u.bookings.allocations_of([]) == []
    start = to_ts(T)
    assert live == [(ResourceId("nurses"), Busy(start, start + 3600, 2, "b1", "nurse")),
                    (ResourceId("or1"), Busy(start, start + 3600, 0, "b1", "room"))]
