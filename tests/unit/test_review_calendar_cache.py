"""find's calendar read model stays fresh across a reseed of the database.

``careflow seed`` deletes every booking and outbox row and loads again; on SQLite the
outbox ids then start over at 1. The read model tails the outbox from a low-water mark,
so after the master-data version moves it must start tailing over too, or every booking
made after the reseed is invisible to find until the ids climb past the old mark.
"""

from __future__ import annotations

from datetime import timedelta

from tests.factories import CASE_DAY, local
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.commands import BookOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
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
