"""Soft violations refuse unless an actor with ``booking.override`` accepts them with a reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.factories import CASE_DAY, clinician, consult, knee_replacement, local, option, stock
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.commands import BookHold, BookOption, OverrideRequest, PlaceHold
from careflow.domain.errors import Conflict, InvalidRequest, PermissionDenied
from careflow.domain.events import SoftViolationsOverridden, StockFellBelowThreshold
from careflow.domain.options import Option
from careflow.domain.resources import ContractLimits
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_hold, book_option, place_hold

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
COORDINATOR = Actor("u_coordinator", frozenset({"perioperative_coordinator"}))
APPROVED = OverrideRequest("overtime approved by the chief of surgery; reorder PO-17 in transit")


def overtime(store: FakeUnitOfWorkFactory, deps: BookingDeps) -> Option:
    """A consult that puts the surgeon past a 2-hour overtime threshold."""
    store.put(clinician("dr_bone", contract=ContractLimits(overtime_threshold_week=2.0)))
    book_option(BookOption(option(knee_replacement(), local(CASE_DAY, "08:00")), SCHEDULER), deps)
    return option(consult(), local(CASE_DAY, "11:00"), patient_id="pt_2")


def low_stock(store: FakeUnitOfWorkFactory, deps: BookingDeps) -> Option:
    """A knee replacement that takes the implants under their reorder threshold."""
    store.put(stock(on_hand=3, threshold=3))
    return option(knee_replacement(), local(CASE_DAY, "08:00"))


SOFT_CASES: dict[ViolationCode, Callable[[FakeUnitOfWorkFactory, BookingDeps], Option]] = {
    ViolationCode.CLINICIAN_OVERTIME_NEEDS_APPROVAL: overtime,
    ViolationCode.STOCK_BELOW_THRESHOLD: low_stock,
}
soft_cases = pytest.mark.parametrize("code", list(SOFT_CASES), ids=str)


@soft_cases
def test_a_soft_violation_refuses_without_an_override(
        code: ViolationCode, store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    opt = SOFT_CASES[code](store, deps)

    with pytest.raises(Conflict) as refused:
        book_option(BookOption(opt, COORDINATOR), deps)

    assert [v.code for v in refused.value.violations] == [code]
    assert "override" in refused.value.message


@soft_cases
def test_a_soft_violation_refuses_an_override_from_an_actor_without_the_permission(
        code: ViolationCode, store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    opt = SOFT_CASES[code](store, deps)
    bookings_before = len(store.committed.bookings)

    with pytest.raises(PermissionDenied) as denied:
        book_option(BookOption(opt, SCHEDULER, APPROVED), deps)

    assert denied.value.permission == "booking.override"
    assert len(store.committed.bookings) == bookings_before


@soft_cases
def test_a_permitted_override_with_a_reason_books_and_is_recorded(
        code: ViolationCode, store: FakeUnitOfWorkFactory, deps: BookingDeps,
        clock: FixedClock) -> None:
    opt = SOFT_CASES[code](store, deps)

    booking = book_option(BookOption(opt, COORDINATOR, APPROVED), deps)

    (override,) = store.booking(booking.id).overrides
    assert (override.codes, override.reason, override.by, override.at) == (
        (code.value,), APPROVED.reason, COORDINATOR.id, clock())
    assert SoftViolationsOverridden(booking.id, (code.value,), APPROVED.reason,
                                    COORDINATOR.id) in store.events
    entry = store.audit[-1]
    assert (entry.action, entry.outcome, entry.actor, entry.reason, entry.detail["codes"]) == (
        "booking.override", "overridden", COORDINATOR.id, APPROVED.reason, [code.value])


def test_an_override_given_on_the_hold_carries_to_its_booking(
        store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    opt = low_stock(store, deps)
    hold = place_hold(PlaceHold(opt, COORDINATOR, override=APPROVED), deps)

    booked = book_hold(BookHold(hold.id, SCHEDULER), deps)

    assert len(store.booking(booked.id).overrides) == 1
    overridden = [e for e in store.events if isinstance(e, SoftViolationsOverridden)]
    assert len(overridden) == 1


def test_an_override_cannot_accept_a_hard_violation(store: FakeUnitOfWorkFactory,
                                                    deps: BookingDeps) -> None:
    store.put(stock(on_hand=0))

    with pytest.raises(Conflict) as refused:
        book_option(BookOption(option(knee_replacement(), local(CASE_DAY, "08:00")),
                               COORDINATOR, APPROVED), deps)

    assert [v.code for v in refused.value.violations] == [ViolationCode.STOCK_INSUFFICIENT]


def test_an_override_needs_a_reason() -> None:
    with pytest.raises(InvalidRequest) as refused:
        OverrideRequest("   ")

    assert refused.value.field == "override.reason"


def test_taking_stock_below_its_threshold_publishes_a_reorder_event(
        store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    booking = book_option(BookOption(low_stock(store, deps), COORDINATOR, APPROVED), deps)

    assert StockFellBelowThreshold("site_main/knee_implant", "site_main", "knee_implant", 2, 3,
                                   booking.id) in store.events
