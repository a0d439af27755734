"""Proposed starts sit on a local grid that every full hour belongs to.

A service's ``slot_minutes`` keeps starts on tidy wall-clock times. A grid of 45 or 50
minutes counted from midnight (or from 1970) misses 07:00, when clinics open, and drifts
from one day to the next; every full hour is a grid point here, in the site's own zone,
on both sides of a daylight-saving change.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.factories import BERLIN, NEW_YORK, infusion, small_system
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.services.booking import BookingDeps
from careflow.services.catalogs import CatalogCache
from careflow.services.finding import find

CHICAGO = "America/Chicago"
DAYS = [(NEW_YORK, "2026-03-08"), (NEW_YORK, "2026-11-01"), (BERLIN, "2026-03-29"),
        (BERLIN, "2026-10-25"), (CHICAGO, "2026-06-03")]


def first_starts(zone: str, day: str, slot_minutes: int, days: int = 1) -> list[datetime]:
    """The first proposed infusion start (chairs open 07:00-19:00 local) on each day."""
    store = FakeUnitOfWorkFactory.of(small_system(zone))
    store.put(infusion(slot_minutes=slot_minutes))
    tz = ZoneInfo(zone)
    begin = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=tz)
    deps = BookingDeps(uow=store, catalogs=CatalogCache(), clock=FixedClock(begin - timedelta(days=1)))
    out = []
    for i in range(days):
        lo = begin + timedelta(days=i)
        found = find(FindRequest(ServiceId("svc_infusion"), PatientId("pt_1"), lo, lo + timedelta(days=1)),
                     deps)
        out.append(min(o.start for o in found.options).astimezone(tz))
    return out


@pytest.mark.parametrize("slot_minutes", [40, 45, 50, 90])
@pytest.mark.parametrize(("zone", "day"), DAYS, ids=[f"{z}-{d}" for z, d in DAYS])
def test_a_clinic_opening_at_seven_offers_seven_whatever_the_slot_length(
        zone: str, day: str, slot_minutes: int) -> None:
    (first,) = first_starts(zone, day, slot_minutes)

    assert first.strftime("%Y-%m-%d %H:%M") == f"{day} 07:00"


def test_a_fifty_minute_grid_does_not_drift_from_day_to_day() -> None:
    starts = first_starts(NEW_YORK, "2026-06-01", 50, days=5)

    assert [t.strftime("%H:%M") for t in starts] == ["07:00"] * 5
