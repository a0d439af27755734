"""A booking's life: hold, book, reschedule, arrive, fulfil, cancel, no-show, expire.

Every step writes all of its allocations and stock or none, publishes its event and
writes an audit entry, in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from tests.factories import (
    CASE_DAY,
    clinician,
    closed,
    consult,
    knee_replacement,
    local,
    option,
)
from tests.fakes import FakeUnitOfWorkFactory, FixedClock, State

from careflow.domain.access import SYSTEM, Actor
from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.calendars import ExceptionKind
from careflow.domain.commands import (
    BookHold,
    BookOption,
    CancelBooking,
    CheckOption,
    MarkArrived,
    MarkFulfilled,
    MarkNoShow,
    PlaceHold,
    RescheduleBooking,
)
from careflow.domain.errors import Conflict, InvalidRequest, InvalidTransition, NotFound, PermissionDenied
from careflow.domain.events import BookingCancelled, BookingConfirmed, BookingRescheduled, HoldPlaced
from careflow.domain.options import Option
from careflow.domain.preference_cards import BookingWindow
from careflow.domain.violations import ViolationCode
from careflow.services.booking import (
    BookingDeps,
    arrive,
    book_hold,
    book_option,
    cancel,
    check,
    fulfil,
    mark_no_show,
    place_hold,
    reschedule,
    sweep_expired_holds,
)

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
KNEE_AT_8 = local(CASE_DAY, "08:00")


def book(deps: BookingDeps, opt: Option) -> Booking:
    return book_option(BookOption(opt, SCHEDULER), deps)


def hold(deps: BookingDeps, opt: Option, minutes: int | None = None) -> Booking:
    return place_hold(PlaceHold(opt, SCHEDULER, minutes), deps)


def implants(store: FakeUnitOfWorkFactory) -> tuple[int, int]:
    level = store.stock("site_main", "knee_implant")
    return level.on_hand, level.reserved


def test_a_hold_reserves_every_resource_and_the_implant_until_it_expires(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    held = hold(deps, option(knee_replacement(), KNEE_AT_8))

    stored = store.booking(held.id)
    assert stored.status is BookingStatus.HELD
    assert stored.expires_at == clock() + timedelta(minutes=10)
    assert {a.resource_id for a in store.allocations()} == {
        "or_1", "dr_bone", "dr_sleep", "preop_nurses", "c_arm_1", "bed_1"}
    assert implants(store) == (5, 1)
    assert store.event_names(held.id) == ["HoldPlaced"]


def test_a_hold_lasts_as_long_as_asked(deps: BookingDeps, clock: FixedClock) -> None:
    held = hold(deps, option(consult(), local(CASE_DAY, "09:00")), minutes=30)

    assert held.expires_at == clock() + timedelta(minutes=30)


def test_booking_a_hold_confirms_it_without_reserving_twice(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    held = hold(deps, option(knee_replacement(), KNEE_AT_8))

    booked = book_hold(BookHold(held.id, SCHEDULER), deps)

    stored = store.booking(booked.id)
    assert (stored.status, stored.expires_at) == (BookingStatus.BOOKED, None)
    assert implants(store) == (5, 1)
    confirmed = store.events[-1]
    assert isinstance(confirmed, BookingConfirmed)
    assert confirmed.from_hold


def test_an_expired_hold_frees_its_slot_and_implant_for_the_next_patient(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    held = hold(deps, option(knee_replacement(), KNEE_AT_8))
    clock.advance(minutes=10)

    booked = book(deps, option(knee_replacement(), KNEE_AT_8, patient_id="pt_2"))

    assert store.booking(held.id).status is BookingStatus.EXPIRED
    assert store.allocations() == list(booked.allocations)
    assert implants(store) == (5, 1)
    assert store.event_names(held.id) == ["HoldPlaced", "HoldExpired"]
    expiry = next(e for e in store.audit if e.entity_id == held.id and e.action == "expire")
    assert expiry.actor == SYSTEM.id


def test_booking_a_hold_that_was_already_released_explains_that_it_expired(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    held = hold(deps, option(consult(), local(CASE_DAY, "09:00")))
    clock.advance(minutes=15)
    sweep_expired_holds(deps)  # what the server's sweeper does every few seconds

    with pytest.raises(Conflict) as refused:
        book_hold(BookHold(held.id, SCHEDULER), deps)

    assert [v.code for v in refused.value.violations] == [ViolationCode.HOLD_EXPIRED]


def test_booking_an_expired_hold_releases_it_and_keeps_it_released(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    held = hold(deps, option(knee_replacement(), KNEE_AT_8))
    clock.advance(hours=1)

    with pytest.raises(Conflict):
        book_hold(BookHold(held.id, SCHEDULER), deps)

    assert store.booking(held.id).status is BookingStatus.EXPIRED
    assert store.allocations() == []
    assert implants(store) == (5, 0)


def test_rescheduling_an_expired_hold_releases_it_and_explains_why(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    held = hold(deps, option(consult(), local(CASE_DAY, "09:00")))
    clock.advance(minutes=11)

    with pytest.raises(Conflict) as refused:
        reschedule(RescheduleBooking(held.id, option(consult(), local(CASE_DAY, "11:00")),
                                     "later suits the patient", SCHEDULER), deps)

    assert [v.code for v in refused.value.violations] == [ViolationCode.HOLD_EXPIRED]
    assert store.booking(held.id).status is BookingStatus.EXPIRED
    assert store.allocations() == []


def test_cancelling_releases_every_allocation_and_the_implant(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    booked = book(deps, option(knee_replacement(), KNEE_AT_8))

    cancel(CancelBooking(booked.id, "patient has a fever", SCHEDULER), deps)

    assert store.booking(booked.id).status is BookingStatus.CANCELLED
    assert store.booking(booked.id).reason == "patient has a fever"
    assert store.allocations() == []
    assert implants(store) == (5, 0)
    assert store.events[-1] == BookingCancelled(booked.id, "patient has a fever", SCHEDULER.id,
                                                booked.resource_ids)
    assert (store.audit[-1].action, store.audit[-1].reason) == ("cancel", "patient has a fever")


def test_cancelling_needs_a_reason() -> None:
    with pytest.raises(InvalidRequest) as refused:
        CancelBooking("bk_1", " ", SCHEDULER)

    assert refused.value.field == "reason"


def test_cancelling_twice_is_an_invalid_transition(deps: BookingDeps) -> None:
    booked = book(deps, option(consult(), local(CASE_DAY, "09:00")))
    cancel(CancelBooking(booked.id, "duplicate", SCHEDULER), deps)

    with pytest.raises(InvalidTransition):
        cancel(CancelBooking(booked.id, "duplicate", SCHEDULER), deps)


def test_rescheduling_moves_the_booking_and_frees_the_old_time(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    booked = book(deps, option(consult(), local(CASE_DAY, "09:00")))

    moved = reschedule(RescheduleBooking(booked.id, option(consult(), local(CASE_DAY, "10:00")),
                                         "surgeon running late", SCHEDULER), deps)

    assert store.booking(moved.id).start == local(CASE_DAY, "10:00")
    assert {a.start for a in store.allocations()} == {local(CASE_DAY, "10:00")}
    assert store.events[-1] == BookingRescheduled(
        booked.id, local(CASE_DAY, "09:00"), local(CASE_DAY, "10:00"), "site_main",
        "surgeon running late", booked.resource_ids, booked.end, "site_main")
    book(deps, option(consult(), local(CASE_DAY, "09:00"), patient_id="pt_2"))


def test_rescheduling_keeps_one_implant_reserved(deps: BookingDeps,
                                                 store: FakeUnitOfWorkFactory) -> None:
    booked = book(deps, option(knee_replacement(), KNEE_AT_8))

    reschedule(RescheduleBooking(booked.id, option(knee_replacement(), local("2026-06-05", "08:00")),
                                 "clearance delayed", SCHEDULER), deps)

    assert implants(store) == (5, 1)


def test_a_reschedule_that_fails_keeps_the_old_time(deps: BookingDeps,
                                                    store: FakeUnitOfWorkFactory) -> None:
    booked = book(deps, option(consult(), local(CASE_DAY, "09:00")))
    book(deps, option(consult(), local(CASE_DAY, "10:00"), patient_id="pt_2"))
    before = (store.booking(booked.id).start, store.allocations(), list(store.events))

    with pytest.raises(Conflict) as refused:
        reschedule(RescheduleBooking(booked.id, option(consult(), local(CASE_DAY, "10:00")),
                                     "patient asked", SCHEDULER), deps)

    assert ViolationCode.RESOURCE_BOOKED in {v.code for v in refused.value.violations}
    assert (store.booking(booked.id).start, store.allocations(), store.events) == before


def test_a_reschedule_keeps_the_patient_and_service(deps: BookingDeps) -> None:
    booked = book(deps, option(consult(), local(CASE_DAY, "09:00")))

    with pytest.raises(InvalidRequest) as refused:
        reschedule(RescheduleBooking(booked.id, option(consult(), local(CASE_DAY, "10:00"),
                                                       patient_id="pt_2"), "typo", SCHEDULER), deps)

    assert refused.value.field == "option"


def test_arrival_then_fulfilment_consumes_the_implant(deps: BookingDeps, store: FakeUnitOfWorkFactory,
                                                      clock: FixedClock) -> None:
    booked = book(deps, option(knee_replacement(), KNEE_AT_8))
    clock.set(local(CASE_DAY, "07:15"))

    arrive(MarkArrived(booked.id, SCHEDULER), deps)
    fulfil(MarkFulfilled(booked.id, SCHEDULER), deps)

    assert store.booking(booked.id).status is BookingStatus.FULFILLED
    assert implants(store) == (4, 0)
    assert store.event_names(booked.id) == ["BookingConfirmed", "PatientArrived", "BookingFulfilled"]


def test_a_no_show_cannot_be_marked_before_the_start(deps: BookingDeps, store: FakeUnitOfWorkFactory,
                                                     clock: FixedClock) -> None:
    booked = book(deps, option(knee_replacement(), KNEE_AT_8))
    clock.set(local(CASE_DAY, "07:59"))

    with pytest.raises(InvalidTransition):
        mark_no_show(MarkNoShow(booked.id, SCHEDULER), deps)

    assert store.booking(booked.id).status is BookingStatus.BOOKED


def test_a_no_show_releases_the_resources_and_the_implant(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    booked = book(deps, option(knee_replacement(), KNEE_AT_8))
    clock.set(local(CASE_DAY, "08:20"))

    mark_no_show(MarkNoShow(booked.id, SCHEDULER), deps)

    assert store.booking(booked.id).status is BookingStatus.NO_SHOW
    assert store.allocations() == []
    assert implants(store) == (5, 0)
    assert store.event_names(booked.id)[-1] == "PatientDidNotArrive"


@pytest.mark.parametrize("step", ["fulfil a booked case", "arrive on a hold", "book a booked case",
                                  "reschedule a cancelled case", "no-show after arrival"])
def test_a_step_the_status_forbids_is_an_invalid_transition(
        step: str, deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    opt = option(consult(), local(CASE_DAY, "09:00"))
    held = hold(deps, opt) if step == "arrive on a hold" else book(deps, opt)
    clock.set(local(CASE_DAY, "09:05"))
    actions = {
        "fulfil a booked case": lambda: fulfil(MarkFulfilled(held.id, SCHEDULER), deps),
        "arrive on a hold": lambda: arrive(MarkArrived(held.id, SCHEDULER), deps),
        "book a booked case": lambda: book_hold(BookHold(held.id, SCHEDULER), deps),
        "reschedule a cancelled case": lambda: reschedule(RescheduleBooking(
            held.id, option(consult(), local(CASE_DAY, "11:00")), "late", SCHEDULER), deps),
        "no-show after arrival": lambda: mark_no_show(MarkNoShow(held.id, SCHEDULER), deps),
    }
    if step == "reschedule a cancelled case":
        clock.set(local(CASE_DAY, "08:00"))
        cancel(CancelBooking(held.id, "moved away", SCHEDULER), deps)
    if step == "no-show after arrival":
        arrive(MarkArrived(held.id, SCHEDULER), deps)
    events_before = len(store.events)

    with pytest.raises(InvalidTransition):
        actions[step]()

    assert len(store.events) == events_before


def test_a_stock_race_lost_at_write_time_books_nothing(deps: BookingDeps,
                                                       store: FakeUnitOfWorkFactory) -> None:
    def another_clerk_takes_the_last_implants(state: State) -> None:
        key = next(k for k in state.stock if k[1] == "knee_implant" and k[0] == "site_main")
        state.stock[key] = replace(state.stock[key], reserved=state.stock[key].on_hand)
    store.concurrent_writer = another_clerk_takes_the_last_implants

    with pytest.raises(Conflict) as refused:
        book(deps, option(knee_replacement(), KNEE_AT_8))

    assert [v.code for v in refused.value.violations] == [ViolationCode.STOCK_INSUFFICIENT]
    assert store.allocations() == []
    assert store.committed.bookings == {}
    assert store.events == []


def test_every_state_change_publishes_its_event_and_an_audit_entry(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    held = hold(deps, option(knee_replacement(), KNEE_AT_8))
    book_hold(BookHold(held.id, SCHEDULER), deps)
    reschedule(RescheduleBooking(held.id, option(knee_replacement(), local(CASE_DAY, "08:30")),
                                 "OR swap", SCHEDULER), deps)
    clock.set(local(CASE_DAY, "08:00"))
    arrive(MarkArrived(held.id, SCHEDULER), deps)
    fulfil(MarkFulfilled(held.id, SCHEDULER), deps)

    assert store.event_names(held.id) == ["HoldPlaced", "BookingConfirmed", "BookingRescheduled",
                                          "PatientArrived", "BookingFulfilled"]
    trail = [(e.action, e.detail["status"], e.detail["events"]) for e in store.audit]
    assert trail == [("hold", "held", ["HoldPlaced"]), ("book", "booked", ["BookingConfirmed"]),
                     ("reschedule", "booked", ["BookingRescheduled"]),
                     ("arrive", "arrived", ["PatientArrived"]),
                     ("fulfil", "fulfilled", ["BookingFulfilled"])]
    assert {e.rule_version for e in store.audit} == {"careflow-core-checks/1"}


def test_cancel_no_show_and_expiry_each_publish_their_event_and_an_audit_entry(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    cancelled = book(deps, option(consult(), local(CASE_DAY, "09:00")))
    cancel(CancelBooking(cancelled.id, "feeling better", SCHEDULER), deps)
    no_show = book(deps, option(consult(), local(CASE_DAY, "10:00")))
    expired = hold(deps, option(consult(), local(CASE_DAY, "11:00")))
    clock.set(local(CASE_DAY, "10:30"))
    mark_no_show(MarkNoShow(no_show.id, SCHEDULER), deps)
    sweep_expired_holds(deps)  # what the server's sweeper does every few seconds

    audited = {(e.entity_id, e.action, e.actor, tuple(e.detail["events"])) for e in store.audit}
    assert {(cancelled.id, "cancel", SCHEDULER.id, ("BookingCancelled",)),
            (no_show.id, "no_show", SCHEDULER.id, ("PatientDidNotArrive",)),
            (expired.id, "expire", SYSTEM.id, ("HoldExpired",))} <= audited
    assert store.event_names(expired.id) == ["HoldPlaced", "HoldExpired"]


def test_a_master_data_change_applies_to_the_next_booking(deps: BookingDeps,
                                                         store: FakeUnitOfWorkFactory) -> None:
    book(deps, option(consult(), local(CASE_DAY, "09:00")))
    store.put(clinician("dr_bone", exceptions=(closed(local(CASE_DAY, "09:30"), local(CASE_DAY, "19:00"),
                                                      ExceptionKind.CALL_OUT),)))

    with pytest.raises(Conflict) as refused:
        book(deps, option(consult(), local(CASE_DAY, "10:00"), patient_id="pt_2"))

    assert (ViolationCode.RESOURCE_UNAVAILABLE, "dr_bone") in {
        (v.code, v.subject) for v in refused.value.violations}


def test_a_hold_publishes_what_it_holds(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    held = hold(deps, option(consult(), local(CASE_DAY, "09:00")))

    assert store.events == [HoldPlaced(held.id, "pt_1", "svc_consult", "site_main",
                                       local(CASE_DAY, "09:00"), held.expires_at,
                                       ("exam_1", "dr_bone"))]


def test_an_actor_who_may_only_read_cannot_book(deps: BookingDeps) -> None:
    viewer = Actor("u_viewer", frozenset({"operations_viewer"}))

    with pytest.raises(PermissionDenied):
        book_option(BookOption(option(consult(), local(CASE_DAY, "09:00")), viewer), deps)


def test_an_unknown_booking_is_not_found(deps: BookingDeps) -> None:
    with pytest.raises(NotFound):
        cancel(CancelBooking("bk_missing", "no such booking", SCHEDULER), deps)


def test_checking_ignores_a_hold_that_expired_but_was_not_swept_yet(deps: BookingDeps,
                                                                    clock: FixedClock) -> None:
    hold(deps, option(consult(), local(CASE_DAY, "09:00")))
    clock.advance(minutes=11)

    assert check(CheckOption(option(consult(), local(CASE_DAY, "09:00"), patient_id="pt_2"),
                             SCHEDULER), deps) == []


def test_a_hold_placed_in_time_stays_bookable_while_it_lasts(
        deps: BookingDeps, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    store.put(consult(window=BookingWindow(min_lead_minutes=60)))
    clock.set(local(CASE_DAY, "07:55"))
    held = hold(deps, option(consult(), local(CASE_DAY, "09:00")))  # 65 minutes' notice
    clock.advance(minutes=8)  # 57 minutes before the start: too late for a new request

    assert book_hold(BookHold(held.id, SCHEDULER), deps).status is BookingStatus.BOOKED
    fresh = option(consult(), local(CASE_DAY, "09:00"), patient_id="pt_2", room="exam_1")
    refused = {v.code for v in check(CheckOption(fresh, SCHEDULER), deps)}
    assert ViolationCode.OUTSIDE_BOOKING_WINDOW in refused
