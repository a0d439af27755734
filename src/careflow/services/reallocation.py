"""Staff reallocation use cases: where pool coverage is short on a day, the moves that
would cover it, applying one, and telling the staffing office when a cancellation or a
no-show frees staff a shortage could use.

Short coverage comes from three places: pools with more units booked than on duty (a
partial call-out after cases were booked), open exception-queue items of category
``staffing`` or ``no_option`` that carry a ``staff_shortage`` entry in their
alternatives (``{"kind": "staff_shortage", "role", "start", "end", "units", "site_id"?,
"language"?}``: how a workflow says a request failed for want of a pool lane), and
emergency demand given with the request (not stored: it is an input to the
computation). The computation itself is ``planning/reallocation.py``.

Applying a move is one transaction: both pools' rows locked, the source's spare re-read
against its current bookings (409 when it is gone), a closure of ``units`` on the source
from when the staff leave, an ``extra`` of ``units`` on the target for the span (its
capacity raised to the new headcount when needed, so the extra lanes exist), the catalog
version moved, two audit entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from careflow.domain.access import SYSTEM, Actor, Permission
from careflow.domain.bookings import BookingStatus
from careflow.domain.calendars import CalendarException, ExceptionKind, capacity_profile
from careflow.domain.catalog import Catalog
from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.domain.exception_sla import DEFAULT_POLICY
from careflow.domain.exceptions_queue import ExceptionItem, RaiseException
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import Span, from_ts, require_aware, to_ts
from careflow.planning.reallocation import Move, Plan, Proposal, plan_reallocation, travel
from careflow.planning.staff_coverage import Demand, PoolState, Timeline, serves
from careflow.services.catalogs import CatalogCache
from careflow.services.dispatch import Handler, HandlerRegistry
from careflow.services.ports import (
    AuditEntry,
    BookingFilter,
    Clock,
    MasterAdminStore,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = ["CONSUMER", "FREEING_EVENTS", "MAX_DEMANDS", "QUEUE_CATEGORIES", "SHORTAGE_KIND",
           "ReallocationDeps", "apply_move", "demands_from_queue", "proposal_dict", "reallocation_plan",
           "register_handlers", "staffing_handler"]

SHORTAGE_KIND = "staff_shortage"
QUEUE_CATEGORIES = frozenset({"staffing", "no_option"})
MAX_DEMANDS = 50
MAX_DAYS_AWAY = 366
TRAVEL_MARGIN = 3 * 3600  # the window starts this early, so a source's travel fits in it
STAFFING_TEAM = "staffing_office"
CONSUMER = "staff-reallocation"
FREEING_EVENTS = ("BookingCancelled", "PatientDidNotArrive")


@dataclass(frozen=True)
class ReallocationDeps:
    """Units of work, the catalog cache, the clock, and the admin store (to apply moves)."""

    uow: UnitOfWorkFactory
    catalogs: CatalogCache
    clock: Clock
    admin: Callable[[UnitOfWork], MasterAdminStore] | None = None


def _day_span(day: date, site_zone: Any) -> Span:
    lo = datetime.combine(day, time(0), tzinfo=site_zone)
    hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=site_zone)
    return (to_ts(lo), to_ts(hi))


def demands_from_queue(items: Iterable[ExceptionItem], sites: Iterable[str]) -> list[Demand]:
    """The ``staff_shortage`` entries of open ``staffing`` / ``no_option`` items (entries
    that do not parse, or name an unknown site, are left out: the queue keeps them)."""
    known = set(sites)
    out: list[Demand] = []
    for item in items:
        if item.resolved or item.category not in QUEUE_CATEGORIES:
            continue
        for alt in item.alternatives:
            if not isinstance(alt, dict) or alt.get("kind") != SHORTAGE_KIND:
                continue
            site = alt.get("site_id") or item.site_id
            if site not in known:
                continue
            try:
                out.append(Demand(SiteId(str(site)), str(alt["role"]), datetime.fromisoformat(alt["start"]),
                                  datetime.fromisoformat(alt["end"]), int(alt.get("units", 1)),
                                  alt.get("language") or None, "exception", item.id,
                                  str(alt.get("reason", ""))[:200]))
            except (KeyError, TypeError, ValueError, InvalidRequest):
                continue
    return out


def _freed(uow: UnitOfWork, pools: set[ResourceId], window: Span) -> dict[ResourceId, list[Span]]:
    """Pool spans released by cancelled bookings and no-shows around the window."""
    out: dict[ResourceId, list[Span]] = {}
    lo, hi = from_ts(window[0] - 86400), from_ts(window[1])
    for status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW):
        offset = 0
        while True:
            page, total = uow.bookings.find(BookingFilter(status=status, start_from=lo, start_to=hi),
                                            offset, 500)
            for booking in page:
                for a in booking.allocations:
                    if a.resource_id in pools and a.span[1] > window[0] and a.span[0] < window[1]:
                        out.setdefault(a.resource_id, []).append(a.span)
            offset += len(page)
            if not page or offset >= total:
                break
    return out


def pool_states(uow: UnitOfWork, pools: Sequence[Resource], catalog: Catalog, window: Span,
                freed: bool = True) -> list[PoolState]:
    """Each pool's headcount at its site, its active allocations and what was freed."""
    ids = [p.id for p in pools]
    busy = uow.bookings.busy(ids, window)
    released = _freed(uow, set(ids), window) if freed else {}
    return [PoolState(p, capacity_profile(p.availability, window, catalog.sites[p.site_id].zone, p.capacity,
                                          p.site_id, p.site_id),
                      busy.get(p.id, []), released.get(p.id, []))
            for p in pools]


