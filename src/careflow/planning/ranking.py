"""How options are ranked: a documented penalty score, lower is better.

Default: the earliest feasible start wins, and the other factors break ties and trade
off against waiting. Every term an option pays is reported as a ``RankReason`` so a
scheduler can see why an option ranks where it does.

| factor      | points                                                             |
|-------------|--------------------------------------------------------------------|
| wait        | per day after the earliest possible start: routine 10, urgent 60,   |
|             | emergent 400                                                       |
| travel      | per km from the patient's home: routine 0.5, urgent 0.2, emergent 0 |
| preference  | 15 for a non-preferred weekday, 15 for the wrong time of day, 20   |
|             | for a non-preferred site                                           |
| utilization | per side of the case in its room: 0 when flush with a neighbour or |
|             | the day's edge, 12 when it leaves a gap shorter than an hour (or   |
|             | the case), 4 when it opens a usable gap                            |
| continuity  | 25 when the patient has usual or preferred clinicians and none is on the case |
| soft        | 30 per soft violation the option would need an override for |
"""

from __future__ import annotations

from dataclasses import dataclass, field

from careflow.domain.bookings import Urgency

__all__ = ["DEFAULT_WEIGHTS", "RankingWeights"]


@dataclass(frozen=True)
class RankingWeights:
    """The weights of the ranking score (see the module docstring)."""

    wait_per_day: dict[Urgency, float] = field(default_factory=lambda: {
        Urgency.ROUTINE: 10.0, Urgency.URGENT: 60.0, Urgency.EMERGENT: 400.0})
    travel_per_km: dict[Urgency, float] = field(default_factory=lambda: {
        Urgency.ROUTINE: 0.5, Urgency.URGENT: 0.2, Urgency.EMERGENT: 0.0})
    weekday_mismatch: float = 15.0
    time_of_day_mismatch: float = 15.0
    site_mismatch: float = 20.0
    gap_fragment: float = 12.0
    gap_opened: float = 4.0
    continuity_miss: float = 25.0
    soft_violation: float = 30.0
    fragment_minutes: int = 60


DEFAULT_WEIGHTS = RankingWeights()


def time_of_day(hour: int) -> str:
    """Morning before noon, afternoon before 17:00, evening after."""
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 17 else "evening"
