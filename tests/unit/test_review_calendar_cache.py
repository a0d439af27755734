"""find's calendar read model stays fresh across a reseed and concurrent readers.

``careflow seed`` deletes every booking and outbox row and loads again; on SQLite the
outbox ids then start over at 1. The read model tails the outbox from a low-water mark,
so after the master-data version moves it must start tailing over too, or every booking
made after the reseed is invisible to find until the ids climb past the old mark.

Readers share the model. A find whose transaction began before a booking committed sees
the database as it was; if the model has already tailed past that booking, what that
reader loads must not be kept, or the booking stays missing from the model for good.
"""

from __future__ import annotations

from datetime import timedelta

from tests.factories import CASE_DAY, consult, local, option
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.commands import BookOption
from careflow.domain.ids import PatientId, ResourceId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.timespans import to_ts
from careflow.services.booking import BookingDeps, book_option
from careflow.services.calendar_cache import CalendarCache
from careflow.services.catalogs import CatalogCache
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
DAY_START = local(CASE_DAY, "07:00")


def consult_for(patient_id: str) -> FindRequest:
    return FindRequest(ServiceId("svc_consult"), PatientId(patient_id), DAY_START,
                       DAY_START + timedelta(days=1))


def test_after_a_reseed_the_read_model_sees_new_bookings(store: FakeUnitOfWorkFactory,
                                                          clock: FixedClock) -> None:
    deps = BookingDeps(uow=store, catalogs=CatalogCache(), clock=clock, calendar=CalendarCache())
    for who in ("pt_1", "pt_2", "pt_3"):  # a few outbox rows before the reseed
        book_option(BookOption(find(consult_for(who), deps).options[0], SCHEDULER), deps)
    store.wipe()
    find(consult_for("pt_1"), deps)  # the read model reloads after the version moved

    first = find(consult_for("pt_1"), deps).options[0]
    book_option(BookOption(first, SCHEDULER), deps)  # outbox id 1 again

    again = find(consult_for("pt_2"), deps).options
    assert again
    assert all(o.start != first.start for o in again)


def test_a_reader_with_an_older_snapshot_does_not_leave_the_read_model_stale(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    cache = CalendarCache()
    window = (to_ts(DAY_START), to_ts(DAY_START + timedelta(days=1)))
    chair, exam = ResourceId("chair_1"), ResourceId("exam_1")
    with store() as uow:
        cache.busy(uow, [chair], window)
    slow = store()  # a find whose transaction began before the booking below
    book_option(BookOption(option(consult(), local(CASE_DAY, "09:00")), SCHEDULER), deps)
    with store() as uow:
        cache.busy(uow, [chair], window)  # another find: the read model tails past the booking
    with slow:
        cache.busy(slow, [exam], window)  # loads exam_1 as the old snapshot saw it

    with store() as uow:
        assert [b.start for b in cache.busy(uow, [exam], window)[exam]] == \
            [b.start for b in uow.bookings.busy([exam], window)[exam]]
        assert cache.busy(uow, [exam], window)[exam], "the 09:00 consult is in the read model"