def _plan(uow: UnitOfWork, catalog: Catalog, day: date, targets: frozenset[SiteId] | None,
          demands: Sequence[Demand], now: datetime, roles: frozenset[str] | None = None) -> Plan:
    """The plan for ``day``; ``roles`` limits it to some pool roles (the event handler
    needs only the roles a booking freed)."""
    days = {sid: _day_span(day, site.zone) for sid, site in catalog.sites.items()}
    shown = days if targets is None else {s: days[s] for s in targets if s in days}
    if not shown:
        return Plan()
    window = (min(lo for lo, _ in shown.values()) - TRAVEL_MARGIN, max(hi for _, hi in shown.values()))
    pools = sorted((r for r in catalog.resources.values() if r.kind is ResourceKind.STAFF_POOL and r.active
                    and (roles is None or r.pool.role in roles)), key=lambda r: r.id)
    queue = demands_from_queue(uow.exceptions.unresolved(), catalog.sites)
    asked = [d for d in (*demands, *queue) if (targets is None or d.site_id in targets)
             and (roles is None or d.role in roles)]
    return plan_reallocation(pool_states(uow, pools, catalog, window), catalog.sites, window, to_ts(now),
                             asked, targets, days)


def _check_day(day: date, now: datetime) -> None:
    if abs((day - now.date()).days) > MAX_DAYS_AWAY:
        raise InvalidRequest(f"date must be within {MAX_DAYS_AWAY} days of today", "date")


def reallocation_plan(deps: ReallocationDeps, actor: Actor, day: date, site_id: str | None = None,
                      emergency: Sequence[Demand] = ()) -> Plan:
    """Coverage rows, short coverage and ranked moves for ``day`` (each site's local day):
    into ``site_id`` when given (else every site the actor may see), from anywhere."""
    actor.require(Permission.MASTER_READ)
    actor.require(Permission.BOOKING_READ)
    now = deps.clock()
    _check_day(day, now)
    if len(emergency) > MAX_DEMANDS:
        raise InvalidRequest(f"at most {MAX_DEMANDS} demands at once", "demands")
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        for i, demand in enumerate(emergency):
            if demand.site_id not in catalog.sites or not actor.may_see_site(demand.site_id):
                raise InvalidRequest(f"unknown site {demand.site_id!r}", f"demands.{i}.site_id")
        if site_id is not None:
            if site_id not in catalog.sites or not actor.may_see_site(site_id):
                raise NotFound("site", site_id)
            targets: frozenset[SiteId] | None = frozenset({SiteId(site_id)})
        elif actor.sites is not None and not actor.break_glass:
            targets = frozenset(SiteId(s) for s in actor.sites if s in catalog.sites)
        else:
            targets = None
        return _plan(uow, catalog, day, targets, emergency, now)


