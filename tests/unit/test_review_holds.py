"""Booking a hold books what the check approved: the current preference card's intervals.

A hold keeps its allocations while it lasts; when the card changes before the hold is
booked (the surgeon asks for 45 minutes, not 30), the check runs on the new length, so
the booking must hold the resources for the new length too, or the extra quarter hour
is left unguarded for another case.
"""

from __future__ import annotations

from datetime import timedelta

from tests.factories import CASE_DAY, consult, local, option
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import BookHold, CheckOption, PlaceHold
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_hold, check, place_hold

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
NINE = local(CASE_DAY, "09:00")


def test_a_hold_booked_after_the_card_grew_holds_the_new_length(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    hold = place_hold(PlaceHold(option(consult(), NINE), SCHEDULER), deps)
    store.put(consult(duration_minutes=45))

    booked = book_hold(BookHold(hold.id, SCHEDULER), deps)

    assert booked.end == NINE + timedelta(minutes=45)
    assert {(a.role, a.end) for a in store.booking(booked.id).allocations} == {
        ("room", NINE + timedelta(minutes=45)), ("clinician", NINE + timedelta(minutes=45))}
    later = check(CheckOption(option(consult(), NINE + timedelta(minutes=30), patient_id="pt_2"),
                              SCHEDULER), deps)
    assert ViolationCode.RESOURCE_BOOKED in {v.code for v in later}


def test_a_hold_booked_with_an_unchanged_card_keeps_its_allocations(deps: BookingDeps,
                                                                      store: FakeUnitOfWorkFactory) -> None:
    hold = place_hold(PlaceHold(option(consult(), NINE), SCHEDULER), deps)

    booked = book_hold(BookHold(hold.id, SCHEDULER), deps)

    assert store.booking(booked.id).allocations == hold.allocations
    assert store.event_names(booked.id) == ["HoldPlaced", "BookingConfirmed"]
