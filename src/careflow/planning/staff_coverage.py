"""Staff-pool coverage over a window: headcount on duty, units in use, extra demand, freed
units, and from them what is short and what is spare, instant by instant.

A pool's ``Timeline`` is a step function of ``Segment``s. At every instant:

    spare = max(0, on duty - in use - extra demand)     units that could work elsewhere
    short = max(0, in use + extra demand - on duty)     units the pool lacks

"In use" is the pool's active allocations: after a partial call-out that came once cases
were booked, more units can be in use than are on duty, and that gap is short coverage
just as an emergency request beyond the headcount is. ``freed`` counts units released by
cancellations and no-shows, so a proposal can say its staff were freed by them.

Pure: the service layer reads the pools, allocations and demands and hands them here.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from careflow.domain.calendars import CapacityPiece
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import Span, require_aware, to_ts

__all__ = ["Demand", "PoolState", "Segment", "Timeline", "pool_type", "serves"]

MAX_DEMAND_UNITS = 100


def pool_type(resource: Resource) -> str:
    """What a pool's staff can stand in for: its role; interpreters also by language."""
    pool = resource.pool
    if pool.role == "interpreter" and pool.languages:
        return f"interpreter:{'+'.join(sorted(pool.languages))}"
    return pool.role


def serves(source: Resource, role: str, languages: frozenset[str]) -> bool:
    """Whether ``source``'s staff can cover ``role`` (and speak every one of ``languages``)."""
    return (source.kind is ResourceKind.STAFF_POOL and source.active and source.pool.role == role
            and languages <= source.pool.languages)


@dataclass(frozen=True, slots=True)
class Demand:
    """Staff wanted beyond the bookings: ``units`` of ``role`` at ``site_id`` over [start, end).

    ``source`` says where it came from (``emergency``: a request; ``exception``: an open
    exception-queue item, ``ref`` its id); ``language`` narrows an interpreter demand.
    """

    site_id: SiteId
    role: str
    start: datetime
    end: datetime
    units: int = 1
    language: str | None = None
    source: str = "emergency"
    ref: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        require_aware(self.end, "end")
        if self.end <= self.start:
            raise InvalidRequest("a demand's end must be after its start", "end")
        if (self.end - self.start).total_seconds() > 86400:
            raise InvalidRequest("a demand may span at most 24 hours", "end")
        if not 1 <= self.units <= MAX_DEMAND_UNITS:
            raise InvalidRequest(f"units must be between 1 and {MAX_DEMAND_UNITS}", "units")
        if not self.role.strip():
            raise InvalidRequest("role must not be empty", "role")

    @property
    def span(self) -> Span:
        return (to_ts(self.start), to_ts(self.end))

    @property
    def languages(self) -> frozenset[str]:
        return frozenset({self.language}) if self.language else frozenset()


@dataclass(slots=True)
class Segment:
    """``[start, end)`` with constant on-duty, in-use, demand and freed counts."""

    start: int
    end: int
    on_duty: int
    in_use: int
    demand: int = 0
    freed: int = 0
    taken: int = 0  # units already promised to a proposal (moved out)

    @property
    def spare(self) -> int:
        return max(0, self.on_duty - self.in_use - self.demand - self.taken)

    @property
    def short(self) -> int:
        return max(0, self.in_use + self.demand - self.on_duty)

    @property
    def freed_spare(self) -> int:
        """Spare units that a cancellation or a no-show freed."""
        return min(self.spare, self.freed)


@dataclass(slots=True)
class PoolState:
    """What the computation knows of one pool: its headcount pieces (at its site), its
    active allocations, the spans released by cancellations and no-shows, extra demand."""

    resource: Resource
    pieces: Sequence[CapacityPiece]
    busy: Sequence[Busy] = ()
    freed: Sequence[Span] = ()
    demands: list[Demand] = field(default_factory=list)

    @property
    def site_id(self) -> SiteId:
        return self.resource.site_id


