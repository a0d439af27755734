"""No-show facts of a careflow booking, and the site's observed rate as a fallback predictor.

``facts_of`` turns a booking, its patient and the patient's other bookings into the
port's ``AppointmentFacts``, using only what was known when the booking was made and
the outcomes of the patient's appointments on earlier days (arrived or fulfilled: came;
no-show: missed). careflow records no SMS reminders (``reminder_sent`` is False) and no
patient area (``area`` is empty).

``ObservedRatePredictor`` is what overbooking uses when the operator has configured no
no-show model: every appointment at the site gets the site's observed no-show rate over
its finished appointments (no-shows / (no-shows + arrived + fulfilled)). It says so in its
version and explanation, and it declines (``declines``) below ``MIN_FINISHED`` finished
appointments: too little history to overbook on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from careflow.domain.bookings import Booking, BookingStatus
from careflow.predict.ports import AppointmentFacts, Contribution

__all__ = ["MIN_FINISHED", "ObservedRatePredictor", "facts_of"]

MIN_FINISHED = 20
CAME = frozenset({BookingStatus.ARRIVED, BookingStatus.FULFILLED})
FINISHED = CAME | {BookingStatus.NO_SHOW}


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return years if 0 <= years <= 115 else None


def facts_of(booking: Booking, birth_date: date | None, zone: ZoneInfo,
             others: Iterable[Booking]) -> AppointmentFacts:
    """The facts of ``booking`` (site-local days) given the patient's other bookings."""
    day = booking.start.astimezone(zone).date()
    made: datetime = booking.created_at or booking.start
    made_local = made.astimezone(zone)
    earlier = [b for b in others if b.id != booking.id and b.status in FINISHED
               and b.start.astimezone(zone).date() < day]
    same_day = [b for b in others if b.id != booking.id and b.status not in (BookingStatus.CANCELLED,
                                                                              BookingStatus.EXPIRED)
                and b.start.astimezone(zone).date() == day
                and (b.created_at or b.start) <= made]
    leads = [((b.start.astimezone(zone).date() - (b.created_at or b.start).astimezone(zone).date()).days)
             for b in earlier]
    last = max((b.start.astimezone(zone).date() for b in earlier), default=None)
    return AppointmentFacts(
        lead_days=max(0, (day - made_local.date()).days), weekday=day.weekday(), hour_booked=made_local.hour,
        reminder_sent=False, age=_age(birth_date, day), area="",
        prior_appointments=len(earlier),
        prior_no_shows=sum(1 for b in earlier if b.status is BookingStatus.NO_SHOW),
        days_since_last=(day - last).days if last is not None else None,
        same_day_appointments=1 + len(same_day),
        prior_mean_lead_days=sum(leads) / len(leads) if leads else None)


class ObservedRatePredictor:
    """Implements ``NoShowPredictor`` with one number: the site's observed no-show rate."""

    def __init__(self, site_id: str, no_shows: int, finished: int) -> None:
        self.site_id, self.no_shows, self.finished = site_id, no_shows, finished
        self.rate = no_shows / finished if finished else 0.0

    @classmethod
    def of(cls, site_id: str, bookings: Iterable[Booking]) -> ObservedRatePredictor:
        """The rate over the site's finished bookings among ``bookings``."""
        finished = [b for b in bookings if b.site_id == site_id and b.status in FINISHED]
        return cls(site_id, sum(1 for b in finished if b.status is BookingStatus.NO_SHOW), len(finished))

    @property
    def version(self) -> str:
        return f"observed-rate:{self.site_id}:{self.no_shows}/{self.finished}"

    @property
    def declines(self) -> str | None:
        """Why this predictor will not advise overbooking (None: it will)."""
        if self.finished < MIN_FINISHED:
            return (f"only {self.finished} finished appointments at {self.site_id} "
                    f"(at least {MIN_FINISHED} are needed to overbook on the observed rate)")
        return None

    def probability(self, facts: AppointmentFacts) -> float:
        """The site's rate, whatever the appointment."""
        return self.rate

    def explain(self, facts: AppointmentFacts) -> list[Contribution]:
        """One reason: the site's rate, as log-odds."""
        rate = min(max(self.rate, 1e-6), 1 - 1e-6)
        return [(f"site no-show rate {self.no_shows}/{self.finished}", round(math.log(rate / (1 - rate)), 4))]
