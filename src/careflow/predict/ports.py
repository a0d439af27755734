"""The Predictor port for no-show risk: careflow's own appointment facts in, advice out.

A prediction is advice: a probability and the reasons for it, never a decision. The
facts are what is known about one appointment when it is scored (plain Python, no
pandas), so a booking request can ask for one prediction in well under a millisecond.

What is known when:
- at booking: the lead time, the weekday of the appointment, the hour it was booked,
  whether a reminder is (to be) sent, the patient's age and area, and the patient's other
  appointments already booked for the same day;
- by the day before the appointment: the outcomes of the patient's appointments on
  earlier days (``prior_*`` and ``days_since_last``). Outcomes of appointments on the same
  day or later are never facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["AppointmentFacts", "Contribution", "NoShowPredictor"]

Contribution = tuple[str, float]
"""A feature's name and how much it moved the risk: log-odds, positive raises the risk."""


@dataclass(frozen=True, slots=True)
class AppointmentFacts:
    """What is known about one appointment when its no-show risk is asked for.

    ``lead_days``: whole days from the day it was booked to the appointment day (0: booked
    for the same day). ``weekday``: the appointment's day, 0 = Monday. ``hour_booked``: the
    hour of day it was booked (0–23). ``age``: None when unknown or implausible.
    ``prior_appointments`` / ``prior_no_shows``: the patient's appointments on earlier days
    and how many of them were missed; ``days_since_last``: days since the latest of them
    (None without one). ``same_day_appointments``: this patient's appointments on that day
    booked no later than this one, itself included. ``prior_mean_lead_days``: the mean lead
    time of the earlier-day appointments (None without one).
    """

    lead_days: int
    weekday: int
    hour_booked: int
    reminder_sent: bool
    age: int | None
    area: str
    prior_appointments: int = 0
    prior_no_shows: int = 0
    days_since_last: int | None = None
    same_day_appointments: int = 1
    prior_mean_lead_days: float | None = None

    @property
    def same_day_booking(self) -> bool:
        """Booked for the day it was booked on."""
        return self.lead_days <= 0


@runtime_checkable
class NoShowPredictor(Protocol):
    """The probability that a patient does not come, and why: advice for a scheduler."""

    @property
    def version(self) -> str:
        """The model's version, recorded with every prediction it makes (audit)."""
        ...

    def probability(self, facts: AppointmentFacts) -> float:
        """The calibrated probability (0–1) that the patient does not come."""
        ...

    def explain(self, facts: AppointmentFacts) -> list[Contribution]:
        """The features that moved this prediction, largest effect first."""
        ...
