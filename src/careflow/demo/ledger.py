"""In-memory bookkeeping for the demo placement: capacity over time and busy lanes.

Capacity comes from the domain's own ``capacity_profile`` (templates in local time,
exceptions applied), so "on duty" means exactly what the checks mean. Busy intervals
are kept per resource and lane as sorted, disjoint lists: testing a span is one
bisection, which keeps a 20,000-booking sweep to seconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping

from careflow.domain.calendars import CapacityPiece, capacity_profile
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.resources import Resource
from careflow.domain.sites import Site
from careflow.domain.timespans import Span

__all__ = ["Ledger"]

_Profile = tuple[list[int], list[CapacityPiece]]


class Ledger:
    """Capacity pieces per (resource, site) and busy spans per (resource, lane)."""

    def __init__(self, sites: Mapping[SiteId, Site], resources: Mapping[ResourceId, Resource],
                 window: Span) -> None:
        self.sites = sites
        self.resources = resources
        self.window = window
        self._profiles: dict[tuple[ResourceId, SiteId], _Profile] = {}
        self._busy: dict[tuple[ResourceId, int], tuple[list[int], list[int]]] = {}

    def profile(self, rid: ResourceId, site: SiteId) -> _Profile:
        """The resource's capacity at ``site`` over the window (computed once)."""
        key = (rid, site)
        found = self._profiles.get(key)
        if found is None:
            res = self.resources[rid]
            pieces = capacity_profile(res.availability, self.window, self.sites[site].zone,
                                      res.capacity, site, res.site_id)
            found = ([p.start for p in pieces], pieces)
            self._profiles[key] = found
        return found

    def min_capacity(self, rid: ResourceId, site: SiteId, span: Span) -> int:
        """The fewest units on duty at any instant of ``span`` (0 when there is a gap)."""
        starts, pieces = self.profile(rid, site)
        i = bisect_right(starts, span[0]) - 1
        if i < 0:
            return 0
        cursor, low = span[0], 1 << 30
        while i < len(pieces):
            piece = pieces[i]
            if piece.start > cursor or piece.end <= cursor:
                return 0
            low = min(low, piece.count)
            if piece.end >= span[1]:
                return low
            cursor = piece.end
            i += 1
        return 0

    def duty_spans(self, rid: ResourceId, site: SiteId, within: Span) -> list[Span]:
        """Merged spans inside ``within`` in which at least one unit is on duty."""
        starts, pieces = self.profile(rid, site)
        out: list[Span] = []
        for piece in pieces[max(0, bisect_right(starts, within[0]) - 1):]:
            if piece.start >= within[1]:
                break
            lo, hi = max(piece.start, within[0]), min(piece.end, within[1])
            if lo >= hi:
                continue
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return out

    def lane_free(self, rid: ResourceId, lane: int, span: Span) -> bool:
        """No allocation on this lane overlaps ``span``."""
        entry = self._busy.get((rid, lane))
        if entry is None:
            return True
        starts, ends = entry
        i = bisect_left(starts, span[1])
        return i == 0 or ends[i - 1] <= span[0]

    def _last_end(self, rid: ResourceId, lane: int, before: int) -> int:
        entry = self._busy.get((rid, lane))
        if entry is None:
            return -1
        ends = entry[1]
        i = bisect_right(ends, before) - 1
        return ends[i] if i >= 0 else -1

    def free_lanes(self, rid: ResourceId, site: SiteId, span: Span, count: int,
                   prefer: int | None = None) -> list[int] | None:
        """``count`` lanes on duty (headcount above the lane) and free throughout ``span``.

        ``prefer`` goes first (an operating room's own team); then best fit: the lane
        that became free last, which keeps the other lanes' free time in long stretches.
        """
        on_duty = min(self.min_capacity(rid, site, span), self.resources[rid].capacity)
        free = [lane for lane in range(on_duty) if self.lane_free(rid, lane, span)]
        if len(free) < count:
            return None
        free.sort(key=lambda lane: (lane != prefer, -self._last_end(rid, lane, span[0]), lane))
        return free[:count]

    def take(self, rid: ResourceId, lane: int, span: Span) -> None:
        """Mark the lane busy for ``span`` (the caller checked it was free)."""
        starts, ends = self._busy.setdefault((rid, lane), ([], []))
        insort(starts, span[0])
        insort(ends, span[1])
