"""Time: aware datetimes at the edges, integer spans inside.

Every instant careflow stores is an aware datetime in UTC. Inside the hot paths (checks,
slot finding) an instant is an integer of POSIX seconds and an interval is a half-open
``Span`` ``(start, end)``; lists of spans are kept sorted and disjoint, so set operations
are linear merges and membership is a bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from careflow.domain.errors import InvalidRequest

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_WINDOW",
    "Interval",
    "Span",
    "covers",
    "from_ts",
    "intersect",
    "normalize",
    "overlaps",
    "require_aware",
    "shrink",
    "subtract",
    "to_ts",
    "union",
]

Span = tuple[int, int]

MAX_WINDOW = timedelta(days=366)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def require_aware(value: datetime, field: str) -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes (their zone would be a guess) and
    instants outside 1970–2200 (no schedule needs them; date arithmetic near the ends of
    the calendar would overflow)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"{field} must carry a UTC offset or zone (got {value.isoformat()})", field)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = EARLIEST if value.year < 1970 else LATEST + timedelta(days=1)
    if not EARLIEST <= utc < LATEST:
        raise InvalidRequest(f"{field} must fall between 1970 and 2200 (got {value.isoformat()})", field)
    return utc


def to_ts(value: datetime) -> int:
    """POSIX seconds of an aware datetime."""
    return int(value.timestamp())


def from_ts(ts: int) -> datetime:
    """Aware UTC datetime of POSIX seconds."""
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open interval [start, end) of aware UTC datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "start"))
        object.__setattr__(self, "end", require_aware(self.end, "end"))
        if self.end <= self.start:
            raise InvalidRequest(
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})",
                "end",
            )

    @classmethod
    def of_span(cls, span: Span) -> Interval:
        return cls(from_ts(span[0]), from_ts(span[1]))

    @property
    def span(self) -> Span:
        return (to_ts(self.start), to_ts(self.end))

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


def overlaps(a: Span, b: Span) -> bool:
    """True when two half-open spans share any instant."""
    return a[0] < b[1] and b[0] < a[1]


def normalize(spans: Iterable[Span]) -> list[Span]:
    """Sort, drop empty spans and merge overlapping or touching ones."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def union(*span_lists: Sequence[Span]) -> list[Span]:
    """Union of normalized span lists."""
    return normalize(s for spans in span_lists for s in spans)


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Intersection of two normalized span lists (linear merge)."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Parts of normalized ``a`` not covered by normalized ``b``."""
    out: list[Span] = []
    j = 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            if cur >= end:
                break
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def shrink(spans: Sequence[Span], before: int, after: int) -> list[Span]:
    """Feasible start times: ``t`` such that ``[t - before, t + after)`` fits in a span.

    With ``before`` = setup and ``after`` = duration + turnover this turns a resource's
    free time into the instants at which a case may start on it.
    """
    out: list[Span] = []
    for start, end in spans:
        lo, hi = start + before, end - after + 1
        if hi > lo:
            out.append((lo, hi))
    return out


def covers(spans: Sequence[Span], span: Span) -> bool:
    """True when one span of the normalized list contains ``span`` entirely."""
    i = bisect_right(spans, (span[0], 2**62)) - 1
    return i >= 0 and spans[i][0] <= span[0] and spans[i][1] >= span[1]
