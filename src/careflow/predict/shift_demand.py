"""From forecast case volume to staff demand per shift, through the preference cards.

For one series (a specialty at a site) and one day, with ``V`` the day's forecast volume
(its mean, and its interval's upper bound):

    staff-hours(shift, role) = V · Σ_s mix[s] · share[shift] · Σ_{role on s's card} count · minutes_s / 60

``mix[s]`` is service ``s``'s share of the series' past cases, ``share[shift]`` the share
of past cases that started in the shift (local time), and the card's clinician roles
(keyed by profession: ``surgeon``, ``physician``) and staff-pool roles (``anesthesia``,
``circulating-nurse``) each take ``count`` people for the case's ``minutes`` (the card's
duration, or the duration model's P50 when one is given). ``staff`` is the people the
upper bound's hours need over the shift's length, rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time

from careflow.domain.ids import ServiceId
from careflow.domain.preference_cards import Service
from careflow.predict.demand import DayForecast

__all__ = ["SHIFTS", "Shift", "ShiftDemand", "role_minutes", "shift_demand", "shift_of"]


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift in site-local wall-clock time (an end at or before the start runs past midnight)."""

    name: str
    start: time
    end: time

    @property
    def hours(self) -> float:
        minutes = (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)
        return (minutes % (24 * 60) or 24 * 60) / 60.0

    def contains(self, at: time) -> bool:
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


SHIFTS: tuple[Shift, ...] = (Shift("day", time(7), time(15)), Shift("evening", time(15), time(23)),
                             Shift("night", time(23), time(7)))


def shift_of(at: time, shifts: Sequence[Shift] = SHIFTS) -> str:
    """The name of the shift a local time of day falls in."""
    return next(s.name for s in shifts if s.contains(at))


@dataclass(frozen=True, slots=True)
class ShiftDemand:
    """Forecast staff need for one role in one shift of one day."""

    day: str
    shift: str
    role: str
    hours: float  # at the forecast's mean volume
    hours_upper: float  # at the interval's upper bound
    staff: int  # people the upper bound needs for the shift


def role_minutes(service: Service, minutes: float) -> dict[str, float]:
    """Person-minutes per role that one case of ``service`` takes."""
    out: dict[str, float] = {}
    for r in service.roles:
        out[r.profession] = out.get(r.profession, 0.0) + r.count * minutes
    for s in service.staff:
        out[s.role] = out.get(s.role, 0.0) + s.count * minutes
    return out


def shift_demand(forecast: Sequence[DayForecast], mix: Mapping[str, float], shares: Mapping[str, float],
                 services: Mapping[ServiceId, Service], minutes_of: Callable[[Service], float] | None = None,
                 shifts: Sequence[Shift] = SHIFTS) -> list[ShiftDemand]:
    """Staff-hours per (day, shift, role) for a series' daily forecast (roles with no hours left out)."""
    per_case: dict[str, float] = {}
    for service_id, weight in mix.items():
        service = services.get(ServiceId(service_id))
        if service is None or weight <= 0:
            continue
        minutes = minutes_of(service) if minutes_of is not None else float(service.duration_minutes)
        for role, person_minutes in role_minutes(service, minutes).items():
            per_case[role] = per_case.get(role, 0.0) + weight * person_minutes / 60.0
    out: list[ShiftDemand] = []
    for f in forecast:
        for shift in shifts:
            share = shares.get(shift.name, 0.0)
            if share <= 0:
                continue
            for role in sorted(per_case):
                hours = f.mean * share * per_case[role]
                upper = f.upper * share * per_case[role]
                if upper <= 0:
                    continue
                out.append(ShiftDemand(f.day.isoformat(), shift.name, role, round(hours, 2), round(upper, 2),
                                       math.ceil(upper / shift.hours - 1e-9)))
    return out
