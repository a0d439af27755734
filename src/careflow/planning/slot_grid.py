"""The slot grid ``find`` offers starts on: tidy site-local wall-clock times.

Starts are multiples of ``gcd(slot_minutes, 60)`` minutes past each local hour, so every full
hour is on the grid, it is the same every day, and a daylight-saving change (a whole hour)
does not move it. From a set of feasible starts ``find`` takes the first and last grid start of
each span (``edge_starts``), the first of the patient's preferred part of each day
(``preferred_starts``), a few more inside when those are too few (``inner_starts``), and
CP-SAT every one (``every_start``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime, time, timedelta

from careflow.domain.sites import Site
from careflow.domain.timespans import Span

__all__ = ["PARTS_OF_DAY", "ceil_grid", "edge_starts", "every_start", "grid_step", "inner_starts",
           "preferred_starts"]


def _offset(ts: int, site: Site) -> int:
    delta = datetime.fromtimestamp(ts, site.zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def grid_step(slot_minutes: int) -> int:
    """The grid step in seconds: tidy wall-clock times of the slot length, multiples of
    ``gcd(slot_minutes, 60)`` minutes past each local hour, so every full hour is on it (a
    45-minute grid counted from midnight would never offer 07:00), it is the same every
    day, and a daylight-saving change, a whole hour, does not move it."""
    return math.gcd(slot_minutes, 60) * 60


def ceil_grid(ts: int, site: Site, grid: int) -> int:
    off = _offset(ts, site)
    return -(-(ts + off) // grid) * grid - off


def edge_starts(spans: Sequence[Span], site: Site, slot_minutes: int) -> list[int]:
    """The first and the last start on the site-local slot grid (``_grid``) inside each span."""
    grid = grid_step(slot_minutes)
    out: list[int] = []
    for lo, hi in spans:
        first = ceil_grid(lo, site, grid)
        off_hi = _offset(hi - 1, site)
        last = ((hi - 1 + off_hi) // grid) * grid - off_hi
        if first < hi:
            out.append(first)
        if first < last < hi:
            out.append(last)
    return out


# Local hours at which each part of the day begins (see ``ranking.time_of_day``).
PARTS_OF_DAY = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


def preferred_starts(spans: Sequence[Span], site: Site, slot_minutes: int, part: str) -> list[int]:
    """In each span, the first grid start of each local day's preferred part of the day."""
    grid, (begins, ends) = grid_step(slot_minutes), PARTS_OF_DAY[part]
    zone = site.zone
    out: list[int] = []
    for lo, hi in spans:
        day = datetime.fromtimestamp(lo, zone).date()
        while int(datetime.combine(day, time(), tzinfo=zone).timestamp()) < hi:
            part_lo = int(datetime.combine(day, time(begins), tzinfo=zone).timestamp())
            part_hi = (int(datetime.combine(day, time(ends), tzinfo=zone).timestamp()) if ends < 24
                       else int(datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).timestamp()))
            t = ceil_grid(max(lo, part_lo), site, grid)
            if t < min(hi, part_hi):
                out.append(t)
            day += timedelta(days=1)
    return out


def every_start(spans: Sequence[Span], site: Site, slot_minutes: int) -> Iterator[int]:
    """Every start on the site-local slot grid inside the spans, in order."""
    grid = grid_step(slot_minutes)
    for lo, hi in spans:
        t = ceil_grid(lo, site, grid)
        while t < hi:
            yield t
            t = ceil_grid(t + grid, site, grid)


def inner_starts(spans: Sequence[Span], site: Site, slot_minutes: int, most: int) -> list[int]:
    """Grid starts inside each span after its first: at most ``most`` per span."""
    grid = grid_step(slot_minutes)
    out: list[int] = []
    for lo, hi in spans:
        t = ceil_grid(lo, site, grid)
        for _ in range(most):
            t = ceil_grid(t + grid, site, grid)
            if t >= hi:
                break
            out.append(t)
    return out