def proposal_dict(p: Proposal) -> dict[str, Any]:
    """A proposal in its JSON form (what the API returns and an exception item carries)."""
    m = p.move
    return {"kind": "staff_move", "id": m.id, "source_pool_id": m.source, "source_site_id": p.source_site,
            "target_pool_id": m.target, "target_site_id": p.target_site, "pool_type": p.pool_type,
            "start": m.start.isoformat(), "end": m.end.isoformat(), "leave_at": m.leave_at.isoformat(),
            "units": m.units, "travel_km": p.travel_km, "travel_minutes": p.travel_minutes,
            "freed_units": p.freed_units, "covers_unit_hours": p.covers_unit_hours,
            "source_spare": p.source_spare, "reasons": list(p.reasons)}


# --- applying a move --------------------------------------------------------------------


def _pool(store: MasterAdminStore, actor: Actor, rid: str, field: str) -> Resource:
    found = store.get("resource", (rid,), lock=True)
    if found is None or not actor.may_see_site(found.item.site_id):
        raise NotFound("resource", rid)
    res: Resource = found.item
    if res.kind is not ResourceKind.STAFF_POOL or not res.active:
        raise InvalidRequest(f"{rid} is not an active staff pool", field)
    return res


def _peak(res: Resource, span: Span, zone: Any) -> int:
    pieces = capacity_profile(res.availability, span, zone, 1_000_000, res.site_id, res.site_id)
    return max((p.count for p in pieces), default=0)


def apply_move(deps: ReallocationDeps, actor: Actor, source: str, target: str, start: datetime,
               end: datetime, units: int, reason: str = "") -> Move:
    """Move ``units`` of ``source``'s staff to ``target`` over [start, end) (from now on,
    when it has begun); ``Conflict`` when the source no longer has them spare."""
    actor.require(Permission.MASTER_WRITE)
    assert deps.admin is not None, "apply_move needs the admin store"
    start, end = require_aware(start, "start"), require_aware(end, "end")
    now = deps.clock().replace(second=0, microsecond=0)
    if end <= start:
        raise InvalidRequest("end must be after start", "end")
    if end - start > timedelta(hours=24):
        raise InvalidRequest("a move may span at most 24 hours", "end")
    if end <= now:
        raise InvalidRequest("the move's span is over", "end")
    if source == target:
        raise InvalidRequest("source and target must be different pools", "target_pool_id")
    if not 1 <= units <= 100:
        raise InvalidRequest("units must be between 1 and 100", "units")
    start = max(start, now)
    with deps.uow(write=True) as uow:
        store = deps.admin(uow)
        fields = {source: "source_pool_id", target: "target_pool_id"}
        # lock in id order: two moves between the same pools never deadlock
        locked = {rid: _pool(store, actor, rid, fields[rid]) for rid in sorted(fields)}
        src, tgt = locked[source], locked[target]
        actor.require_site(src.site_id)
        actor.require_site(tgt.site_id)
        languages = tgt.pool.languages if tgt.pool.role == "interpreter" else frozenset()
        if not serves(src, tgt.pool.role, languages):
            raise InvalidRequest(f"{source}'s staff cannot stand in for {target}'s ({tgt.pool.role})",
                                 "source_pool_id")
        catalog = deps.catalogs.get(uow)
        sites = catalog.sites
        km, minutes = travel(sites[src.site_id], sites[tgt.site_id])
        leave = start - timedelta(minutes=minutes)
        away = (to_ts(leave), to_ts(end))
        [state] = pool_states(uow, [src], catalog, away, freed=False)
        spare = Timeline(state, away).spare(away)
        if spare < units:
            raise Conflict(f"{source} has {spare} staff spare from {leave.isoformat()} to {end.isoformat()}; "
                           f"the move needs {units}: the surplus is no longer there")
        move = Move(src.id, tgt.id, start, end, units, leave)
        why = f" ({reason.strip()})" if reason.strip() else ""
        closing = CalendarException(leave, end, ExceptionKind.CLOSURE, units,
                                    f"reallocated: {units} to {tgt.id} at {tgt.site_id} [{move.id}]{why}")
        adding = CalendarException(start, end, ExceptionKind.EXTRA, units,
                                   f"reallocated: {units} from {src.id} at {src.site_id} [{move.id}]{why}")
        new_src = replace(src, availability=replace(src.availability,
                                                    exceptions=(*src.availability.exceptions, closing)))
        grown = replace(tgt.availability, exceptions=(*tgt.availability.exceptions, adding))
        peak = _peak(replace(tgt, availability=grown), (to_ts(start), to_ts(end)), sites[tgt.site_id].zone)
        new_tgt = replace(tgt, availability=grown, capacity=max(tgt.capacity, peak))
        store.update("resource", new_src)
        store.update("resource", new_tgt)
        store.bump_version()
        detail = {"move": move.id, "source": src.id, "target": tgt.id, "start": start.isoformat(),
                  "end": end.isoformat(), "leave_at": leave.isoformat(), "units": units, "travel_km": km}
        for rid, side in ((src.id, "source"), (tgt.id, "target")):
            uow.audit(AuditEntry(actor.id, "staffing.reallocate", "resource", rid, "ok", reason.strip(),
                                 detail={**detail, "side": side}))
        uow.commit()
    return move


