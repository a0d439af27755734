"""Re-coordination's joint path: displaced bookings and their options as one rebalancing problem.

``find`` checks each option against the store with only its own booking counted free, so two
options of different bookings may each be valid yet not both (the same room at the same
time, the last free lane of a pool). This module states them for ``planning.rebalance``:
every allocation of an option is a use of its resource; a booking's current allocations
are what it holds until it moves; for pools (capacity above one) what stays taken is read
once: other bookings' allocations, and the lanes off duty. The database stays the last
guard: a planned move that loses a race is refused there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from careflow.domain.bookings import Allocation, Booking, Urgency
from careflow.domain.catalog import Catalog
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.options import Option
from careflow.domain.timespans import Span, to_ts
from careflow.planning.rebalance import Displaced, Move, RebalanceProblem, Use, impact_of
from careflow.services.booking import BookingDeps
from careflow.services.ports import UnitOfWork

__all__ = ["PRIORITY", "Candidates", "problem_of"]

PRIORITY = {Urgency.ROUTINE: 1, Urgency.URGENT: 2, Urgency.EMERGENT: 4}  # weight of placing one


@dataclass(frozen=True, slots=True)
class Candidates:
    """A displaced booking as it stands, and the options it may be moved to (best first)."""

    booking: Booking
    options: tuple[Option, ...]


def problem_of(displaced: Sequence[Candidates], kept: Sequence[Allocation], uow: UnitOfWork,
               deps: BookingDeps, catalog: Catalog) -> RebalanceProblem:
    """The rebalancing problem of the displaced bookings; a move's key is its option's index.
    ``kept``: what the other affected bookings hold (they stay where they are)."""
    out: list[Displaced] = []
    for c in displaced:
        roles = frozenset(r.role for r in catalog.service(c.booking.service_id).roles)
        moves = tuple(Move(str(i), _uses(o.allocations), impact_of(c.booking, o, roles))
                      for i, o in enumerate(c.options))
        out.append(Displaced(c.booking.id, moves, _uses(c.booking.allocations),
                             PRIORITY.get(c.booking.urgency, 1)))
    pools = {ResourceId(a.resource_id): SiteId(o.site_id) for c in displaced for o in c.options
             for a in o.allocations if catalog.resources[ResourceId(a.resource_id)].capacity > 1}
    capacity: dict[str, int] = {rid: catalog.resources[rid].capacity for rid in pools}
    moving: set[str] = {c.booking.id for c in displaced}
    staying = tuple(u for u in _uses(kept) if u.resource_id not in pools)  # pools: read from the store
    taken = _taken(pools, moving, displaced, uow, deps, catalog)
    return RebalanceProblem(tuple(out), capacity, taken + staying)


def _uses(allocations: Sequence[Allocation]) -> tuple[Use, ...]:
    return tuple(Use(a.resource_id, to_ts(a.start), to_ts(a.end)) for a in allocations)


def _taken(pools: dict[ResourceId, SiteId], moving: set[str], displaced: Sequence[Candidates],
           uow: UnitOfWork, deps: BookingDeps, catalog: Catalog) -> tuple[Use, ...]:
    """What stays taken of each pool the options use: the allocations of bookings not being
    moved, and the lanes off duty (the capacity its calendar does not schedule)."""
    if not pools:
        return ()
    spans = [(to_ts(a.start), to_ts(a.end)) for c in displaced for o in c.options for a in o.allocations
             if a.resource_id in pools]
    window: Span = (min(lo for lo, _ in spans), max(hi for _, hi in spans))
    busy = deps.calendar.busy(uow, pools, window) if deps.calendar is not None else uow.bookings.busy(
        pools, window)
    out = [Use(rid, b.start, b.end) for rid, entries in busy.items() for b in entries
           if b.booking_id not in moving]
    for rid, site_id in pools.items():
        resource = catalog.resources[rid]
        cursor = window[0]
        for piece in catalog.capacity_cover(resource, site_id, window):
            if piece.end <= cursor or piece.start >= window[1]:
                continue
            if piece.start > cursor:  # nobody scheduled
                out.append(Use(rid, cursor, piece.start, resource.capacity))
            if piece.count < resource.capacity:
                out.append(Use(rid, max(piece.start, cursor), min(piece.end, window[1]),
                               resource.capacity - piece.count))
            cursor = piece.end
        if cursor < window[1]:
            out.append(Use(rid, cursor, window[1], resource.capacity))
    return tuple(out)
