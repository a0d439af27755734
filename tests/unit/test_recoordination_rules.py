"""Re-coordination's pure parts: which events remove capacity, how disruptive a fix is,
and the waitlist's lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careflow.domain.bookings import Allocation, Booking, BookingStatus
from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import Option
from careflow.domain.waitlist import WaitlistEntry
from careflow.services.recoordination import Trigger, _closed_under, _ranked

T0 = datetime(2030, 3, 4, 14, 0, tzinfo=UTC)


def test_only_events_that_remove_capacity_trigger_a_run() -> None:
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=4)).isoformat()}
    called_out = Trigger.of_event(7, "ClinicianCalledOut", {"aggregate_id": "dr_a", **window})
    assert called_out is not None
    assert (called_out.resource_ids, called_out.start, called_out.closes_fully) == (("dr_a",), T0, True)
    partial = Trigger.of_event(8, "ClinicianCalledOut",
                               {"aggregate_id": "pool", "capacity_delta": 1, **window})
    assert partial is not None and not partial.closes_fully
    assert Trigger.of_event(9, "ClinicianAvailabilityChanged",
                            {"aggregate_id": "dr_a", "available": True, **window}) is None
    assert Trigger.of_event(9, "ClinicianAvailabilityChanged",
                            {"aggregate_id": "dr_a", "available": False, **window}) is not None
    assert Trigger.of_event(10, "AuthorizationChanged", {"aggregate_id": "a1", "status": "approved"}) is None
    denied = Trigger.of_event(10, "AuthorizationChanged", {"aggregate_id": "a1", "status": "denied",
                                                           "patient_id": "p1", "service_id": "s1"})
    assert denied is not None and (denied.patient_id, denied.service_id) == ("p1", "s1")
    assert Trigger.of_event(11, "StockChanged", {"aggregate_id": "h/x", "site_id": "h", "sku": "x",
                                                 "shortfall": 0}) is None
    short = Trigger.of_event(11, "StockChanged", {"aggregate_id": "h/x", "site_id": "h", "sku": "x",
                                                  "shortfall": 2})
    assert short is not None and short.shortfall == 2
    assert Trigger.of_event(12, "BedCleaned", {"aggregate_id": "bed1"}) is None
    assert Trigger.from_dict(called_out.to_dict()) == called_out


def _booking(start: datetime, *resources: str) -> Booking:
    allocations = tuple(Allocation(ResourceId(r), role, start, start + timedelta(hours=1))
                        for r, role in zip(resources, ("surgeon", "room"), strict=False))
    return Booking(BookingId("b1"), PatientId("p1"), ServiceId("s1"), SiteId("h1"), start,
                   start + timedelta(hours=1), BookingStatus.BOOKED, allocations)


def _option(start: datetime, *resources: str, site: str = "h1", score: float = 0.0) -> Option:
    b = _booking(start, *resources)
    return Option(b.service_id, b.patient_id, SiteId(site), start, start + timedelta(hours=1), b.allocations,
                  score=score)


def test_the_least_disruptive_fix_ranks_first() -> None:
    booking = _booking(T0, "dr_a", "or_1")
    swap = _option(T0, "dr_b", "or_1", score=50)  # same time, one resource changed
    later = _option(T0 + timedelta(hours=2), "dr_a", "or_1")  # two hours later, same team
    elsewhere = _option(T0, "dr_c", "or_9", site="h2")
    both = _option(T0 + timedelta(minutes=15), "dr_b", "or_2")
    assert _ranked(booking, [elsewhere, later, both, swap]) == [swap, both, later, elsewhere]


def test_a_full_closure_breaks_the_allocation_without_a_recheck() -> None:
    booking = _booking(T0, "dr_a", "or_1")
    trig = Trigger(1, "ClinicianCalledOut", "dr_a", ("dr_a",), T0 - timedelta(hours=1),
                   T0 + timedelta(minutes=1), closes_fully=True)
    found = _closed_under(booking, trig)
    assert found is not None and (found.code.value, found.subject) == ("RESOURCE_UNAVAILABLE", "dr_a")
    outside = Trigger(1, "ClinicianCalledOut", "dr_a", ("dr_a",), T0 + timedelta(hours=1),
                      T0 + timedelta(hours=2), closes_fully=True)
    assert _closed_under(booking, outside) is None
    partial = Trigger(1, "ClinicianCalledOut", "dr_a", ("dr_a",), T0, T0 + timedelta(hours=2))
    assert _closed_under(booking, partial) is None, "a partial call-out needs the real re-check"


def test_the_waitlist_lifecycle() -> None:
    entry = WaitlistEntry("wl1", "p1", "s1", ("h1",), T0, T0 + timedelta(days=5), "high", T0, "u1")
    assert entry.wants("h1", T0 + timedelta(days=1)) and not entry.wants("h2", T0 + timedelta(days=1))
    assert not entry.wants("h1", T0 + timedelta(days=6))
    entry.offer("bk_hold", T0, T0 + timedelta(hours=2))
    assert (entry.status, entry.offers) == ("offered", 1) and not entry.wants("h1", T0 + timedelta(days=1))
    with pytest.raises(InvalidTransition):
        entry.offer("bk_other", T0, T0 + timedelta(hours=2))
    entry.offer_lapsed(T0)
    assert (entry.status, entry.offer_booking_id) == ("waiting", None)
    entry.offer("bk_hold2", T0, T0 + timedelta(hours=2))
    entry.accepted("bk_hold2", T0)
    assert entry.status == "booked"
    with pytest.raises(InvalidTransition):
        entry.withdraw(T0)
    with pytest.raises(InvalidRequest):
        WaitlistEntry("wl2", "p1", "s1", (), T0, T0, "normal", T0, "u1")
    with pytest.raises(InvalidRequest):
        WaitlistEntry("wl3", "p1", "s1", (), T0, T0 + timedelta(days=1), "asap", T0, "u1")
