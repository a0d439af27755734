"""Feasible start times: where every required resource is free at once.

Each need turns its resources' free time into the set of instants at which a case may
*start* (``shrink``), a need for k units keeps the instants where at least k resources
(or pool lanes) can start, and the case is feasible where all needs intersect. Sets are
sorted disjoint integer spans, so this is linear merging, not a walk over a time grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from careflow.domain.occupancy import Occupancy
from careflow.domain.options import equipment_tail
from careflow.domain.preference_cards import Anchor, Need
from careflow.domain.resources import ResourceKind
from careflow.domain.timespans import Span, normalize, shrink, subtract

__all__ = ["Candidate", "at_least", "need_offsets", "patient_free", "unit_starts"]


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
    lanes = range(occ.resource.capacity) if (
        occ.resource.kind is ResourceKind.STAFF_POOL or occ.resource.capacity > 1) else range(1)
    out: list[Candidate] = []
    ready = occ.resource.equipment.ready_at if occ.resource.kind is ResourceKind.EQUIPMENT else None
    for lane in lanes:
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
