"""Starts inside a long free stretch are proposed too, not only its first and last.

The first and last start of each gap pack the day; but a scheduler asking for ten
options for a free day must not get two, and a patient who prefers afternoons must be
offered one when the room is free all afternoon (15 points for the wrong time of day
outweigh a few hours of waiting).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.factories import CASE_DAY, NEW_YORK, local, patient
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest, Option
from careflow.domain.patients import Preferences
from careflow.services.booking import BookingDeps, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
DAY_START = local(CASE_DAY, "07:00")


def consults(deps: BookingDeps, limit: int) -> list[Option]:
    found = find(FindRequest(ServiceId("svc_consult"), PatientId("pt_1"), DAY_START,
                             DAY_START + timedelta(days=1), limit=limit), deps)
    for opt in found.options:
        assert check(CheckOption(opt, SCHEDULER), deps) == []
    return found.options


def hhmm(opt: Option) -> str:
    return opt.start.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M")


def test_a_free_day_yields_as_many_options_as_asked(deps: BookingDeps) -> None:
    options = consults(deps, limit=8)

    assert len(options) == 8
    assert len({o.start for o in options}) == 8
    assert hhmm(options[0]) == "07:00", "the day's first start still ranks first"
    assert "18:30" in [hhmm(o) for o in options], "and its last is still proposed"


def test_a_patient_who_prefers_afternoons_is_offered_one_first(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(replace(patient("pt_1"), preferences=Preferences(time_of_day="afternoon")))

    best = consults(deps, limit=3)[0]

    assert hhmm(best) == "12:00"
    assert not any(r.factor == "preference" for r in best.reasons)
