"""One test per violation code, each refused through the real booking use cases.

``@explains(code)`` registers a test as the one that produces ``code``; the last test
fails when a code in ``ViolationCode`` has no test, so a new code cannot ship unexplained.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import pytest
from tests.factories import (
    CASE_DAY,
    authorization,
    block,
    clinician,
    closed,
    consult,
    equipment,
    infusion,
    knee_replacement,
    local,
    option,
    patient,
    room,
    staff_pool,
    stock,
)
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.calendars import ExceptionKind
from careflow.domain.commands import BookHold, BookOption, PlaceHold
from careflow.domain.errors import Conflict
from careflow.domain.options import Option
from careflow.domain.patients import AuthorizationStatus
from careflow.domain.preference_cards import RoleRequirement, RoomRequirement, StaffRequirement
from careflow.domain.resources import ContractLimits
from careflow.domain.violations import CODES, Severity, Violation, ViolationCode
from careflow.services.booking import BookingDeps, book_hold, book_option, place_hold

V = ViolationCode
SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
EXPLAINED: dict[ViolationCode, str] = {}
F = TypeVar("F", bound=Callable[..., None])


def explains(code: ViolationCode) -> Callable[[F], F]:
    def register(test: F) -> F:
        assert code not in EXPLAINED, f"{code} already explained by {EXPLAINED[code]}"
        EXPLAINED[code] = test.__name__
        return test
    return register


def book(deps: BookingDeps, opt: Option) -> None:
    book_option(BookOption(opt, SCHEDULER), deps)


def refusal(deps: BookingDeps, opt: Option, code: ViolationCode, subject: str) -> Violation:
    """Book ``opt``: it must be refused, write nothing, and explain ``subject`` with ``code``."""
    fake = deps.uow
    assert isinstance(fake, FakeUnitOfWorkFactory)
    commits = fake.commits
    with pytest.raises(Conflict) as refused:
        book(deps, opt)
    assert fake.commits == commits
    found = [v for v in refused.value.violations if v.code is code and v.subject == subject]
    assert found, f"no {code} on {subject}: {refused.value.violations}"
    violation = found[0]
    assert violation.severity is CODES[code].severity
    assert violation.remedy == CODES[code].remedy
    assert len(violation.message) > 15
    return violation


KNEE_AT_8 = local(CASE_DAY, "08:00")


@explains(V.RESOURCE_BOOKED)
def test_refuses_a_consult_with_a_surgeon_who_is_operating_then(deps: BookingDeps) -> None:
    book(deps, option(knee_replacement(), KNEE_AT_8))

    v = refusal(deps, option(consult(), local(CASE_DAY, "09:00"), patient_id="pt_2"),
                V.RESOURCE_BOOKED, "dr_bone")

    assert v.role == "clinician"
    assert "dr_bone is already booked" in v.message


@explains(V.RESOURCE_UNAVAILABLE)
def test_refuses_a_clinician_on_vacation(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", exceptions=(
        closed(local("2026-06-02", "00:00"), local("2026-06-06", "00:00")),)))

    v = refusal(deps, option(consult(), local(CASE_DAY, "09:00")), V.RESOURCE_UNAVAILABLE, "dr_bone")

    assert "not scheduled" in v.message


@explains(V.RESOURCE_WRONG_SITE)
def test_refuses_an_operating_room_of_another_site(deps: BookingDeps) -> None:
    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, room="or_asc_1"),
                V.RESOURCE_WRONG_SITE, "or_asc_1")

    assert "belongs to site_asc, not site_main" in v.message


def test_refuses_a_surgeon_who_works_at_the_surgery_center_that_day(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", blocks=(block(site_id="site_asc"),)))

    refusal(deps, option(consult(), local(CASE_DAY, "09:00")), V.RESOURCE_WRONG_SITE, "dr_bone")


@explains(V.REQUIREMENT_UNFILLED)
def test_refuses_a_knee_replacement_without_a_c_arm(deps: BookingDeps) -> None:
    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, c_arm=None),
                V.REQUIREMENT_UNFILLED, "c_arm")

    assert "needs 1, the option has 0" in v.message


def test_refuses_one_surgeon_for_two_roles_of_the_same_case(deps: BookingDeps,
                                                             store: FakeUnitOfWorkFactory) -> None:
    assisted = consult(roles=(*consult().roles, RoleRequirement("assistant", "surgeon")))
    store.put(assisted)

    v = refusal(deps, option(assisted, local(CASE_DAY, "09:00"), assistant="dr_bone"),
                V.REQUIREMENT_UNFILLED, "dr_bone")

    assert v.role == "assistant"
    assert "already fills role clinician" in v.message


@explains(V.CLINICIAN_NOT_PRIVILEGED)
def test_refuses_a_surgeon_without_the_knee_privilege(deps: BookingDeps,
                                                      store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_new", privileges=frozenset()))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, surgeon="dr_new"),
                V.CLINICIAN_NOT_PRIVILEGED, "dr_new")

    assert "no privilege for knee_arthroplasty" in v.message


@explains(V.CLINICIAN_CREDENTIAL_EXPIRED)
def test_refuses_a_surgeon_whose_license_expires_before_the_case(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", license_until=date(2026, 6, 2)))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.CLINICIAN_CREDENTIAL_EXPIRED, "dr_bone")

    assert "license expires 2026-06-02" in v.message


@explains(V.CLINICIAN_HOURS_EXCEEDED)
def test_refuses_a_consult_that_takes_the_surgeon_past_the_daily_maximum(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", contract=ContractLimits(max_hours_day=2.0)))
    book(deps, option(knee_replacement(), KNEE_AT_8))

    v = refusal(deps, option(consult(), local(CASE_DAY, "11:00"), patient_id="pt_2"),
                V.CLINICIAN_HOURS_EXCEEDED, "dr_bone")

    assert "2.5 h on 2026-06-03 (max 2)" in v.message


@explains(V.CLINICIAN_OVERTIME_NEEDS_APPROVAL)
def test_refuses_without_approval_a_consult_that_puts_the_surgeon_into_overtime(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", contract=ContractLimits(overtime_threshold_week=2.0)))
    book(deps, option(knee_replacement(), KNEE_AT_8))

    v = refusal(deps, option(consult(), local(CASE_DAY, "11:00"), patient_id="pt_2"),
                V.CLINICIAN_OVERTIME_NEEDS_APPROVAL, "dr_bone")

    assert v.severity is Severity.SOFT
    assert "2.5 h in the week of 2026-06-01 (overtime past 2)" in v.message


@explains(V.ROOM_UNSUITABLE)
def test_refuses_a_knee_replacement_in_an_exam_room(deps: BookingDeps) -> None:
    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, room="exam_1"),
                V.ROOM_UNSUITABLE, "exam_1")

    assert "is a room of type exam" in v.message


@explains(V.EQUIPMENT_IN_MAINTENANCE)
def test_refuses_a_c_arm_in_maintenance(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(equipment(exceptions=(closed(local(CASE_DAY, "07:00"), local(CASE_DAY, "12:00"),
                                           ExceptionKind.MAINTENANCE),)))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.EQUIPMENT_IN_MAINTENANCE, "c_arm_1")

    assert "maintenance" in v.message


@explains(V.EQUIPMENT_NOT_STERILE)
def test_refuses_a_c_arm_still_in_sterilization_at_the_start(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(equipment(ready_at=local(CASE_DAY, "09:00")))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.EQUIPMENT_NOT_STERILE, "c_arm_1")

    assert "sterilization until 2026-06-03T09:00" in v.message


@explains(V.STOCK_INSUFFICIENT)
def test_refuses_booking_when_implant_stock_is_reserved_elsewhere(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(stock(on_hand=1, threshold=0))
    book(deps, option(knee_replacement(), KNEE_AT_8))

    v = refusal(deps, option(knee_replacement(), local("2026-06-04", "08:00"), patient_id="pt_2"),
                V.STOCK_INSUFFICIENT, "site_main/knee_implant")

    assert "site_main has 0 knee_implant available, the case needs 1" in v.message


@explains(V.STOCK_BELOW_THRESHOLD)
def test_refuses_without_approval_a_case_that_takes_implants_below_the_reorder_point(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(stock(on_hand=3, threshold=3))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.STOCK_BELOW_THRESHOLD,
                "site_main/knee_implant")

    assert v.severity is Severity.SOFT
    assert "would fall to 2, below its reorder threshold 3" in v.message


@explains(V.AUTHORIZATION_MISSING)
def test_refuses_a_knee_replacement_without_an_authorization(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(patient("pt_4"))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, patient_id="pt_4"),
                V.AUTHORIZATION_MISSING, "authorization:svc_knee")

    assert "TKA needs a payer authorization" in v.message


@explains(V.AUTHORIZATION_PENDING)
def test_refuses_a_knee_replacement_while_the_payer_has_not_decided(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(authorization(status=AuthorizationStatus.PENDING))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.AUTHORIZATION_PENDING,
                "authorization:svc_knee")

    assert "not decided" in v.message


@explains(V.AUTHORIZATION_DENIED)
def test_refuses_a_knee_replacement_the_payer_denied(deps: BookingDeps,
                                                      store: FakeUnitOfWorkFactory) -> None:
    store.put(authorization(status=AuthorizationStatus.DENIED))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.AUTHORIZATION_DENIED,
                "authorization:svc_knee")

    assert "denied TKA" in v.message


@explains(V.AUTHORIZATION_EXPIRED)
def test_refuses_a_case_after_the_authorization_ran_out(deps: BookingDeps,
                                                         store: FakeUnitOfWorkFactory) -> None:
    store.put(authorization(valid_to=date(2026, 5, 31)))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.AUTHORIZATION_EXPIRED,
                "authorization:svc_knee")

    assert "not on 2026-06-03" in v.message


@explains(V.PREP_INCOMPLETE)
def test_refuses_a_case_whose_overdue_clearance_is_not_done(deps: BookingDeps,
                                                             store: FakeUnitOfWorkFactory) -> None:
    store.put(patient("pt_1", completed_prep={}))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8), V.PREP_INCOMPLETE, "prep:pre_op_clearance")

    assert "pre_op_clearance was due 2026-05-27" in v.message


@explains(V.INTERPRETER_UNAVAILABLE)
def test_refuses_a_consult_when_no_interpreter_speaks_the_patients_language(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(patient("pt_3", language="pt", needs_interpreter=True))

    v = refusal(deps, option(consult(), local(CASE_DAY, "09:00"), patient_id="pt_3",
                             interpreter="interpreters"),
                V.INTERPRETER_UNAVAILABLE, "interpreters")

    assert "no interpreter for language pt" in v.message


@explains(V.STAFF_COVERAGE_SHORT)
def test_refuses_a_case_when_a_call_out_leaves_the_preop_pool_short(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(knee_replacement(staff=(StaffRequirement("preop_nurse", 2),)),
              staff_pool(headcount=2, exceptions=(closed(
                  local(CASE_DAY, "06:00"), local(CASE_DAY, "20:00"), ExceptionKind.CALL_OUT,
                  capacity_delta=1),)))

    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, preop_nurse=["preop_nurses"] * 2),
                V.STAFF_COVERAGE_SHORT, "preop_nurses")

    assert "has 1 of 1 on duty free, the case needs 2" in v.message


@explains(V.BED_UNAVAILABLE)
def test_refuses_a_second_case_while_the_only_surgical_bed_is_occupied(deps: BookingDeps) -> None:
    book(deps, option(knee_replacement(), KNEE_AT_8))

    v = refusal(deps, option(knee_replacement(), local(CASE_DAY, "14:00"), patient_id="pt_2"),
                V.BED_UNAVAILABLE, "bed_1")

    assert "already booked" in v.message


@explains(V.PATIENT_DOUBLE_BOOKED)
def test_refuses_an_infusion_that_overlaps_the_patients_consult(deps: BookingDeps) -> None:
    book(deps, option(consult(), local(CASE_DAY, "09:00")))

    v = refusal(deps, option(infusion(), local(CASE_DAY, "09:15")), V.PATIENT_DOUBLE_BOOKED, "pt_1")

    assert "another booking" in v.message


@explains(V.OUTSIDE_BOOKING_WINDOW)
def test_refuses_a_start_in_the_past(deps: BookingDeps) -> None:
    v = refusal(deps, option(consult(), local("2026-06-01", "09:00")), V.OUTSIDE_BOOKING_WINDOW,
                "svc_consult")

    assert "in the past" in v.message


@explains(V.CAPACITY_EXCEEDED)
def test_refuses_a_third_infusion_in_a_two_place_bay(deps: BookingDeps,
                                                     store: FakeUnitOfWorkFactory) -> None:
    bay = room("bay_1", room_type="infusion", capabilities=frozenset(), capacity=2)
    store.put(bay, infusion(room=RoomRequirement("infusion")), patient("pt_4"))
    for pid in ("pt_1", "pt_2"):
        book(deps, option(infusion(), local(CASE_DAY, "09:00"), patient_id=pid, room="bay_1"))

    v = refusal(deps, option(infusion(), local(CASE_DAY, "09:30"), patient_id="pt_4", room="bay_1"),
                V.CAPACITY_EXCEEDED, "bay_1")

    assert "has 0 of 2 on duty free" in v.message


@explains(V.HOLD_EXPIRED)
def test_refuses_to_book_a_hold_after_it_expired(deps: BookingDeps, clock: FixedClock) -> None:
    hold = place_hold(PlaceHold(option(consult(), local(CASE_DAY, "09:00")), SCHEDULER), deps)
    clock.advance(minutes=11)

    with pytest.raises(Conflict) as refused:
        book_hold(BookHold(hold.id, SCHEDULER), deps)

    (v,) = refused.value.violations
    assert (v.code, v.severity, v.subject) == (V.HOLD_EXPIRED, Severity.HARD, "hold")
    assert f"expired at {hold.expires_at.isoformat()}" in v.message  # type: ignore[union-attr]


@explains(V.PATIENT_HOLD_LIMIT)
def test_refuses_a_fourth_open_hold_for_one_patient(deps: BookingDeps, store: FakeUnitOfWorkFactory,
                                                    clock: FixedClock) -> None:
    for hour in ("09:00", "10:00", "11:00"):
        place_hold(PlaceHold(option(consult(), local(CASE_DAY, hour)), SCHEDULER), deps)
    commits = store.commits

    with pytest.raises(Conflict) as refused:
        place_hold(PlaceHold(option(consult(), local(CASE_DAY, "14:00")), SCHEDULER), deps)

    assert store.commits == commits
    (v,) = refused.value.violations
    assert (v.code, v.severity, v.remedy) == (V.PATIENT_HOLD_LIMIT, Severity.HARD,
                                              CODES[V.PATIENT_HOLD_LIMIT].remedy)
    assert "already has 3 open holds (at most 3 at once)" in v.message
    clock.advance(minutes=11)  # the holds lapse: the patient may hold again
    place_hold(PlaceHold(option(consult(), local(CASE_DAY, "14:00")), SCHEDULER), deps)


@explains(V.SERVICE_NOT_OFFERED)
def test_refuses_a_knee_replacement_at_a_clinic(deps: BookingDeps) -> None:
    v = refusal(deps, option(knee_replacement(), KNEE_AT_8, site_id="site_clinic"),
                V.SERVICE_NOT_OFFERED, "site_clinic")

    assert "only at hospital, surgery_center; site_clinic is a clinic" in v.message


def test_every_violation_code_has_a_test_that_produces_it() -> None:
    missing = [code.value for code in ViolationCode if code not in EXPLAINED]

    assert not missing, f"violation codes without a test: {missing}"
