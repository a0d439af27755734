"""An in-process read model of who is busy when, kept fresh by tailing the outbox.

``find`` reads thousands of allocations per search; reading them from the database every
time costs more than the search itself. The cache loads a resource's allocations once
and then follows the outbox: every state change writes its events in the same
transaction, so each new outbox row names a booking whose allocations may have changed,
and the cache re-reads just those. Patching is idempotent, so reading an event twice is
harmless; reading one too late is not, so ids are tracked with a low-water mark and
gaps (a writer that took an id but has not committed yet) are re-read until they appear
or are old enough to be a rollback.

The write path never uses the cache: booking re-checks everything against the database
inside its transaction, and the database constraints are the last guard.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from careflow.domain.ids import ResourceId
from careflow.domain.occupancy import Busy
from careflow.domain.timespans import Span
from careflow.services.ports import UnitOfWork

__all__ = ["CalendarCache"]

MARGIN = 21 * 86400  # load this much around a requested window
GAP_PATIENCE_S = 10.0  # a gap older than this is a rolled-back writer
REREAD = 512  # on start, re-read this many recent events (writers in flight)


@dataclass
class _Calendar:
    """One resource's allocations over ``[lo, hi)``, sorted by start."""

    lo: int
    hi: int
    entries: list[Busy] = field(default_factory=list)
    max_len: int = 0

    def add(self, b: Busy) -> None:
        if b.end > self.lo and b.start < self.hi:
            insort(self.entries, b, key=_order)
            self.max_len = max(self.max_len, b.end - b.start)

    def drop(self, booking_ids: set[str]) -> None:
        self.entries = [e for e in self.entries if e.booking_id not in booking_ids]

    def slice(self, window: Span) -> list[Busy]:
        lo = bisect_left(self.entries, window[0] - self.max_len, key=_start)
        hi = bisect_left(self.entries, window[1], key=_start)
        return [b for b in self.entries[lo:hi] if b.end > window[0]]


def _order(b: Busy) -> tuple[int, int]:
    return (b.start, b.end)


def _start(b: Busy) -> int:
    return b.start


class CalendarCache:
    """Busy allocations per resource, served from memory, synced from the outbox."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._calendars: dict[ResourceId, _Calendar] = {}
        self._where: dict[str, set[ResourceId]] = {}  # booking -> cached resources holding it
        self._low: int | None = None  # every event id <= low has been applied
        self._top = 0  # the highest event id applied
        self._seen: set[int] = set()  # applied ids above low
        self._gaps: dict[int, float] = {}  # missing id -> when first noticed
        self._master_version: int | None = None
        self._sync_began = float("-inf")  # when the last sync began (monotonic)

    def busy(self, uow: UnitOfWork, resource_ids: Collection[ResourceId],
             window: Span) -> dict[ResourceId, list[Busy]]:
        """Active allocations overlapping ``window``, as of now (same contract as the store)."""
        arrived = self._monotonic()
        with self._lock:
            # Readers queue here while one syncs; a sync that began after this reader arrived
            # has already read every change committed before it asked, so it need not read
            # the change feed again (under load, one sync serves the whole queue).
            if self._sync_began <= arrived:
                self._sync_began = self._monotonic()
                self._sync(uow)
            missing = [r for r in resource_ids if not self._covers(r, window)]
            if missing and uow.bookings.change_head() < self._top:
                # This reader's transaction began before changes the model has applied: what
                # it reads is older than the model, so serve it but do not keep it.
                found = uow.bookings.busy(missing, window)
                old = {r: sorted(found.get(r, []), key=_order) for r in missing}
                return {r: old[r] if r in old else self._calendars[r].slice(window) for r in resource_ids}
            if missing:
                self._load(uow, missing, window)
            return {r: self._calendars[r].slice(window) for r in resource_ids}

    def clear(self) -> None:
        with self._lock:
            self._calendars.clear()
            self._where.clear()
            self._sync_began = float("-inf")

    def _covers(self, rid: ResourceId, window: Span) -> bool:
        cal = self._calendars.get(rid)
        return cal is not None and cal.lo <= window[0] and cal.hi >= window[1]

    def _load(self, uow: UnitOfWork, rids: list[ResourceId], window: Span) -> None:
        lo, hi = window[0] - MARGIN, window[1] + MARGIN
        for rid in rids:
            old = self._calendars.get(rid)
            if old is not None:
                lo, hi = min(lo, old.lo), max(hi, old.hi)
        found = uow.bookings.busy(rids, (lo, hi))
        for rid in rids:
            cal = _Calendar(lo, hi)
            entries = found.get(rid, [])
            cal.entries = sorted(entries, key=_order)
            cal.max_len = max((b.end - b.start for b in entries), default=0)
            self._calendars[rid] = cal
            for b in entries:
                self._where.setdefault(b.booking_id, set()).add(rid)

    def _sync(self, uow: UnitOfWork) -> None:
        version = uow.master.version()
        if version != self._master_version:  # a reseed or master-data change: start over
            self._calendars.clear()
            self._where.clear()
            self._master_version = version
            # A reseed empties the outbox, and SQLite then hands out ids from 1 again:
            # tail from the new head, or ids below the old mark would never be read.
            self._low = None
            self._top = 0
            self._seen.clear()
            self._gaps.clear()
        if self._low is None:
            self._low = max(0, uow.bookings.change_head() - REREAD)
        rows = uow.bookings.changes_since(self._low)
        fresh = [(i, agg) for i, agg in rows if i not in self._seen]
        if fresh:
            self._apply(uow, {agg for _, agg in fresh})
            self._seen.update(i for i, _ in fresh)
            self._top = max(self._top, max(i for i, _ in fresh))
        self._advance(max((i for i, _ in rows), default=self._low))

    def _apply(self, uow: UnitOfWork, booking_ids: set[str]) -> None:
        if not self._calendars:
            return
        for bid in booking_ids:
            for rid in self._where.pop(bid, set()):
                cal = self._calendars.get(rid)
                if cal is not None:
                    cal.drop({bid})
        for rid, b in uow.bookings.allocations_of(booking_ids):
            cal = self._calendars.get(rid)
            if cal is not None:
                cal.add(b)
                self._where.setdefault(b.booking_id, set()).add(rid)

    def _advance(self, top: int) -> None:
        """Move the low-water mark over applied ids and over gaps old enough to be rollbacks."""
        assert self._low is not None
        now = self._monotonic()
        low = self._low
        while low < top:
            nxt = low + 1
            if nxt in self._seen:
                self._seen.discard(nxt)
            else:
                noticed = self._gaps.setdefault(nxt, now)
                if now - noticed < GAP_PATIENCE_S:
                    break
                del self._gaps[nxt]
            low = nxt
        self._low = low

