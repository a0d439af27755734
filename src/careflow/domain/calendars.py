"""Availability: weekly templates in site-local time, exceptions, capacity over time.

A template block says "Mon–Fri 07:00–17:00 local, 3 staff" for a resource; blocks that
overlap add their headcounts (two shifts that overlap put both crews on the floor). An
exception is absolute (UTC): a vacation or call-out closes the resource, maintenance
closes equipment, a partial call-out removes some of a pool's headcount, an extra session
adds some. Expanding a template walks the site's *local* calendar days and converts each
wall-clock block with zoneinfo, so a 07:00 start stays 07:00 on both sides of a
daylight-saving change and a night shift that spans one is an hour shorter or longer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId
from careflow.domain.timespans import Span, to_ts

__all__ = [
    "Availability",
    "CalendarException",
    "CapacityPiece",
    "ExceptionKind",
    "WeeklyBlock",
    "capacity_profile",
    "free_spans",
    "local_dates",
]


class ExceptionKind(enum.StrEnum):
    VACATION = "vacation"
    CALL_OUT = "call_out"
    MAINTENANCE = "maintenance"
    CLOSURE = "closure"
    EXTRA = "extra"


CLOSING_KINDS = frozenset({ExceptionKind.VACATION, ExceptionKind.CALL_OUT,
                           ExceptionKind.MAINTENANCE, ExceptionKind.CLOSURE})


@dataclass(frozen=True, slots=True)
class WeeklyBlock:
    """A recurring block in site-local wall-clock time.

    ``weekdays`` uses ISO numbering shifted to Python's (0 = Monday). An ``end`` at or
    before ``start`` runs past midnight into the next day. ``site_id`` says where a
    clinician who works at several sites is on that block (None: the resource's site).
    """

    weekdays: frozenset[int]
    start: time
    end: time
    capacity: int = 1
    site_id: SiteId | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def __post_init__(self) -> None:
        if not self.weekdays or not all(0 <= d <= 6 for d in self.weekdays):
            raise InvalidRequest("weekdays must be a non-empty set of 0 (Monday) to 6", "weekdays")
        if self.capacity < 1:
            raise InvalidRequest("a template block's capacity must be at least 1", "capacity")
        if self.start == self.end:
            raise InvalidRequest("a template block cannot start and end at the same time", "end")

    def applies_on(self, day: date) -> bool:
        if day.weekday() not in self.weekdays:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to

    def span_on(self, day: date, zone: ZoneInfo) -> Span:
        """The block's UTC span on a local calendar day (DST-correct)."""
        start = datetime.combine(day, self.start, tzinfo=zone)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        end = datetime.combine(end_day, self.end, tzinfo=zone)
        return (to_ts(start), to_ts(end))


@dataclass(frozen=True, slots=True)
class CalendarException:
    """An absolute change to availability.

    Closing kinds (vacation, call-out, maintenance, closure) remove ``capacity_delta``
    units, or everything when it is None; ``extra`` adds units.
    """

    start: datetime
    end: datetime
    kind: ExceptionKind
    capacity_delta: int | None = None
    reason: str = ""

    @property
    def span(self) -> Span:
        return (to_ts(self.start), to_ts(self.end))

    @property
    def closes_fully(self) -> bool:
        return self.kind in CLOSING_KINDS and self.capacity_delta is None


@dataclass(frozen=True, slots=True)
class Availability:
    """A resource's templates and exceptions."""

    blocks: tuple[WeeklyBlock, ...] = ()
    exceptions: tuple[CalendarException, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CapacityPiece:
    """``count`` units available throughout ``span`` (at ``site_id``)."""

    start: int
    end: int
    count: int


def local_dates(window: Span, zone: ZoneInfo) -> list[date]:
    """Local calendar days touching the window, one day of margin each side for night shifts."""
    first = datetime.fromtimestamp(window[0], zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(window[1], zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def capacity_profile(
    availability: Availability,
    window: Span,
    zone: ZoneInfo,
    max_capacity: int,
    site_id: SiteId | None = None,
    home_site: SiteId | None = None,
) -> list[CapacityPiece]:
    """Units available over ``window`` as a step function of non-overlapping pieces.

    Only blocks at ``site_id`` count when it is given (a block with no site is at
    ``home_site``). Counts are clamped to ``[0, max_capacity]``.
    """
    deltas: dict[int, int] = {}
    closed: list[Span] = []

    def add(span: Span, delta: int) -> None:
        start, end = max(span[0], window[0]), min(span[1], window[1])
        if start < end:
            deltas[start] = deltas.get(start, 0) + delta
            deltas[end] = deltas.get(end, 0) - delta

    for day in local_dates(window, zone):
        for block in availability.blocks:
            where = block.site_id or home_site
            if site_id is not None and where != site_id:
                continue
            if block.applies_on(day):
                add(block.span_on(day, zone), block.capacity)
    for exc in availability.exceptions:
        if exc.closes_fully:
            closed.append(exc.span)
        elif exc.kind is ExceptionKind.EXTRA:
            add(exc.span, exc.capacity_delta or 1)
        else:
            add(exc.span, -(exc.capacity_delta or 0))
    pieces = _sweep(deltas, max_capacity)
    return _cut(pieces, closed) if closed else pieces


def _sweep(deltas: dict[int, int], max_capacity: int) -> list[CapacityPiece]:
    pieces: list[CapacityPiece] = []
    level = 0
    points = sorted(deltas)
    for here, nxt in pairwise(points):
        level += deltas[here]
        count = min(max(level, 0), max_capacity)
        if count <= 0:
            continue
        if pieces and pieces[-1].end == here and pieces[-1].count == count:
            pieces[-1] = CapacityPiece(pieces[-1].start, nxt, count)
        else:
            pieces.append(CapacityPiece(here, nxt, count))
    return pieces


def _cut(pieces: Sequence[CapacityPiece], closed: Iterable[Span]) -> list[CapacityPiece]:
    out = list(pieces)
    for c_start, c_end in closed:
        nxt: list[CapacityPiece] = []
        for p in out:
            if p.end <= c_start or p.start >= c_end:
                nxt.append(p)
                continue
            if p.start < c_start:
                nxt.append(CapacityPiece(p.start, c_start, p.count))
            if p.end > c_end:
                nxt.append(CapacityPiece(c_end, p.end, p.count))
        out = nxt
    return out


def free_spans(pieces: Sequence[CapacityPiece]) -> list[Span]:
    """The spans in which at least one unit is available, merged."""
    out: list[Span] = []
    for p in pieces:
        if out and out[-1][1] == p.start:
            out[-1] = (out[-1][0], p.end)
        else:
            out.append((p.start, p.end))
    return out
