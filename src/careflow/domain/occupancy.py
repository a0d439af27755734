"""A resource's capacity and allocations over a window: what checks and find read.

``Occupancy`` is a snapshot assembled by the service layer from the store (existing
allocations) and the resource's availability (its capacity over time at one site). It
answers the questions every check asks: is the resource on duty throughout a span, is it
free, which lanes of a pool are free, which allocations conflict.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from careflow.domain.calendars import CapacityPiece, ExceptionKind
from careflow.domain.resources import Resource
from careflow.domain.timespans import Span, overlaps, subtract

__all__ = ["Busy", "Occupancy"]


@dataclass(frozen=True, slots=True)
class Busy:
    """An existing allocation on the resource."""

    start: int
    end: int
    lane: int
    booking_id: str
    role: str = ""


@dataclass(slots=True)
class Occupancy:
    """Capacity pieces (at one site) and busy allocations of one resource over a window."""

    resource: Resource
    window: Span
    pieces: list[CapacityPiece]
    busy: list[Busy] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list, repr=False)
    _max_len: int = 0
    _taken: dict[int, list[Span]] | None = field(default=None, repr=False)
    _free: dict[int, list[Span]] = field(default_factory=dict, repr=False)
    presorted: bool = False  # busy already sorted by (start, end), as the calendar cache keeps it

    def __post_init__(self) -> None:
        if not self.presorted:
            self.busy.sort(key=_by_start)
        self._starts = [b.start for b in self.busy]
        self._max_len = max((b.end - b.start for b in self.busy), default=0)

    def _taken_by_lane(self) -> dict[int, list[Span]]:
        """Merged busy spans per lane, built once in one pass over the sorted allocations."""
        if self._taken is None:
            taken: dict[int, list[Span]] = {}
            for b in self.busy:
                spans = taken.setdefault(b.lane, [])
                if spans and b.start <= spans[-1][1]:
                    if b.end > spans[-1][1]:
                        spans[-1] = (spans[-1][0], b.end)
                else:
                    spans.append((b.start, b.end))
            self._taken = taken
        return self._taken

    def without(self, booking_ids: Iterable[str]) -> Occupancy:
        """The same occupancy ignoring some bookings (the one being moved or confirmed)."""
        skip = set(booking_ids)
        return Occupancy(self.resource, self.window, self.pieces,
                         [b for b in self.busy if b.booking_id not in skip])

    def conflicts(self, span: Span) -> list[Busy]:
        """Allocations overlapping ``span``."""
        hi = bisect_left(self._starts, span[1])
        lo = bisect_left(self._starts, span[0] - self._max_len)
        return [b for b in self.busy[lo:hi] if b.end > span[0]]

    def on_duty(self, span: Span, units: int = 1) -> bool:
        """True when at least ``units`` are scheduled throughout ``span``."""
        cursor = span[0]
        pieces = self.pieces
        for k in range(bisect_right(pieces, cursor, key=_piece_end), len(pieces)):  # ending after
            piece = pieces[k]
            if piece.start > cursor or piece.count < units:
                return False
            cursor = piece.end
            if cursor >= span[1]:
                return True
        return False

    def min_capacity(self, span: Span) -> int:
        """The fewest units scheduled at any instant of ``span`` (0 if any gap)."""
        cursor, low = span[0], None
        pieces = self.pieces
        for k in range(bisect_right(pieces, cursor, key=_piece_end), len(pieces)):
            piece = pieces[k]
            if piece.start > cursor:
                return 0
            low = piece.count if low is None else min(low, piece.count)
            cursor = piece.end
            if cursor >= span[1]:
                return low
        return 0

    def peak_use(self, span: Span) -> int:
        """Most allocations in use at one instant inside ``span``."""
        points: list[tuple[int, int]] = []
        for b in self.conflicts(span):
            points.append((max(b.start, span[0]), 1))
            points.append((min(b.end, span[1]), -1))
        level = peak = 0
        for _, delta in sorted(points, key=lambda p: (p[0], p[1])):
            level += delta
            peak = max(peak, level)
        return peak

    def lanes_free(self, span: Span, duty: Span | None = None) -> list[int]:
        """Lanes free throughout ``span``: lane i is on duty while headcount exceeds i.

        A pool of capacity N is N single lanes; the store guards each lane against
        overlaps, so the headcount is never exceeded even under concurrency.

        A lane can also look free while the headcount is not: after a call-out that came
        once cases were booked, an allocation may sit on a lane that is no longer on duty,
        and the person doing it is one of those who are. So no more lanes are returned
        than there are units on duty and unallocated (on any lane) at every instant.

        ``duty`` is the part of ``span`` that needs the lane on duty (all of it by default;
        equipment is reprocessed after its case whether it is scheduled then or not).
        """
        busy = self.conflicts(span)
        used = {b.lane for b in busy}
        free = [lane for lane in range(self.resource.capacity)
                if lane not in used and self.on_duty(duty or span, lane + 1)]
        if free and any(not self.on_duty((b.start, b.end), b.lane + 1) for b in busy):
            return free[:max(0, self._spare(span, busy))]
        return free

    def _spare(self, span: Span, busy: list[Busy]) -> int:
        """The fewest units on duty and not allocated (on any lane) at an instant of ``span``."""
        cuts = {span[0]}
        for lo, hi in [(b.start, b.end) for b in busy] + [(p.start, p.end) for p in self.pieces]:
            cuts.update(t for t in (lo, hi) if span[0] < t < span[1])
        low = self.resource.capacity
        for t in cuts:
            units = next((p.count for p in self.pieces if p.start <= t < p.end), 0)
            low = min(low, units - sum(1 for b in busy if b.start <= t < b.end))
        return low

    def maintenance_overlapping(self, span: Span) -> bool:
        return any(e.kind is ExceptionKind.MAINTENANCE and overlaps(e.span, span)
                   for e in self.resource.availability.exceptions)

    def lane_free_spans(self, lane: int = 0) -> list[Span]:
        """Spans in which ``lane`` is on duty (headcount above it) and unallocated (computed
        once per lane: ``find`` asks again for every candidate it ranks; do not mutate)."""
        cached = self._free.get(lane)
        if cached is None:
            on_duty = self.lane_duty_spans(lane)
            taken = self._taken_by_lane().get(lane)
            cached = self._free[lane] = subtract(on_duty, taken) if taken else on_duty
        return cached

    def lane_unallocated_spans(self, lane: int = 0) -> list[Span]:
        """Spans of the window in which ``lane`` holds no allocation, on duty or not."""
        taken = self._taken_by_lane().get(lane)
        return subtract([self.window], taken) if taken else [self.window]

    def lane_duty_spans(self, lane: int = 0) -> list[Span]:
        """Spans of the window in which ``lane`` is on duty (headcount above it)."""
        on_duty: list[Span] = []
        lo_w, hi_w = self.window
        pieces = self.pieces
        i = bisect_right(pieces, lo_w, key=_piece_end)  # pieces may extend past the window
        for p in pieces[i:]:
            if p.start >= hi_w:
                break
            if p.count <= lane:
                continue
            start, end = max(p.start, lo_w), min(p.end, hi_w)
            if on_duty and on_duty[-1][1] >= start:
                on_duty[-1] = (on_duty[-1][0], max(on_duty[-1][1], end))
            else:
                on_duty.append((start, end))
        return on_duty


def _piece_end(piece: CapacityPiece) -> int:
    return piece.end


def _by_start(b: Busy) -> tuple[int, int]:
    return (b.start, b.end)
