"""Calendar helpers for the demo: weekly blocks in site-local time, local instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from careflow.domain.calendars import CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.ids import SiteId
from careflow.domain.timespans import to_ts

__all__ = [
    "WEEKDAYS",
    "around_the_clock",
    "block",
    "closure",
    "local_instant",
    "midnight",
]

WEEKDAYS = frozenset(range(5))


def _time(text: str) -> time:
    return time.fromisoformat(text)


def block(days: frozenset[int] | int, start: str, end: str, capacity: int = 1,
          site: SiteId | None = None) -> WeeklyBlock:
    """A weekly block on ``days`` (0 = Monday) from ``start`` to ``end`` local, e.g. "07:00"."""
    weekdays = frozenset({days}) if isinstance(days, int) else days
    return WeeklyBlock(weekdays, _time(start), _time(end), capacity, site)


def around_the_clock(capacity: int = 1) -> tuple[WeeklyBlock, ...]:
    """Every day, all day: two 12-hour blocks (a block cannot start and end at the same time)."""
    every = frozenset(range(7))
    return (block(every, "00:00", "12:00", capacity), block(every, "12:00", "00:00", capacity))


def local_instant(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time on a local day."""
    return datetime.combine(day, _time(hhmm), tzinfo=zone).astimezone(UTC)


def midnight(day: date, zone: ZoneInfo) -> int:
    """POSIX seconds of local midnight starting ``day``."""
    return to_ts(datetime.combine(day, time(0), tzinfo=zone))


def closure(kind: ExceptionKind, day: date, start: str, end: str, zone: ZoneInfo, reason: str,
            capacity_delta: int | None = None, days: int = 1) -> CalendarException:
    """An exception from ``start`` on ``day`` to ``end`` on ``day + days - 1`` (local times)."""
    lo = local_instant(day, start, zone)
    hi = local_instant(day + timedelta(days=days - 1), end, zone)
    return CalendarException(lo, hi, kind, capacity_delta, reason)