class Timeline:
    """A pool's coverage over a window as contiguous segments (mutable: ``take``)."""

    def __init__(self, state: PoolState, window: Span) -> None:
        lo, hi = window
        events: dict[int, list[int]] = {}  # time -> [on duty, in use, demand, freed] deltas

        def add(start: int, end: int, index: int, delta: int) -> None:
            start, end = max(start, lo), min(end, hi)
            if start < end:
                events.setdefault(start, [0, 0, 0, 0])[index] += delta
                events.setdefault(end, [0, 0, 0, 0])[index] -= delta

        for p in state.pieces:
            add(p.start, p.end, 0, p.count)
        for used in state.busy:
            add(used.start, used.end, 1, 1)
        for d in state.demands:
            add(*d.span, 2, d.units)
        for f in state.freed:
            add(f[0], f[1], 3, 1)
        points = sorted({lo, hi, *events})
        self.resource = state.resource
        self.segments: list[Segment] = []
        level = [0, 0, 0, 0]
        for here, nxt in pairwise(points):
            level = [x + y for x, y in zip(level, events.get(here, (0, 0, 0, 0)), strict=True)]
            self.segments.append(Segment(here, nxt, *level))
        self._starts = [s.start for s in self.segments]

    def within(self, span: Span) -> Iterable[Segment]:
        """The segments overlapping ``span``."""
        k = max(0, bisect_right(self._starts, span[0]) - 1)
        for seg in self.segments[k:]:
            if seg.start >= span[1]:
                return
            if seg.end > span[0]:
                yield seg

    def covered(self, span: Span) -> bool:
        segs = list(self.within(span))
        return bool(segs) and segs[0].start <= span[0] and segs[-1].end >= span[1]

    def spare(self, span: Span) -> int:
        """Units free throughout ``span`` (0 when the window does not cover it)."""
        if not self.covered(span):
            return 0
        return min(s.spare for s in self.within(span))

    def freed_spare(self, span: Span) -> int:
        """Units spare that a cancellation or no-show freed, at some time in ``span``."""
        return max((s.freed_spare for s in self.within(span)), default=0)

    def take(self, span: Span, units: int) -> None:
        """Promise ``units`` of this pool's spare over ``span`` to a move."""
        self._split(span[0])
        self._split(span[1])
        for seg in self.within(span):
            seg.taken += units

    def _split(self, at: int) -> None:
        k = bisect_right(self._starts, at) - 1
        if k < 0 or k >= len(self.segments):
            return
        seg = self.segments[k]
        if seg.start < at < seg.end:
            tail = Segment(at, seg.end, seg.on_duty, seg.in_use, seg.demand, seg.freed, seg.taken)
            seg.end = at
            self.segments.insert(k + 1, tail)
            self._starts.insert(k + 1, at)

    def shortages(self, not_before: int, hours: Sequence[Span] = ()) -> list[tuple[Span, int]]:
        """Short coverage from ``not_before`` on, as (span, units) layers: the spans in
        which at least k units are short, for each k, merged where they coincide (one
        person covers one layer's span).

        With ``hours`` (the site's clock hours), each hour counts as short by the most
        units short at any instant in it: staff move for whole hours, not for the ten
        minutes two cases overlap.
        """
        if hours:
            runs = [(max(h[0], not_before), h[1], max((s.short for s in self.within(h)), default=0))
                    for h in hours if h[1] > not_before]
            runs = [r for r in runs if r[2] > 0]
        else:
            runs = [(max(s.start, not_before), s.end, s.short) for s in self.segments
                    if s.short > 0 and s.end > not_before]
        layers: dict[Span, int] = {}
        for k in range(1, max((r[2] for r in runs), default=0) + 1):
            merged: list[list[int]] = []
            for a, b, short in runs:
                if short < k:
                    continue
                if merged and merged[-1][1] == a:
                    merged[-1][1] = b
                else:
                    merged.append([a, b])
            for a, b in merged:
                layers[(a, b)] = layers.get((a, b), 0) + 1
        return sorted(layers.items(), key=lambda item: (item[0][0], -item[0][1], -item[1]))
