"""Malformed or impossible requests are refused with InvalidRequest naming the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tests.factories import CASE_DAY, consult, local, option, site, stock

from careflow.domain.access import Actor
from careflow.domain.commands import (
    BookOption,
    CancelBooking,
    CheckOption,
    OverrideRequest,
    PlaceHold,
    RescheduleBooking,
)
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.ids import PatientId, ServiceId, SiteId
from careflow.domain.options import FindRequest, Option
from careflow.domain.preference_cards import ItemRequirement
from careflow.domain.sites import Position
from careflow.domain.timespans import Interval
from careflow.services.booking import BookingDeps, book_option, check

ACTOR = Actor("u_scheduler", frozenset({"scheduler"}))
NAIVE = datetime(2026, 6, 3, 9, 0)
START = local(CASE_DAY, "09:00")
END = START + timedelta(minutes=30)


def find(earliest: datetime = START, latest: datetime = START + timedelta(days=7),
         limit: int = 10) -> FindRequest:
    return FindRequest(ServiceId("svc_consult"), PatientId("pt_1"), earliest, latest, limit=limit)


def an_option(start: datetime = START, end: datetime = END) -> Option:
    return Option(ServiceId("svc_consult"), PatientId("pt_1"), SiteId("site_main"), start, end, ())


BAD_REQUESTS: dict[str, tuple[Callable[[], object], str]] = {
    "a naive option start": (lambda: an_option(start=NAIVE, end=END), "start"),
    "a naive option end": (lambda: an_option(end=NAIVE), "end"),
    "a naive search start": (lambda: find(earliest=NAIVE), "earliest"),
    "a naive search end": (lambda: find(latest=NAIVE), "latest"),
    "a naive interval": (lambda: Interval(NAIVE, END), "start"),
    "an option that ends before it starts": (lambda: an_option(end=START - timedelta(1)), "end"),
    "an interval that ends before it starts": (lambda: Interval(END, START), "end"),
    "a search that ends before it starts": (lambda: find(latest=START - timedelta(days=1)), "latest"),
    "a search window over 366 days": (lambda: find(latest=START + timedelta(days=367)), "latest"),
    "an implant quantity of zero": (lambda: ItemRequirement("knee_implant", 0), "quantity"),
    "a negative supply quantity": (lambda: ItemRequirement("gauze", -2), "quantity"),
    "a limit of zero options": (lambda: find(limit=0), "limit"),
    "a limit of 101 options": (lambda: find(limit=101), "limit"),
    "an empty cancel reason": (lambda: CancelBooking("bk_1", "", ACTOR), "reason"),
    "a blank reschedule reason": (lambda: RescheduleBooking("bk_1", an_option(), " \n", ACTOR), "reason"),
    "a cancel reason of 2001 characters": (lambda: CancelBooking("bk_1", "x" * 2001, ACTOR), "reason"),
    "an override without a reason": (lambda: OverrideRequest(""), "override.reason"),
    "a hold of zero minutes": (lambda: PlaceHold(an_option(), ACTOR, hold_minutes=0), "hold_minutes"),
    "a hold of over a day": (lambda: PlaceHold(an_option(), ACTOR, hold_minutes=1441), "hold_minutes"),
    "negative stock": (lambda: stock(on_hand=-1), "on_hand"),
    "an unknown time zone": (lambda: site(timezone="Mars/Olympus_Mons"), "timezone"),
    "a position off the Earth": (lambda: Position(91.0, 0.0), "position"),
    "a consult of no minutes": (lambda: consult(duration_minutes=0), "duration_minutes"),
}


@pytest.mark.parametrize("request_name", list(BAD_REQUESTS))
def test_a_malformed_request_is_refused_naming_the_field(request_name: str) -> None:
    make, field = BAD_REQUESTS[request_name]

    with pytest.raises(InvalidRequest) as refused:
        make()

    assert refused.value.field == field
    assert refused.value.message


def test_a_search_window_of_exactly_366_days_is_accepted() -> None:
    assert find(latest=START + timedelta(days=366)).latest == (START + timedelta(days=366)).astimezone(UTC)


def test_an_option_with_a_role_not_on_the_card_is_refused(deps: BookingDeps) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check(CheckOption(option(consult(), START, anesthesiologist="dr_sleep"), ACTOR), deps)

    assert refused.value.field == "allocations"


def test_an_option_with_an_unknown_resource_is_not_found(deps: BookingDeps) -> None:
    with pytest.raises(NotFound) as missing:
        book_option(BookOption(option(consult(), START, room="exam_99"), ACTOR), deps)

    assert (missing.value.kind, missing.value.ident) == ("resource", "exam_99")


def test_an_option_for_an_unknown_patient_is_not_found(deps: BookingDeps) -> None:
    with pytest.raises(NotFound) as missing:
        check(CheckOption(option(consult(), START, patient_id="pt_nobody"), ACTOR), deps)

    assert missing.value.kind == "patient"
