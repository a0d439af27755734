"""Holds: booking one books what the check approved; expired ones never stand in the way.

A hold keeps its allocations while it lasts; when the card changes before the hold is
booked (the surgeon asks for 45 minutes, not 30), the check runs on the new length, so
the booking must hold the resources for the new length too, or the extra quarter hour
is left unguarded for another case.

Expired holds are released by a write that finds them in its way, however many there are.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.factories import CASE_DAY, clinician, consult, local, option
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.commands import BookHold, BookOption, CheckOption, PlaceHold
from careflow.domain.resources import ContractLimits
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_hold, book_option, check, place_hold

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


def test_booking_releases_an_expired_hold_in_the_way_however_many_have_expired(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    store.put(clinician("dr_bone", contract=ContractLimits(max_hours_week=100, overtime_threshold_week=100)))
    starts = [local(day, "07:00") + timedelta(minutes=30 * i)
              for day in ("2026-06-03", "2026-06-04", "2026-06-05", "2026-06-06", "2026-06-07")
              for i in range(24)]
    deps = replace(deps, max_open_holds=len(starts))  # one patient holds them all
    for start in starts[:100]:  # a hundred holds nobody booked (no server sweeping them)
        place_hold(PlaceHold(option(consult(), start), SCHEDULER), deps)
    clock.advance(minutes=1)
    in_the_way = place_hold(PlaceHold(option(consult(), starts[100]), SCHEDULER), deps)
    clock.advance(minutes=11)

    booked = book_option(BookOption(option(consult(), starts[100], patient_id="pt_2"), SCHEDULER), deps)

    assert booked.start == in_the_way.start
