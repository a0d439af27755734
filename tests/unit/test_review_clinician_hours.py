"""Working-hour limits count every local day and ISO week a case touches, not only its first.

A night case from 23:00 to 01:00 puts one hour on each of two days; a Sunday-night case
puts hours into two weeks. Each day and week must stay within the contract.
"""

from __future__ import annotations

from tests.factories import block, clinician, consult, local, option, patient, room
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import BookOption, CheckOption
from careflow.domain.options import Option
from careflow.domain.resources import ContractLimits
from careflow.domain.violations import Severity, ViolationCode
from careflow.services.booking import BookingDeps, book_option, check

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
NIGHTS = (block("18:00", "06:00"),)
TWO_HOURS = consult(duration_minutes=120)


def nights_only(store: FakeUnitOfWorkFactory, contract: ContractLimits) -> None:
    """dr_bone and exam_1 work nights (18:00-06:00); consults take two hours."""
    store.put(clinician("dr_bone", blocks=NIGHTS, contract=contract),
              room("exam_1", room_type="exam", capabilities=frozenset(), blocks=NIGHTS),
              TWO_HOURS, patient("pt_4"))


def book(deps: BookingDeps, opt: Option) -> None:
    book_option(BookOption(opt, SCHEDULER), deps)


def codes(deps: BookingDeps, opt: Option) -> list[ViolationCode]:
    return [v.code for v in check(CheckOption(opt, SCHEDULER), deps)]


def test_a_case_crossing_midnight_counts_its_hours_after_midnight_toward_the_next_day(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    nights_only(store, ContractLimits(max_hours_day=4.5))
    book(deps, option(TWO_HOURS, local("2026-06-04", "01:00"), patient_id="pt_2"))
    book(deps, option(TWO_HOURS, local("2026-06-04", "03:00"), patient_id="pt_4"))

    # Wednesday 23:00 to Thursday 01:00: Thursday would hold 4 h + 1 h.
    violations = check(CheckOption(option(TWO_HOURS, local("2026-06-03", "23:00")), SCHEDULER), deps)

    assert [v.code for v in violations] == [ViolationCode.CLINICIAN_HOURS_EXCEEDED]
    assert "5.0 h on 2026-06-04 (max 4.5)" in violations[0].message


def test_the_same_night_case_is_fine_when_the_next_day_has_room(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    nights_only(store, ContractLimits(max_hours_day=4.5))
    book(deps, option(TWO_HOURS, local("2026-06-04", "01:00"), patient_id="pt_2"))

    assert codes(deps, option(TWO_HOURS, local("2026-06-03", "23:00"))) == []


def test_a_sunday_night_case_counts_toward_the_week_that_starts_on_monday(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    nights_only(store, ContractLimits(max_hours_day=12, max_hours_week=4.5,
                                      overtime_threshold_week=4.5))
    book(deps, option(TWO_HOURS, local("2026-06-08", "01:00"), patient_id="pt_2"))  # Monday
    book(deps, option(TWO_HOURS, local("2026-06-08", "03:00"), patient_id="pt_4"))

    # Sunday 7 June 23:00 to Monday 01:00: the week of 8 June would hold 5 h.
    violations = check(CheckOption(option(TWO_HOURS, local("2026-06-07", "23:00")), SCHEDULER), deps)

    assert [v.code for v in violations] == [ViolationCode.CLINICIAN_HOURS_EXCEEDED]
    assert "in the week of 2026-06-08 (max 4.5)" in violations[0].message


def test_overtime_in_the_week_after_midnight_needs_approval(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    nights_only(store, ContractLimits(max_hours_day=12, max_hours_week=60,
                                      overtime_threshold_week=4.5))
    book(deps, option(TWO_HOURS, local("2026-06-08", "01:00"), patient_id="pt_2"))
    book(deps, option(TWO_HOURS, local("2026-06-08", "03:00"), patient_id="pt_4"))

    violations = check(CheckOption(option(TWO_HOURS, local("2026-06-07", "23:00")), SCHEDULER), deps)

    assert [(v.code, v.severity) for v in violations] == [
        (ViolationCode.CLINICIAN_OVERTIME_NEEDS_APPROVAL, Severity.SOFT)]
    assert "week of 2026-06-08" in violations[0].message
