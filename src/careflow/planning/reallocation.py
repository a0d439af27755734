"""Staff reallocation: move spare pool staff to where coverage is short.

For each short layer (a span of whole clock hours at the site in which one more unit of
a pool type is needed, ``staff_coverage.Timeline.shortages``), the sources are the other
pools of that type with spare staff throughout the span and the travel before it; they
are tried nearest first (the same site first, then by distance), among equals those whose
spare staff were freed by cancellations and no-shows first, then the most spare. Each
source gives what it can; what it gives is promised (it cannot be given twice). When no
source is spare for the whole span, what is left is covered hour by hour where it can be.
Proposals are ranked by the short coverage they cover (unit-hours), then travel.

Travel: the great-circle distance at ``speed_kmh``, rounded up to 5 minutes; the moved
staff leave the source that long before the span starts, and go home from the target.
A source further than ``max_travel_minutes`` is not proposed. The "staff's hours" hold
because a source's spare counts only units on duty throughout [leave, end).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.sites import Site, distance_km
from careflow.domain.timespans import Span, from_ts, to_ts
from careflow.planning.staff_coverage import Demand, PoolState, Timeline, pool_type, serves

__all__ = ["CoverageRow", "Move", "Plan", "Shortage", "hours_of", "plan_reallocation", "travel"]

SPEED_KMH = 40.0
MAX_TRAVEL_MINUTES = 120


@dataclass(frozen=True, slots=True)
class Move:
    """``units`` of ``source``'s staff work at ``target`` over [start, end), leaving ``leave_at``."""

    source: ResourceId
    target: ResourceId
    start: datetime
    end: datetime
    units: int
    leave_at: datetime

    @property
    def id(self) -> str:
        """A stable id for the same move (what ``apply`` is asked to do)."""
        text = f"{self.source}|{self.target}|{self.start.isoformat()}|{self.end.isoformat()}|{self.units}"
        return "mv_" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Shortage:
    """One more unit (``units`` more) of ``role`` needed at a pool over a span, and why."""

    site_id: SiteId
    pool_id: ResourceId | None  # None: no pool of the type at the site to receive staff
    role: str
    languages: frozenset[str]
    start: datetime
    end: datetime
    units: int
    causes: tuple[str, ...]
    covered: int = 0  # units the proposals cover throughout the span
    covered_unit_hours: float = 0.0  # what they cover, with moves for some of its hours

    @property
    def unit_hours(self) -> float:
        return self.units * (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class Proposal:
    move: Move
    source_site: SiteId
    target_site: SiteId
    pool_type: str
    travel_km: float
    travel_minutes: int
    freed_units: int  # of the units moved, how many a cancellation or no-show freed (for part of the span)
    covers_unit_hours: float
    reasons: tuple[str, ...]
    source_spare: int = 0  # units the source had spare throughout [leave, end)


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One hour of one pool type at one site (summed over its pools)."""

    site_id: SiteId
    pool_type: str
    hour: datetime  # start, UTC
    on_duty: int  # fewest units on duty in the hour
    booked: int  # most units in use at once in the hour
    demand: int  # most extra units asked for at once (emergency, queue)
    short: int  # most units short at once
    surplus: int  # units spare throughout the hour
    freed: int  # of the surplus, units freed by cancellations and no-shows


@dataclass
class Plan:
    rows: list[CoverageRow] = field(default_factory=list)
    shortages: list[Shortage] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)


def travel(a: Site, b: Site, speed_kmh: float = SPEED_KMH) -> tuple[float, int]:
    """(km, minutes rounded up to 5) between two sites; (0, 0) within a site."""
    if a.id == b.id:
        return 0.0, 0
    km = distance_km(a.position, b.position)
    return round(km, 1), int(math.ceil(km / speed_kmh * 60 / 5) * 5)


def hours_of(window: Span, zone: ZoneInfo) -> list[Span]:
    """The window cut at the zone's hour boundaries (23 or 25 hours across a DST change)."""
    out: list[Span] = []
    start = window[0]
    while start < window[1]:
        local = from_ts(start).astimezone(zone)
        # The next hour in UTC: local-clock arithmetic would jump the repeated hour in autumn.
        hour = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        nxt = (hour + timedelta(hours=1)).timestamp()
        end = min(int(nxt), window[1])
        out.append((start, end))
        start = end
    return out


def _hhmm(ts: int, zone: ZoneInfo) -> str:
    return from_ts(ts).astimezone(zone).strftime("%H:%M")


def _causes(tl: Timeline, span: Span) -> tuple[str, ...]:
    segs = list(tl.within(span))
    out: list[str] = []
    over = max((s.in_use - s.on_duty for s in segs), default=0)
    if over > 0:
        low = min(s.on_duty for s in segs)
        out.append(f"{over} more booked than on duty (as few as {low} on duty: a call-out after booking)")
    return tuple(out)


def _demand_causes(state: PoolState, span: Span) -> tuple[str, ...]:
    out = []
    for d in state.demands:
        if d.span[0] < span[1] and d.span[1] > span[0]:
            ref = f" {d.ref}" if d.ref else ""
            why = f" ({d.reason})" if d.reason else ""
            out.append(f"{d.source}{ref}: {d.units} {d.role} asked for{why}")
    return tuple(out)


def _route(demand: Demand, states: Sequence[PoolState], window: Span) -> PoolState | None:
    """The pool at the demand's site that receives it: the one with the most spare."""
    here = [s for s in states if s.site_id == demand.site_id and serves(s.resource, demand.role,
                                                                         demand.languages)]
    if not here:
        return None
    return max(here, key=lambda s: (Timeline(s, window).spare(demand.span), s.resource.id))


def plan_reallocation(states: Sequence[PoolState], sites: Mapping[SiteId, Site], window: Span,
                      now: int, demands: Sequence[Demand] = (), targets: frozenset[SiteId] | None = None,
                      hours: Mapping[SiteId, Span] | None = None, speed_kmh: float = SPEED_KMH,
                      max_travel_minutes: int = MAX_TRAVEL_MINUTES) -> Plan:
    """Coverage rows, short coverage and ranked moves over ``window`` (from ``now`` on).

    ``targets`` limits the shortages (and rows) to some sites (sources may be anywhere);
    ``hours`` gives each site's local day for its rows (default: the whole window).
    """
    plan = Plan()
    for demand in demands:
        receiver = _route(demand, states, window)
        if receiver is None:
            plan.shortages.append(Shortage(demand.site_id, None, demand.role, demand.languages,
                                           demand.start, demand.end, demand.units,
                                           (f"no {demand.role} pool at {demand.site_id} to receive staff",)))
        else:
            receiver.demands.append(demand)
    timelines = {s.resource.id: Timeline(s, window) for s in states}
    by_id = {s.resource.id: s for s in states}
    for state in states:
        if targets is None or state.site_id in targets:
            plan.rows.extend(_rows(state, timelines[state.resource.id], sites[state.site_id],
                                   (hours or {}).get(state.site_id, window)))
    plan.rows = _summed(plan.rows)
    layers = []
    for rid, tl in timelines.items():
        state = by_id[rid]
        if targets is not None and state.site_id not in targets:
            continue
        for span, units in tl.shortages(now, hours_of(window, sites[state.site_id].zone)):
            layers.append((state, span, units))
    layers.sort(key=lambda x: (-x[2] * (x[1][1] - x[1][0]), x[1][0], x[0].resource.id))
    for state, span, units in layers:
        found = _sources(state, span, units, states, timelines, sites, speed_kmh, max_travel_minutes, now)
        covered = sum(p.move.units for p in found if to_ts(p.move.start) == span[0])
        if covered < units:  # nobody spare for all of it: cover what can be, hour by hour
            there: dict[ResourceId, int] = {}
            for hour in hours_of(span, sites[state.site_id].zone) if span[1] - span[0] > 3600 else ():
                have = sum(p.move.units for p in found  # staff there for (some of) the hour already
                           if to_ts(p.move.start) < hour[1] and to_ts(p.move.end) > hour[0])
                if have >= units:
                    continue
                more = _sources(state, hour, units - have, states, timelines, sites, speed_kmh,
                                max_travel_minutes, now, there)
                there.update({p.move.source: hour[1] for p in more})
                found += more
        plan.proposals.extend(_merged(found, by_id, sites))
        res = state.resource
        languages = res.pool.languages if res.pool.role == "interpreter" else frozenset()
        plan.shortages.append(Shortage(
            state.site_id, res.id, res.pool.role, languages, from_ts(span[0]), from_ts(span[1]), units,
            _causes(timelines[res.id], span) + _demand_causes(state, span), covered,
            round(sum(p.covers_unit_hours for p in found), 2)))
    plan.proposals.sort(key=lambda p: (-p.covers_unit_hours, p.travel_km, -p.freed_units, p.move.id))
    plan.shortages.sort(key=lambda s: (s.start, s.site_id, s.role, -s.units))
    return plan


def _sources(target: PoolState, span: Span, units: int, states: Sequence[PoolState],
             timelines: Mapping[ResourceId, Timeline], sites: Mapping[SiteId, Site], speed_kmh: float,
             max_travel_minutes: int, now: int, there_until: Mapping[ResourceId, int] | None = None,
             ) -> list[Proposal]:
    """Moves covering ``units`` over ``span``; ``there_until`` names sources whose staff
    are already at the target until a time (an earlier hour's move): staying on needs no
    travel, and they are asked first. Staff who set off now arrive after their travel, so
    a move may begin after the span does."""
    res = target.resource
    languages = res.pool.languages if res.pool.role == "interpreter" else frozenset()
    here = sites[target.site_id]
    candidates = []
    for state in states:
        src = state.resource
        if src.id == res.id or not serves(src, res.pool.role, languages):
            continue
        km, minutes = travel(sites[state.site_id], here, speed_kmh)
        if minutes > max_travel_minutes:
            continue
        tl = timelines[src.id]
        staying = there_until is not None and there_until.get(src.id) == span[0]
        begin = span[0] if staying else max(span[0], now + minutes * 60)
        if begin >= span[1]:
            continue
        work = (begin, span[1])
        away = work if staying else (begin - minutes * 60, span[1])
        spare = tl.spare(away)
        if spare > 0:
            candidates.append((-1.0 if staying else km, -tl.freed_spare(work), -spare, src.id, state,
                               minutes, away, km, work))
    candidates.sort(key=lambda c: c[:4])
    out: list[Proposal] = []
    left = units
    for _, neg_freed, neg_spare, _, state, minutes, away, km, work in candidates:
        if left == 0:
            break
        give = min(left, -neg_spare)
        freed = min(give, -neg_freed)
        timelines[state.resource.id].take(away, give)
        left -= give
        move = Move(state.resource.id, res.id, from_ts(work[0]), from_ts(work[1]), give, from_ts(away[0]))
        out.append(_proposal(move, state, target, sites, km, minutes, freed, -neg_spare))
    return out


def _proposal(move: Move, source: PoolState, target: PoolState, sites: Mapping[SiteId, Site], km: float,
              minutes: int, freed: int, spare: int) -> Proposal:
    zone = sites[target.site_id].zone
    when = f"{_hhmm(int(move.start.timestamp()), zone)}-{_hhmm(int(move.end.timestamp()), zone)}"
    role = target.resource.pool.role
    reasons = [f"{target.resource.id} at {target.site_id} is short of {move.units} {role} {when} local",
               f"{source.resource.id} at {source.site_id} has {spare} spare throughout, with travel"]
    if freed:
        reasons.append(f"{freed} of them freed by cancellations or no-shows")
    reasons.append("same site: no travel" if source.site_id == target.site_id
                   else f"{km} km, about {minutes} min travel: leaves at "
                        f"{_hhmm(int(move.leave_at.timestamp()), sites[source.site_id].zone)} local")
    hours = move.units * (move.end - move.start).total_seconds() / 3600
    return Proposal(move, source.site_id, target.site_id, pool_type(target.resource), km, minutes, freed,
                    round(hours, 2), tuple(reasons), spare)


def _merged(found: Sequence[Proposal], states: Mapping[ResourceId, PoolState],
            sites: Mapping[SiteId, Site]) -> list[Proposal]:
    """Hour-by-hour moves of the same staff back to back, as one move."""
    out: list[Proposal] = []
    for p in sorted(found, key=lambda p: (p.move.source, p.move.units, p.move.start)):
        last = out[-1].move if out else None
        if last is not None and (last.source, last.units, last.end) == (p.move.source, p.move.units,
                                                                        p.move.start):
            move = Move(last.source, last.target, last.start, p.move.end, last.units, last.leave_at)
            out[-1] = _proposal(move, states[move.source], states[move.target], sites, p.travel_km,
                                p.travel_minutes, max(out[-1].freed_units, p.freed_units),
                                min(out[-1].source_spare, p.source_spare))
        else:
            out.append(p)
    return out


def _rows(state: PoolState, tl: Timeline, site: Site, day: Span) -> list[CoverageRow]:
    out = []
    kind = pool_type(state.resource)
    for hour in hours_of(day, site.zone):
        segs = list(tl.within(hour))
        if not segs:
            continue
        row = CoverageRow(state.site_id, kind, from_ts(hour[0]), min(s.on_duty for s in segs),
                          max(s.in_use for s in segs), max(s.demand for s in segs),
                          max(s.short for s in segs), min(s.spare for s in segs),
                          min(s.freed_spare for s in segs))
        if row.on_duty or row.booked or row.demand:
            out.append(row)
    return out


def _summed(rows: list[CoverageRow]) -> list[CoverageRow]:
    """Rows of several pools of one type at one site, added up per hour."""
    acc: dict[tuple[SiteId, str, datetime], CoverageRow] = {}
    for r in rows:
        key = (r.site_id, r.pool_type, r.hour)
        old = acc.get(key)
        acc[key] = r if old is None else CoverageRow(
            r.site_id, r.pool_type, r.hour, old.on_duty + r.on_duty, old.booked + r.booked,
            old.demand + r.demand, old.short + r.short, old.surplus + r.surplus, old.freed + r.freed)
    return sorted(acc.values(), key=lambda r: (r.site_id, r.pool_type, r.hour))
