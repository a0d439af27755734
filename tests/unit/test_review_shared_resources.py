"""A shared resource (capacity above one) that is closed is unavailable, not over capacity.

CAPACITY_EXCEEDED means every place is taken; an infusion bay closed for a holiday, a pair
of C-arms in maintenance or a closed four-bed bay are explained by the code a single
resource would get.
"""

from __future__ import annotations

from dataclasses import replace

from tests.factories import (
    CASE_DAY,
    authorization,
    bed,
    block,
    closed,
    equipment,
    infusion,
    knee_replacement,
    local,
    option,
    patient,
    room,
)
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.calendars import Availability, ExceptionKind
from careflow.domain.commands import BookOption, CheckOption
from careflow.domain.options import Option
from careflow.domain.preference_cards import RoomRequirement
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_option, check

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
BAY_INFUSION = infusion(room=RoomRequirement("infusion"))
HOLIDAY = closed(local(CASE_DAY, "00:00"), local("2026-06-04", "00:00"), ExceptionKind.CLOSURE)


def codes_for(deps: BookingDeps, opt: Option, subject: str) -> list[ViolationCode]:
    return [v.code for v in check(CheckOption(opt, SCHEDULER), deps) if v.subject == subject]


def test_a_closed_two_place_bay_is_unavailable(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(BAY_INFUSION, room("bay_1", room_type="infusion", capabilities=frozenset(), capacity=2,
                                 exceptions=(HOLIDAY,)))

    assert codes_for(deps, option(BAY_INFUSION, local(CASE_DAY, "09:00"), room="bay_1"), "bay_1") == [
        ViolationCode.RESOURCE_UNAVAILABLE]


def test_a_full_two_place_bay_is_over_capacity(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(BAY_INFUSION, room("bay_1", room_type="infusion", capabilities=frozenset(), capacity=2),
              patient("pt_4"))
    for who in ("pt_2", "pt_4"):
        book_option(BookOption(option(BAY_INFUSION, local(CASE_DAY, "09:00"), patient_id=who,
                                      room="bay_1"), SCHEDULER), deps)

    assert codes_for(deps, option(BAY_INFUSION, local(CASE_DAY, "09:00"), room="bay_1"), "bay_1") == [
        ViolationCode.CAPACITY_EXCEEDED]


def test_a_pair_of_c_arms_in_maintenance_is_in_maintenance(deps: BookingDeps,
                                                           store: FakeUnitOfWorkFactory) -> None:
    service = closed(local(CASE_DAY, "06:00"), local(CASE_DAY, "14:00"), ExceptionKind.MAINTENANCE)
    pair = replace(equipment(exceptions=(service,)), capacity=2,
                   availability=Availability((block(capacity=2),), (service,)))
    store.put(pair)

    assert codes_for(deps, option(knee_replacement(), local(CASE_DAY, "08:00")), "c_arm_1") == [
        ViolationCode.EQUIPMENT_IN_MAINTENANCE]


def test_a_full_two_bed_bay_leaves_no_bed(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    stay = knee_replacement(roles=(), staff=(), equipment=())  # the room and the bed only
    bay = replace(bed("bay_beds"), capacity=2,
                  availability=Availability((block("00:00", "12:00", capacity=2),
                                             block("12:00", "00:00", capacity=2))))
    store.put(stay, bay, room("or_2"), room("or_3"), patient("pt_4"), authorization("pt_4"))

    def case(who: str, theatre: str) -> Option:
        return option(stay, local(CASE_DAY, "08:00"), patient_id=who, room=theatre, bed="bay_beds",
                      surgeon=None, anesthesiologist=None, preop_nurse=None, c_arm=None)

    for who, theatre in (("pt_2", "or_2"), ("pt_4", "or_3")):
        book_option(BookOption(case(who, theatre), SCHEDULER), deps)

    assert codes_for(deps, case("pt_1", "or_1"), "bay_beds") == [ViolationCode.BED_UNAVAILABLE]
