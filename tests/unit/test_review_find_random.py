"""Every option find proposes passes the booking check, and find misses none it was asked for.

Random bookings over three days, with working-hour limits, a license that lapses, a pool
whose headcount changes through the day and loses a nurse to a call-out, a C-arm with a
sterilization cycle, implants near their reorder point, a patient who prefers afternoons
or evenings, with and without the calendar read model. When ten options are asked for and
ten starts would pass the check, find proposes ten, not only the first and last start of
each free stretch.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

import pytest
from tests.factories import (
    CASE_DAY,
    authorization,
    bed,
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
from careflow.domain.commands import BookOption, CheckOption, OverrideRequest
from careflow.domain.errors import Conflict
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.patients import Preferences
from careflow.domain.resources import ContractLimits
from careflow.services.booking import BookingDeps, book_option, check
from careflow.services.calendar_cache import CalendarCache
from careflow.services.catalogs import CatalogCache
from careflow.services.finding import find

COORDINATOR = Actor("u_coordinator", frozenset({"perioperative_coordinator"}))
DAY_START = local(CASE_DAY, "07:00")


def busy_days(store: FakeUnitOfWorkFactory, deps: BookingDeps, rng: random.Random) -> None:
    callout = closed(local(CASE_DAY, "11:00"), local(CASE_DAY, "13:00"), ExceptionKind.CALL_OUT,
                     capacity_delta=1)
    store.put(room("or_2"), room("exam_2", room_type="exam", capabilities=frozenset()),
              bed("bed_2"), bed("bed_3"),
              clinician("dr_two", contract=ContractLimits(max_hours_day=rng.choice([3, 6, 12]),
                                                          max_hours_week=rng.choice([10, 20, 60]),
                                                          overtime_threshold_week=rng.choice([5, 10]))),
              clinician("dr_bone", license_until=rng.choice([date(2026, 6, 4), date(2030, 1, 1)]),
                        contract=ContractLimits(max_hours_day=rng.choice([4, 12]),
                                                overtime_threshold_week=rng.choice([8, 40]))),
              staff_pool(headcount=3, blocks=(block(capacity=2), block("10:00", "15:00")),
                         exceptions=(callout,) if rng.random() < 0.5 else ()),
              equipment(sterilization_minutes=rng.choice([0, 30, 90])),
              stock(on_hand=rng.choice([3, 5, 20]), threshold=rng.choice([0, 2, 3])),
              replace(patient("pt_1"),
                      preferences=Preferences(time_of_day=rng.choice([None, "afternoon", "evening"]))),
              patient("pt_4"), authorization("pt_4"))
    services = [knee_replacement(), consult(), infusion()]
    for _ in range(rng.randrange(5, 25)):
        service = rng.choice(services)
        start = DAY_START + timedelta(days=rng.randrange(0, 3), minutes=15 * rng.randrange(0, 44))
        who = rng.choice(["pt_2", "pt_3", "pt_4"])
        team: dict[str, str] = {"interpreter": "interpreters"} if who == "pt_3" else {}
        if service.id == "svc_knee":
            team |= {"room": rng.choice(["or_1", "or_2"]), "surgeon": rng.choice(["dr_bone", "dr_two"]),
                     "bed": rng.choice(["bed_1", "bed_2", "bed_3"])}
        elif service.id == "svc_consult":
            team |= {"room": rng.choice(["exam_1", "exam_2"]),
                     "clinician": rng.choice(["dr_bone", "dr_two"])}
        try:
            book_option(BookOption(option(service, start, patient_id=who, **team), COORDINATOR,
                                   OverrideRequest("approved")), deps)
        except Conflict:
            continue  # refused: the time or a resource was taken, which is the point


@pytest.mark.parametrize("seed", range(16))
def test_every_option_passes_the_booking_check(seed: int, store: FakeUnitOfWorkFactory,
                                               clock: FixedClock) -> None:
    rng = random.Random(seed)
    deps = BookingDeps(uow=store, catalogs=CatalogCache(), clock=clock,
                       calendar=CalendarCache() if seed % 2 else None)
    busy_days(store, deps, rng)

    for service in ("svc_knee", "svc_consult", "svc_infusion"):
        for who in ("pt_1", "pt_3"):
            found = find(FindRequest(ServiceId(service), PatientId(who), DAY_START,
                                     DAY_START + timedelta(days=3), limit=rng.choice([3, 10, 25])), deps)
            for opt in found.options:
                assert check(CheckOption(opt, COORDINATOR), deps) == list(opt.warnings), (service, who,
                                                                                          opt.start)


@pytest.mark.parametrize("seed", range(3))
def test_find_returns_as_many_options_as_asked_when_that_many_starts_pass_the_check(
        seed: int, store: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    rng = random.Random(seed)
    deps = BookingDeps(uow=store, catalogs=CatalogCache(), clock=clock)
    busy_days(store, deps, rng)
    knee = knee_replacement()

    for who in ("pt_1", "pt_3"):
        found = find(FindRequest(ServiceId(knee.id), PatientId(who), DAY_START,
                                 DAY_START + timedelta(hours=12), limit=10), deps)
        interpreter = {"interpreter": "interpreters"} if who == "pt_3" else {}
        feasible = {start for start in (DAY_START + timedelta(minutes=15 * k) for k in range(48))
                    for theatre in ("or_1", "or_2") for surgeon in ("dr_bone", "dr_two")
                    for ward_bed in ("bed_1", "bed_2", "bed_3")
                    if not [v for v in check(CheckOption(option(
                        knee, start, patient_id=who, room=theatre, surgeon=surgeon, bed=ward_bed,
                        **interpreter), COORDINATOR), deps) if v.is_hard]}

        assert len(found.options) >= min(10, len(feasible)), (who, sorted(feasible))