# --- freed staff: the event handler -----------------------------------------------------


def staffing_handler(deps: ReallocationDeps, event_type: str) -> Handler:
    """For BookingCancelled / PatientDidNotArrive: when pool staff the booking held can now
    cover a current shortage, raise one ``staffing`` exception for the staffing office
    carrying the moves (once per booking and event type, whatever the redeliveries)."""

    def handle(payload: dict[str, Any], uow: UnitOfWork) -> None:
        booking_id = str(payload.get("aggregate_id", ""))
        item_id = "ex_staffing_" + hashlib.sha256(f"{event_type}|{booking_id}".encode()).hexdigest()[:24]
        booking = uow.bookings.get(booking_id)
        if booking is None or uow.exceptions.get(item_id) is not None:
            return
        catalog = deps.catalogs.get(uow)
        now = deps.clock()
        freed = {a.resource_id: a.span for a in booking.allocations
                 if (r := catalog.resources.get(a.resource_id)) is not None
                 and r.kind is ResourceKind.STAFF_POOL and a.span[1] > to_ts(now)}
        if not freed or booking.site_id not in catalog.sites:
            return
        day = booking.start.astimezone(catalog.sites[booking.site_id].zone).date()
        roles = frozenset(catalog.resources[rid].pool.role for rid in freed)
        plan = _plan(uow, catalog, day, None, (), now, roles)
        moves = [p for p in plan.proposals if p.move.source in freed
                 and to_ts(p.move.leave_at) < freed[p.move.source][1]
                 and to_ts(p.move.end) > freed[p.move.source][0]]
        if not moves:
            return
        best = moves[0]
        what = "cancellation" if event_type == "BookingCancelled" else "no-show"
        cmd = RaiseException(
            "staffing", STAFFING_TEAM, "high",
            f"The {what} of {booking_id} freed {best.move.source} staff; {best.move.target} at "
            f"{best.target_site} is short of {best.pool_type}: move {best.move.units}?",
            booking_id=booking_id, site_id=best.target_site,
            alternatives=tuple(proposal_dict(p) for p in moves[:10]))
        item = ExceptionItem.raised(item_id, cmd, now, DEFAULT_POLICY.due_at("staffing", "high", now))
        uow.exceptions.add(item)
        uow.publish(item.events)
        uow.audit(AuditEntry(SYSTEM.id, "exception.raise", "exception", item.id, "ok",
                             detail={"category": "staffing", "team": STAFFING_TEAM, "event": event_type,
                                     "booking": booking_id, "moves": [p.move.id for p in moves[:10]]}))
        item.events.clear()

    return handle


def register_handlers(registry: HandlerRegistry, deps: ReallocationDeps) -> None:
    """Offer staff freed by cancellations and no-shows to the staffing office."""
    for event_type in FREEING_EVENTS:
        registry.register(event_type, CONSUMER, staffing_handler(deps, event_type))
