"""find proposes a clinician only when the full check would accept them then.

Credentials that lapse inside the search window and working-hour maximums are part of the
feasible start set, so that find offers a colleague (or a later week) instead of spending
its whole search on slots the check refuses.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.factories import (
    BERLIN,
    CASE_DAY,
    NEW_YORK,
    block,
    clinician,
    consult,
    local,
    option,
    patient,
    room,
)
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.bookings import Allocation
from careflow.domain.checks import check_clinician_hours
from careflow.domain.commands import BookOption, CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.occupancy import Busy, Occupancy
from careflow.domain.options import FindRequest, Option
from careflow.domain.resources import ContractLimits, Resource
from careflow.domain.timespans import covers, from_ts
from careflow.domain.violations import ViolationCode
from careflow.planning.feasibility import calm_starts, contract_starts, local_bounds
from careflow.services.booking import BookingDeps, book_option, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
DAY_START = local(CASE_DAY, "07:00")  # Wednesday 3 June 2026


def consults(days: int, limit: int = 10, patient_id: str = "pt_1") -> FindRequest:
    return FindRequest(ServiceId("svc_consult"), PatientId(patient_id), DAY_START,
                       DAY_START + timedelta(days=days), limit=limit)


def local_days(options: list[Option]) -> list[date]:
    return sorted({o.start.astimezone(ZoneInfo(NEW_YORK)).date() for o in options})


def clinicians(opt: Option) -> list[str]:
    return [a.resource_id for a in opt.allocations if a.role == "clinician"]


def test_a_colleague_takes_the_days_after_a_surgeons_license_lapses(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", license_until=date(2026, 6, 3)), clinician("dr_two"))

    found = find(consults(days=3, limit=6), deps)  # the first and last start of each day

    assert local_days(found.options) == [date(2026, 6, 3), date(2026, 6, 4), date(2026, 6, 5)]
    for opt in found.options:
        if opt.start.astimezone(ZoneInfo(NEW_YORK)).date() > date(2026, 6, 3):
            assert clinicians(opt) == ["dr_two"]
        assert check(CheckOption(opt, SCHEDULER), deps) == []


def test_a_surgeon_at_the_weekly_maximum_is_offered_next_week(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", contract=ContractLimits(max_hours_week=1, overtime_threshold_week=1)),
              patient("pt_4"),
              *[room(f"exam_{i}", room_type="exam", capabilities=frozenset()) for i in range(2, 9)])
    for who, at in (("pt_2", "09:00"), ("pt_4", "10:00")):  # an hour this week already
        book_option(BookOption(option(consult(), local("2026-06-02", at), patient_id=who), SCHEDULER),
                    deps)

    found = find(consults(days=14), deps)

    assert found.options, f"nothing proposed: {found.blockers}"
    assert local_days(found.options)[0] == date(2026, 6, 8), "Monday of the next week"
    assert all(check(CheckOption(o, SCHEDULER), deps) == [] for o in found.options)


def test_a_surgeon_whose_day_is_full_is_offered_the_next_day(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", contract=ContractLimits(max_hours_day=1)), patient("pt_4"))
    for who, at in (("pt_2", "09:00"), ("pt_4", "10:00")):
        book_option(BookOption(option(consult(), local(CASE_DAY, at), patient_id=who), SCHEDULER), deps)

    found = find(consults(days=2), deps)

    assert local_days(found.options) == [date(2026, 6, 4)]


def random_fortnight(rng: random.Random, doctor: Resource, first: date,
                     zone: ZoneInfo) -> tuple[tuple[int, int], Occupancy]:
    """A 14-day window from local midnight of ``first`` and the doctor's random bookings
    around it (a week either side)."""
    lo = int(datetime.combine(first, datetime.min.time(), tzinfo=zone).timestamp())
    window = (lo, lo + 14 * 86400)
    busy, t = [], window[0] - 8 * 86400
    while t < window[1] + 9 * 86400:
        t += 900 * rng.randrange(1, 80)
        length = 900 * rng.randrange(1, 12)
        busy.append(Busy(t, t + length, 0, f"bk_{t}"))
        t += length
    return window, Occupancy(doctor, (window[0] - 9 * 86400, window[1] + 9 * 86400), [], busy)


@pytest.mark.parametrize("seed", range(8))
def test_the_contract_start_set_is_exactly_where_the_hours_check_passes(seed: int) -> None:
    rng = random.Random(seed)
    zone = ZoneInfo(BERLIN if seed % 2 else NEW_YORK)
    doctor = clinician("dr_night", blocks=(block("00:00", "12:00"), block("12:00", "00:00")),
                       contract=ContractLimits(max_hours_day=rng.choice([4, 4.1, 6, 8.2]),
                                               max_hours_week=rng.choice([20, 30, 35.8]),
                                               overtime_threshold_week=20))
    # Two weeks around a daylight-saving change: a day of 23 or 25 hours is in the window.
    first = rng.choice([date(2026, 3, 5) if zone.key == NEW_YORK else date(2026, 3, 26),
                        date(2026, 10, 22)])
    window, occ = random_fortnight(rng, doctor, first, zone)
    need = next(n for n in consult().needs(None) if n.role == "clinician")
    duration = 900 * rng.randrange(2, 16)

    allowed = contract_starts(need, occ, zone, local_bounds(window, zone), duration) or []

    for start in range(window[0], window[1], 900):
        alloc = Allocation(doctor.id, "clinician", from_ts(start), from_ts(start + duration))
        refused = [v for v in check_clinician_hours(occ, alloc, zone) if v.is_hard]
        assert covers(allowed, (start, start + 1)) == (not refused), (from_ts(start), refused)


@pytest.mark.parametrize("seed", range(6))
def test_the_calm_start_set_is_exactly_where_the_hours_check_asks_no_overtime_approval(seed: int) -> None:
    rng = random.Random(seed)
    zone = ZoneInfo(BERLIN if seed % 2 else NEW_YORK)
    doctor = clinician("dr_night", blocks=(block("00:00", "12:00"), block("12:00", "00:00")),
                       contract=ContractLimits(max_hours_day=24, max_hours_week=80,
                                               overtime_threshold_week=rng.choice([10, 16.4, 20, 36.3])))
    first = rng.choice([date(2026, 3, 5) if zone.key == NEW_YORK else date(2026, 3, 26), date(2026, 10, 22)])
    window, occ = random_fortnight(rng, doctor, first, zone)
    duration = 900 * rng.randrange(2, 16)

    calm = calm_starts(occ, local_bounds(window, zone), duration)

    asked_somewhere = False
    for start in range(window[0], window[1], 900):
        alloc = Allocation(doctor.id, "clinician", from_ts(start), from_ts(start + duration))
        found = check_clinician_hours(occ, alloc, zone)
        if any(v.is_hard for v in found) or occ.conflicts((start, start + duration)):
            continue  # refused outright, or the doctor is busy then: never offered
        asked = [v.code for v in found] == [ViolationCode.CLINICIAN_OVERTIME_NEEDS_APPROVAL]
        asked_somewhere |= asked
        assert (calm is None or covers(calm, (start, start + 1))) == (not asked), (from_ts(start), found)
    assert asked_somewhere == (calm is not None)


def test_a_surgeon_past_the_weekly_maximum_all_window_long_is_named_as_the_blocker(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", contract=ContractLimits(max_hours_week=1, overtime_threshold_week=1)),
              patient("pt_4"))
    for who, at in (("pt_2", "09:00"), ("pt_4", "10:00")):
        book_option(BookOption(option(consult(), local("2026-06-02", at), patient_id=who), SCHEDULER),
                    deps)

    found = find(consults(days=3), deps)

    assert found.options == []
    assert ViolationCode.CLINICIAN_HOURS_EXCEEDED in {v.code for v in found.blockers}


def test_a_surgeon_whose_license_lapsed_before_the_window_is_named_as_the_blocker(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", license_until=date(2026, 6, 2)))

    found = find(consults(days=3), deps)

    assert found.options == []
    assert ViolationCode.CLINICIAN_CREDENTIAL_EXPIRED in {v.code for v in found.blockers}
