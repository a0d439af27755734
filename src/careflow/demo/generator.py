"""The generation pipeline shared by the scenarios.

sites → clinicians and their templates → rooms, chairs, beds, equipment, pools →
exceptions → services → stock → patients and the well-known stories → placement →
bookings, stock reservations, authorizations. One ``random.Random(seed)`` drives it and
everything is iterated in sorted order, so the same (scenario, seed, anchor) gives the
same system.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from careflow.demo.assemble import to_bookings, to_stock
from careflow.demo.authorizations import AuthorizationBook
from careflow.demo.clinicians import RosterLine, people
from careflow.demo.facilities import facilities
from careflow.demo.ledger import Ledger
from careflow.demo.patients import Draft, audiences, draft_patients, finish
from careflow.demo.planner import Planner
from careflow.demo.schedules import schedule, with_exceptions
from careflow.demo.services import all_services
from careflow.demo.sites import EASTERN, SiteSpec
from careflow.demo.stock import stock_plans
from careflow.demo.sweeps import Placement, Tuning, run_sweeps
from careflow.demo.templates import closure, local_instant, midnight
from careflow.demo.wellknown import RESERVED, apply_stories
from careflow.domain.calendars import CalendarException, ExceptionKind
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import ResourceId
from careflow.domain.resources import Resource

__all__ = ["Scenario", "generate"]

HORIZON_DAYS = 30


@dataclass(frozen=True)
class Scenario:
    """What to generate: sites, roster, services, patients and how full to make it."""

    name: str
    sites: list[SiteSpec]
    roster: tuple[RosterLine, ...]
    patients: int
    tuning: Tuning
    service_ids: frozenset[str] | None = None  # None: every service
    spread_authorizations: int = 0


def _downtime(resources: dict[ResourceId, Resource], specs: list[SiteSpec],
              anchor: date) -> None:
    """A C-arm maintenance window, a partial staff call-out, an OR closure, an extra session."""
    zones: dict[str, ZoneInfo] = {s.id: s.site.zone for s in specs}

    def add(rid: str, make: CalendarException) -> None:
        res = resources.get(ResourceId(rid))
        if res is not None:
            resources[res.id] = with_exceptions(res, [make])

    def day(n: int) -> date:
        return anchor + timedelta(days=n)

    ny = zones.get("site-h1", ZoneInfo(EASTERN))
    add("eq-h1-c-arm-1", closure(ExceptionKind.MAINTENANCE, day(3), "06:00", "18:00", ny,
                                 "preventive maintenance"))
    if "site-h2" in zones:
        add("pool-h2-anesthesia", closure(ExceptionKind.CALL_OUT, day(5), "06:00", "19:00",
                                          zones["site-h2"], "two anesthesia staff out sick", 2))
    if "site-h3" in zones:
        add("or-h3-06", closure(ExceptionKind.CLOSURE, day(9), "00:00", "23:59", zones["site-h3"],
                                "ceiling boom installation"))
    sunday = next(day(n) for n in range(7) if day(n).weekday() == 6)
    add("mri-h1-1", CalendarException(local_instant(sunday, "08:00", ny), local_instant(sunday, "14:00", ny),
                                      ExceptionKind.EXTRA, 1, "extra Sunday session for the backlog"))


def generate(scenario: Scenario, seed: int, anchor: date) -> HealthSystem:
    """Build the scenario's health system (deterministic in seed and anchor)."""
    rng = random.Random(seed)
    specs = sorted(scenario.sites, key=lambda s: s.id)
    sites = {s.id: s.site for s in specs}
    services = [s for s in all_services()
                if scenario.service_ids is None or s.id in scenario.service_ids]
    roster = schedule(specs, people(rng, scenario.roster, anchor), rng, anchor)
    resources: dict[ResourceId, Resource] = {r.id: r for r in roster.clinicians}
    for spec in specs:
        resources.update((r.id, r) for r in facilities(spec, roster.exam_rooms.get(spec.id, 0)))
    _downtime(resources, specs, anchor)
    plans = stock_plans(specs, services)

    drafts = draft_patients(rng, scenario.patients, specs, anchor, roster.clinicians)
    book = AuthorizationBook(rng, anchor)
    by_id: dict[str, Draft] = {d.id: d for d in drafts}
    apply_stories(by_id, anchor, book, {s.id for s in services}, {str(r) for r in resources})
    open_drafts = [d for d in drafts if d.id not in RESERVED]
    panels: dict[ResourceId, list[Draft]] = {}
    for d in open_drafts:
        for c in d.usual:
            panels.setdefault(c, []).append(d)

    ny = ZoneInfo(EASTERN)
    window = (midnight(anchor, ny) - 86400, midnight(anchor + timedelta(days=HORIZON_DAYS + 6), ny))
    planner = Planner(Ledger(sites, resources, window), sites, resources,
                      {(p.site_id, p.sku): p.room for p in plans})
    placement = Placement(rng, anchor, planner, {s.id: s for s in services}, audiences(open_drafts),
                          panels, book, scenario.tuning)
    run_sweeps(placement, specs, roster.or_owner, roster.sessions)

    book.spread(open_drafts, services, scenario.spread_authorizations)
    created_before = local_instant(anchor, "00:00", ny)
    bookings = to_bookings(placement.placed, resources, created_before, rng)
    return HealthSystem(
        name=scenario.name,
        sites=[sites[k] for k in sorted(sites)],
        resources=[resources[k] for k in sorted(resources)],
        services=sorted(services, key=lambda s: s.id),
        stock=to_stock(plans, bookings),
        patients=[finish(d) for d in drafts],
        authorizations=book.all(),
        bookings=bookings,
    )
