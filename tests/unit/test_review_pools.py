"""A pool's headcount holds when a call-out comes after the bookings.

Pools are lanes: lane i is on duty while the headcount exceeds i. When a nurse calls out
after three cases were booked on lanes 0, 1 and 2 and the case on lane 0 is cancelled,
lane 0 is free and on duty, yet the two nurses left are both busy: a fourth case must be
refused, and find must not propose it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import (
    CASE_DAY,
    clinician,
    closed,
    consult,
    local,
    option,
    patient,
    room,
    staff_pool,
)
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.calendars import ExceptionKind
from careflow.domain.commands import BookOption, CancelBooking, CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest, Option
from careflow.domain.preference_cards import StaffRequirement
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_option, cancel, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
WITH_NURSE = consult(staff=(StaffRequirement("preop_nurse"),))
NINE = local(CASE_DAY, "09:00")


def visit(start: datetime, **roles: str) -> Option:
    """A consult with a pre-op nurse from the pool."""
    return option(WITH_NURSE, start, preop_nurse="preop_nurses", **roles)


def three_rooms_and_surgeons(store: FakeUnitOfWorkFactory) -> None:
    exam = {"room_type": "exam", "capabilities": frozenset()}
    store.put(WITH_NURSE, staff_pool(headcount=3),
              room("exam_2", **exam), room("exam_3", **exam), room("exam_4", **exam),  # type: ignore[arg-type]
              clinician("dr_2"), clinician("dr_3"), clinician("dr_4"),
              patient("pt_4"), patient("pt_5"))


def nurses_booked_on_lanes_1_and_2_then_one_calls_out(deps: BookingDeps,
                                                       store: FakeUnitOfWorkFactory) -> None:
    three_rooms_and_surgeons(store)
    first = book_option(BookOption(visit(NINE), SCHEDULER), deps)
    book_option(BookOption(visit(NINE, patient_id="pt_2", room="exam_2",
                                  clinician="dr_2"), SCHEDULER), deps)
    book_option(BookOption(visit(NINE, patient_id="pt_4", room="exam_3",
                                  clinician="dr_3"), SCHEDULER), deps)
    cancel(CancelBooking(first.id, "patient asked", SCHEDULER), deps)  # frees lane 0
    store.put(staff_pool(headcount=3, exceptions=(closed(
        local(CASE_DAY, "06:00"), local(CASE_DAY, "20:00"), ExceptionKind.CALL_OUT, capacity_delta=1),)))


def test_a_partial_call_out_after_booking_leaves_no_nurse_for_another_case(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    nurses_booked_on_lanes_1_and_2_then_one_calls_out(deps, store)

    violations = check(CheckOption(visit(NINE, patient_id="pt_5", room="exam_4",
                                          clinician="dr_4"), SCHEDULER), deps)

    assert [(v.code, v.subject) for v in violations] == [
        (ViolationCode.STAFF_COVERAGE_SHORT, "preop_nurses")]
    assert "has 0 of 2 on duty free" in violations[0].message


def test_the_nurse_is_free_again_once_the_busy_cases_are_over(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    nurses_booked_on_lanes_1_and_2_then_one_calls_out(deps, store)

    later = visit(NINE + timedelta(minutes=30), patient_id="pt_5", room="exam_4",
                   clinician="dr_4")

    assert check(CheckOption(later, SCHEDULER), deps) == []


def test_find_does_not_propose_the_nurse_who_called_out(deps: BookingDeps,
                                                         store: FakeUnitOfWorkFactory) -> None:
    nurses_booked_on_lanes_1_and_2_then_one_calls_out(deps, store)

    found = find(FindRequest(ServiceId(WITH_NURSE.id), PatientId("pt_5"), NINE,
                             NINE + timedelta(minutes=30), limit=20), deps)

    assert found.options == []
