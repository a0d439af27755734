"""Reprocessing runs after the equipment's hours; only the case itself must be inside them.

A C-arm scheduled 07:00-19:00 with an hour of sterilization can take a case that ends at
19:00: the set is reprocessed afterwards, and the allocation still keeps it out of any
case during that hour. The next case, though, must wait for it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.factories import CASE_DAY, NEW_YORK, bed, block, equipment, knee_replacement, local, option, room
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.calendars import Availability
from careflow.domain.commands import BookOption, CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_option, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
QUICK_TURNOVER = knee_replacement(turnover_minutes=0)


def slow_c_arm(store: FakeUnitOfWorkFactory) -> None:
    store.put(QUICK_TURNOVER, equipment(sterilization_minutes=60))


def test_a_case_ending_at_closing_time_may_use_a_set_that_is_reprocessed_after(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    slow_c_arm(store)

    assert check(CheckOption(option(QUICK_TURNOVER, local(CASE_DAY, "17:00")), SCHEDULER), deps) == []


def test_the_case_itself_must_still_be_inside_the_equipment_hours(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    slow_c_arm(store)
    store.put(room("or_1", blocks=(block("07:00", "21:00"),)))

    violations = check(CheckOption(option(QUICK_TURNOVER, local(CASE_DAY, "17:15")), SCHEDULER), deps)

    assert [(v.code, v.subject) for v in violations if v.subject == "c_arm_1"] == [
        (ViolationCode.RESOURCE_UNAVAILABLE, "c_arm_1")]


def test_the_next_case_still_waits_for_reprocessing(deps: BookingDeps,
                                                    store: FakeUnitOfWorkFactory) -> None:
    slow_c_arm(store)
    store.put(room("or_2"))
    book_option(BookOption(option(QUICK_TURNOVER, local(CASE_DAY, "08:00")), SCHEDULER), deps)

    violations = check(CheckOption(option(QUICK_TURNOVER, local(CASE_DAY, "10:30"), patient_id="pt_2",
                                          room="or_2", bed=None), SCHEDULER), deps)

    assert ViolationCode.EQUIPMENT_NOT_STERILE in {v.code for v in violations}


def test_find_offers_the_last_case_that_ends_at_closing_time(deps: BookingDeps,
                                                             store: FakeUnitOfWorkFactory) -> None:
    slow_c_arm(store)
    start = local(CASE_DAY, "07:00")

    found = find(FindRequest(ServiceId(QUICK_TURNOVER.id), PatientId("pt_1"), start,
                             start + timedelta(hours=12), limit=2), deps)

    last = max(o.start for o in found.options).astimezone(ZoneInfo(NEW_YORK))
    assert last.strftime("%H:%M") == "17:00"
    assert all(check(CheckOption(o, SCHEDULER), deps) == [] for o in found.options)


def test_a_pair_of_c_arms_takes_a_case_ending_at_closing_time(deps: BookingDeps,
                                                              store: FakeUnitOfWorkFactory) -> None:
    pair = replace(equipment(sterilization_minutes=60), capacity=2,
                   availability=Availability((block(capacity=2),)))
    store.put(QUICK_TURNOVER, pair, room("or_2"), bed("bed_2"))
    book_option(BookOption(option(QUICK_TURNOVER, local(CASE_DAY, "15:00"), patient_id="pt_2",
                                  room="or_2", bed="bed_2"), SCHEDULER), deps)  # one C-arm till 18:00

    booked = book_option(BookOption(option(QUICK_TURNOVER, local(CASE_DAY, "17:00")), SCHEDULER), deps)

    (c_arm,) = [a for a in booked.allocations if a.role == "c_arm"]
    assert (c_arm.lane, c_arm.end) == (1, local(CASE_DAY, "20:00")), "the other unit, with its reprocessing"


def test_find_sees_cases_a_long_sterilization_cycle_would_run_into(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    no_bed = knee_replacement(bed=None)
    store.put(no_bed, equipment(sterilization_minutes=48 * 60), room("or_2"))  # ethylene oxide
    book_option(BookOption(option(no_bed, local("2026-06-05", "10:00"), patient_id="pt_2", room="or_2",
                                  bed=None), SCHEDULER), deps)
    start = local(CASE_DAY, "07:00")

    found = find(FindRequest(ServiceId(no_bed.id), PatientId("pt_1"), start, start + timedelta(hours=12),
                             limit=20), deps)

    assert found.options
    for opt in found.options:
        assert check(CheckOption(opt, SCHEDULER), deps) == [], opt.start
