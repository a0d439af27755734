"""find fills two roles of one case with two different people, as the check requires.

Each role's feasible starts are computed on their own, so one surgeon free all day makes
both "surgeon" and "assistant" look feasible all day; the case is only possible while a
second surgeon is there too.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.factories import CASE_DAY, NEW_YORK, block, clinician, consult, local
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.preference_cards import RoleRequirement
from careflow.services.booking import BookingDeps, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
ASSISTED = consult(roles=(*consult().roles, RoleRequirement("assistant", "surgeon")))
DAY_START = local(CASE_DAY, "07:00")


def assisted_consults(deps: BookingDeps) -> list[tuple[str, str, str]]:
    found = find(FindRequest(ServiceId(ASSISTED.id), PatientId("pt_1"), DAY_START,
                             DAY_START + timedelta(days=1)), deps)
    for opt in found.options:
        assert check(CheckOption(opt, SCHEDULER), deps) == []
    return [(o.start.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M"),
             *(a.resource_id for a in o.allocations if a.role in ("clinician", "assistant")))
            for o in sorted(found.options, key=lambda o: o.start)]


def test_a_case_needing_two_surgeons_is_found_while_the_second_one_works(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(ASSISTED, clinician("dr_two", blocks=(block("10:00", "12:00"),)))

    options = assisted_consults(deps)

    starts = [start for start, *_ in options]
    assert (starts[0], starts[-1]) == ("10:00", "11:30")
    assert all("10:00" <= start <= "11:30" for start in starts)
    assert all(set(people) == {"dr_bone", "dr_two"} for _, *people in options)


def test_the_only_surgeon_who_can_take_a_role_is_kept_for_it(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    # Only dr_bone holds the privilege the lead role needs; dr_two can only assist.
    lead = RoleRequirement("clinician", "surgeon", specialty="orthopedics", privilege="knee_arthroplasty")
    store.put(consult(roles=(RoleRequirement("assistant", "surgeon"), lead)),
              clinician("dr_two", privileges=frozenset()))

    options = assisted_consults(deps)

    assert options
    assert all(people == ["dr_two", "dr_bone"] for _, *people in options)
