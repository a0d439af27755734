"""find across sites in different time zones judges each site by its own local dates.

An authorization valid through 3 June covers a case that starts on 3 June at the site,
in the site's time zone: at 23:30 in Los Angeles it is already 4 June in New York.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from tests.factories import CASE_DAY, authorization, block, clinician, consult, local, room, site
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.preference_cards import Prerequisites
from careflow.domain.sites import SiteKind
from careflow.services.booking import BookingDeps, check
from careflow.services.finding import find

LOS_ANGELES = "America/Los_Angeles"
SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
EVENINGS = (block("18:00", "00:00"),)


def test_an_evening_clinic_in_another_zone_is_judged_by_its_own_dates(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    authorized = consult(prerequisites=Prerequisites(authorization=True))
    store.put(authorized, authorization("pt_1", "svc_consult", valid_to=date(2026, 6, 3)),
              site("site_west", kind=SiteKind.CLINIC, timezone=LOS_ANGELES),
              room("exam_w", room_type="exam", capabilities=frozenset(), site_id="site_west",
                   blocks=EVENINGS),
              clinician("dr_west", site_id="site_west", blocks=EVENINGS))
    start = local(CASE_DAY, "07:00")

    found = find(FindRequest(ServiceId("svc_consult"), PatientId("pt_1"), start,
                             start + timedelta(days=1), limit=4), deps)  # each site's first and last

    west = [o.start.astimezone(ZoneInfo(LOS_ANGELES)) for o in found.options if o.site_id == "site_west"]
    assert local(CASE_DAY, "23:30", LOS_ANGELES) in west, west
    assert all(t.date() == date(2026, 6, 3) for t in west)
    assert all(check(CheckOption(o, SCHEDULER), deps) == [] for o in found.options)


def test_the_prerequisites_of_a_later_zone_do_not_hide_a_site_that_qualifies(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    authorized = consult(prerequisites=Prerequisites(authorization=True))
    store.put(authorized, authorization("pt_1", "svc_consult", valid_to=date(2026, 6, 3)),
              site("site_west", kind=SiteKind.CLINIC, timezone=LOS_ANGELES),
              room("exam_w", room_type="exam", capabilities=frozenset(), site_id="site_west",
                   blocks=EVENINGS),
              clinician("dr_west", site_id="site_west", blocks=EVENINGS))
    start = local("2026-06-04", "00:30")  # 3 June, 21:30 in Los Angeles

    found = find(FindRequest(ServiceId("svc_consult"), PatientId("pt_1"), start,
                             start + timedelta(hours=3), limit=2), deps)

    assert [(o.site_id, o.start) for o in found.options] == [
        ("site_west", local(CASE_DAY, "21:30", LOS_ANGELES)),
        ("site_west", local(CASE_DAY, "23:30", LOS_ANGELES))]
