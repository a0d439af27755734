"""Feasible start times: where every required resource is free at once.

Each need turns its resources' free time into the set of instants at which a case may
*start* (``shrink``), a need for k units keeps the instants where at least k resources
(or pool lanes) can start, and the case is feasible where all needs intersect. Sets are
sorted disjoint integer spans, so this is linear merging, not a walk over a time grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from careflow.domain.occupancy import Busy, Occupancy
from careflow.domain.options import equipment_tail
from careflow.domain.preference_cards import Anchor, Need
from careflow.domain.resources import ResourceKind, limit_seconds
from careflow.domain.timespans import Span, intersect, normalize, shrink, subtract

__all__ = ["Candidate", "at_least", "calm_starts", "contract_starts", "local_bounds", "need_offsets",
           "patient_free", "unit_starts"]

FAR = 2**40


@dataclass(frozen=True, slots=True)
class Candidate:
    """A unit (resource and lane) with the start times at which it can take the need."""

    resource_id: str
    lane: int
    starts: list[Span]


def need_offsets(need: Need, duration: int, tail: int) -> tuple[int, int]:
    """(a, b) such that the need occupies [t + a, t + b) for a case starting at t."""
    if need.anchor is Anchor.AFTER:
        return duration, duration + need.after
    return -need.before, duration + need.after + tail


def unit_starts(need: Need, occ: Occupancy, duration: int) -> list[Candidate]:
    """Per lane of the resource: start times at which it is on duty and free for the need."""
    tail = equipment_tail(occ.resource)
    a, b = need_offsets(need, duration, tail)
    lanes = range(occ.resource.capacity) if occ.resource.laned else range(1)
    out: list[Candidate] = []
    ready = occ.resource.equipment.ready_at if occ.resource.kind is ResourceKind.EQUIPMENT else None
    for lane in lanes:
        if tail:  # on duty for the case; unallocated for the case and its reprocessing after
            starts = intersect(shrink(occ.lane_duty_spans(lane), -a, b - tail),
                               shrink(occ.lane_unallocated_spans(lane), -a, b))
        else:
            starts = shrink(occ.lane_free_spans(lane), -a, b)
        if ready is not None:
            starts = subtract(starts, [(-(2**62), int(ready.timestamp()))])
        if starts:
            out.append(Candidate(occ.resource.id, lane, starts))
    return out


def at_least(k: int, sets: Sequence[Sequence[Span]]) -> list[Span]:
    """Instants covered by at least ``k`` of the span lists (each normalized)."""
    if k <= 1:
        return normalize(s for spans in sets for s in spans)
    events: list[tuple[int, int]] = []
    for spans in sets:
        for lo, hi in spans:
            events.append((lo, 1))
            events.append((hi, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    out: list[Span] = []
    level, opened = 0, 0
    for at, delta in events:
        before = level
        level += delta
        if before < k <= level:
            opened = at
        elif level < k <= before and at > opened:
            out.append((opened, at))
    return normalize(out)


def patient_free(window: Span, busy: Sequence[Span], duration: int) -> list[Span]:
    """Start times in ``window`` at which the case does not overlap the patient's other bookings."""
    blocked = normalize((s - duration + 1, e) for s, e in busy)
    return subtract([window], blocked)


