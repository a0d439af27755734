"""careflow's own booking history as the models' inputs: cases, daily volumes, shift shares.

careflow records no in-room times (arrival and fulfilment are when staff marked them, not
wheels-in and wheels-out), so a completed case's length is its fulfilled booking's case
interval, ``end − start``, and its surgeon is the clinician in the card's first clinician
role. Demand counts the bookings that kept their day (booked, arrived, fulfilled or
missed: a no-show was demand too), by the site's local calendar day of their start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.catalog import Catalog
from careflow.predict.demand import DailyCount
from careflow.predict.duration import CaseRecord
from careflow.predict.shift_demand import SHIFTS, Shift, shift_of

__all__ = ["DEMAND_STATUSES", "case_records", "daily_counts", "primary_clinician", "service_mix",
           "shift_shares", "specialty_of"]

DEMAND_STATUSES = frozenset({BookingStatus.BOOKED, BookingStatus.ARRIVED, BookingStatus.FULFILLED,
                             BookingStatus.NO_SHOW})


def primary_clinician(booking: Booking, catalog: Catalog) -> str | None:
    """The clinician in the card's first clinician role (the surgeon of a case), if any."""
    service = catalog.services.get(booking.service_id)
    if service is None or not service.roles:
        return None
    role = service.roles[0].role
    return next((str(a.resource_id) for a in booking.allocations if a.role == role), None)


def case_records(bookings: Iterable[Booking], catalog: Catalog) -> list[CaseRecord]:
    """A ``CaseRecord`` per fulfilled booking with a primary clinician."""
    out: list[CaseRecord] = []
    for b in bookings:
        if b.status is not BookingStatus.FULFILLED:
            continue
        surgeon = primary_clinician(b, catalog)
        if surgeon is not None:
            minutes = (b.end - b.start).total_seconds() / 60.0
            out.append(CaseRecord(str(b.service_id), surgeon, minutes, b.end))
    return out


def specialty_of(booking: Booking, catalog: Catalog) -> str | None:
    service = catalog.services.get(booking.service_id)
    return service.specialty if service is not None else None


def _in_series(b: Booking, catalog: Catalog, site_id: str, specialty: str) -> bool:
    return b.status in DEMAND_STATUSES and b.site_id == site_id and specialty_of(b, catalog) == specialty


def daily_counts(bookings: Iterable[Booking], catalog: Catalog, site_id: str, specialty: str,
                 first: date, last: date) -> list[DailyCount]:
    """The series' volume on every local day in [first, last] (zeros included)."""
    zone = catalog.site(site_id).zone
    counts: Counter[date] = Counter()
    for b in bookings:
        if _in_series(b, catalog, site_id, specialty):
            counts[b.start.astimezone(zone).date()] += 1
    return [DailyCount(first + timedelta(days=i), counts[first + timedelta(days=i)])
            for i in range((last - first).days + 1)]


def service_mix(bookings: Iterable[Booking], catalog: Catalog, site_id: str,
                specialty: str) -> dict[str, float]:
    """Each service's share of the series' bookings."""
    counts = Counter(str(b.service_id) for b in bookings if _in_series(b, catalog, site_id, specialty))
    total = sum(counts.values())
    return {s: n / total for s, n in sorted(counts.items())} if total else {}


def shift_shares(bookings: Iterable[Booking], catalog: Catalog, site_id: str, specialty: str,
                 shifts: tuple[Shift, ...] = SHIFTS) -> dict[str, float]:
    """The share of the series' bookings that started in each shift (local time)."""
    zone = catalog.site(site_id).zone
    counts = Counter(shift_of(b.start.astimezone(zone).time(), shifts) for b in bookings
                     if _in_series(b, catalog, site_id, specialty))
    total = sum(counts.values())
    return {s.name: counts[s.name] / total for s in shifts} if total else {}