def local_bounds(window: Span, zone: ZoneInfo) -> list[int]:
    """Local midnights of whole ISO weeks (Monday to Monday) around ``window``.

    From the Monday of the week before the window's first day to a week past its last, so
    a case that starts in the window and runs past midnight (or into Monday) has its next
    day and week too. Every seventh midnight is a Monday: weeks are runs of seven days.
    """
    first = datetime.fromtimestamp(window[0], zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(window[1], zone).date() + timedelta(days=1)
    monday = first - timedelta(days=first.weekday())
    weeks = (last - monday).days // 7 + 2
    return [int(datetime.combine(monday + timedelta(days=i), time(), tzinfo=zone).timestamp())
            for i in range(7 * weeks + 1)]


def contract_starts(need: Need, occ: Occupancy, zone: ZoneInfo, days: Sequence[int],
                    duration: int) -> list[Span] | None:
    """Starts at which the clinician's credentials are valid on the case's local day and the
    case keeps them within the contract's daily and weekly maximums (as ``check_case`` judges
    them: every local day and ISO week the case touches); None when nothing limits them.

    ``days`` are local midnights from ``local_bounds``."""
    req, prof = need.clinician, occ.resource.clinician
    assert req is not None
    allowed: list[Span] | None = None
    expiries = [c.expires_on for c in (prof.credential(code) for code in req.credentials) if c is not None]
    if expiries:
        lapse = datetime.combine(min(expiries) + timedelta(days=1), time(), tzinfo=zone)
        allowed = [(-FAR, int(lapse.timestamp()))]
    contract = prof.contract
    if duration > 20 * 3600 or not occ.busy:
        return allowed
    per_day = _busy_per_period(occ.busy, days)
    per_week = _per_week(per_day)
    for bounds, busy, hours in ((days, per_day, contract.max_hours_day),
                                (days[::7], per_week, contract.max_hours_week)):
        spans = _starts_within(bounds, busy, hours, duration)
        if spans is not None:
            allowed = spans if allowed is None else intersect(allowed, spans)
    return allowed


def calm_starts(occ: Occupancy, days: Sequence[int], duration: int) -> list[Span] | None:
    """Starts at which the case keeps the clinician within the contract's weekly overtime
    threshold in every ISO week it touches, so it needs no approval (as ``check_case``
    judges it); None when no start can go past it. ``days`` are from ``local_bounds``."""
    if duration > 20 * 3600:
        return None
    per_week = _per_week(_busy_per_period(occ.busy, days))
    return _starts_within(days[::7], per_week, occ.resource.clinician.contract.overtime_threshold_week,
                          duration)


def _starts_within(bounds: Sequence[int], busy: Sequence[int], hours: float,
                   duration: int) -> list[Span] | None:
    """Starts that keep every period the case touches within ``hours`` (``_within``); None when
    no period can go over."""
    limit = limit_seconds(hours)
    if max(busy) + duration <= limit:
        return None
    return _within(bounds, busy, limit, duration)


def _per_week(per_day: Sequence[int]) -> list[int]:
    """Seconds per ISO week from seconds per day (``local_bounds`` starts on a Monday)."""
    return [sum(per_day[i:i + 7]) for i in range(0, len(per_day), 7)]


def _busy_per_period(busy: Sequence[Busy], bounds: Sequence[int]) -> list[int]:
    """Seconds of allocations (sorted by start) in each period ``[bounds[i], bounds[i + 1])``."""
    out = [0] * (len(bounds) - 1)
    last = len(out)
    i = 0
    for b in busy:
        start, end = b.start, b.end
        while i < last and bounds[i + 1] <= start:
            i += 1
        j = i
        while j < last and bounds[j] < end:
            lo = bounds[j] if bounds[j] > start else start
            hi = bounds[j + 1] if bounds[j + 1] < end else end
            if hi > lo:
                out[j] += hi - lo
            j += 1
    return out


def _within(bounds: Sequence[int], busy: Sequence[int], limit: int, duration: int) -> list[Span]:
    """Starts of a case of ``duration`` that keep every period it touches within ``limit``
    seconds (a case shorter than a period touches the one it starts in and perhaps the next)."""
    out: list[Span] = []
    for i in range(len(busy) - 1):
        lo, nxt = bounds[i], bounds[i + 1]
        here, after = limit - busy[i], limit - busy[i + 1]
        # The part before ``nxt`` counts here; a part after it counts in the next period.
        first = lo if duration <= here else math.ceil(nxt - here)
        last = math.floor(nxt - duration + max(after, 0))
        start, end = max(lo, first), min(nxt, last + 1)
        if start < end:
            out.append((start, end))
    return normalize(out)
