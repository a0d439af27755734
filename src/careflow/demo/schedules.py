"""Clinicians' weekly templates: operating-room block days and half-day clinic sessions.

Every operating room gets a surgeon per weekday (block scheduling), chosen by the room's
capabilities (laminar flow → orthopedics, hybrid → TAVR cardiologists, ...), so a
surgeon works at several sites on different weekdays. Clinic sessions are half days
(08:00–12:00 or 13:00–17:00) on the other weekdays, at the clinician's home site or
another one; exam rooms are then sized to the busiest session.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from careflow.demo.clinicians import Person
from careflow.demo.sites import EASTERN, SiteSpec
from careflow.demo.templates import block, closure
from careflow.domain.calendars import Availability, CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.resources import Resource, ResourceKind

__all__ = ["CHICAGO_LOCALS", "Roster", "schedule", "with_exceptions"]

ROOM_SPECIALTY = (("hybrid", "cardiology", "tavr"), ("ophthalmic", "ophthalmology", "cataract"),
                  ("robotic", "urology", "robotic-prostatectomy"),
                  ("laminar-flow", "orthopedics", "tka"), ("fluoroscopy", "neurosurgery", "spinal-fusion"))
GENERAL_MIX = (("general_surgery", 0.6), ("otolaryngology", 0.22), ("urology", 0.18))
HALVES = (("08:00", "12:00"), ("13:00", "17:00"))
CHICAGO_LOCALS = frozenset({"clin-im-28", "clin-im-29", "clin-im-30", "clin-fm-22", "clin-fm-23",
                            "clin-fm-24", "clin-peds-19", "clin-peds-20"})
SATURDAY_CLINIC = frozenset({"clin-fm-01", "clin-fm-02"})


@dataclass
class Roster:
    """Clinicians with templates, the OR block owners and the exam rooms each site needs."""

    clinicians: list[Resource]
    or_owner: dict[tuple[ResourceId, int], ResourceId]
    exam_rooms: dict[SiteId, int]
    sessions: dict[ResourceId, tuple[WeeklyBlock, ...]]


@dataclass
class _Plan:
    person: Person
    home: str | None = None
    blocks: list[WeeklyBlock] = field(default_factory=list)
    days: set[int] = field(default_factory=set)
    or_days: int = 0


def _room_specialty(caps: frozenset[str], rng: random.Random,
                    have: set[str]) -> tuple[str, str | None]:
    for cap, specialty, privilege in ROOM_SPECIALTY:
        if cap in caps:
            return specialty, privilege
    mix = [(s, w) for s, w in GENERAL_MIX if s in have] or [(s, 1.0) for s in sorted(have)]
    return rng.choices([s for s, _ in mix], [w for _, w in mix])[0], None


def _assign_or_days(specs: list[SiteSpec], plans: list[_Plan], rng: random.Random
                    ) -> dict[tuple[ResourceId, int], ResourceId]:
    owners: dict[tuple[ResourceId, int], ResourceId] = {}
    operators = [p for p in plans if p.person.line.profession == "surgeon"
                 or "tavr" in p.person.profile.privileges]
    have = {p.person.line.specialty for p in operators}
    for weekday in range(5):
        for spec in specs:
            for i, caps in enumerate(spec.operating_rooms, 1):
                specialty, privilege = _room_specialty(caps, rng, have)
                cap = 2 if specialty == "cardiology" else 3
                pool = [p for p in operators if p.person.line.specialty == specialty
                        and (privilege is None or privilege in p.person.profile.privileges)
                        and weekday not in p.days and p.or_days < cap]
                if not pool:
                    continue
                chosen = min(pool, key=lambda p: (p.or_days, p.home not in (None, spec.id), p.person.id))
                chosen.home = chosen.home or spec.id
                chosen.or_days += 1
                chosen.days.add(weekday)
                chosen.blocks.append(block(weekday, "07:00", "17:00", site=spec.id))
                room = ResourceId(f"or-{spec.id.removeprefix('site-')}-{i:02d}")
                owners[(room, weekday)] = ResourceId(chosen.person.id)
    return owners


def _sessions(plan: _Plan, rng: random.Random, known_sites: set[SiteId]) -> None:
    line = plan.person.line
    sites = tuple(s for s in line.session_sites if s in known_sites)
    if plan.person.id in CHICAGO_LOCALS:
        sites, plan.home = ("site-c6",), "site-c6"
    if not sites:
        return
    if plan.home is None:
        plan.home = rng.choice(sites)
    count = line.sessions + (2 if plan.person.id in CHICAGO_LOCALS else 0)
    free = [d for d in range(5) if d not in plan.days]
    chosen = sorted(rng.sample(free, min(count, len(free))))
    while len(chosen) < count:
        chosen.append(rng.choice(free))
    taken: set[tuple[int, int]] = set()
    for day in chosen:
        half = rng.randrange(2)
        if (day, half) in taken:
            half = 1 - half
        taken.add((day, half))
        site = plan.home if plan.home in sites and rng.random() < 0.4 else rng.choice(sites)
        plan.blocks.append(block(day, *HALVES[half], site=SiteId(site)))
        plan.days.add(day)
    if plan.person.id in SATURDAY_CLINIC and "site-c1" in known_sites:
        plan.blocks.append(block(5, "08:00", "12:00", site=SiteId("site-c1")))


def _fixed_templates(plan: _Plan, rng: random.Random) -> None:
    """Radiologists read three full days a week; hospitalists work 4-day stretches."""
    line, i = plan.person.line, plan.person.index
    if line.specialty == "radiology":
        plan.home = line.session_sites[i % len(line.session_sites)]
        for day in sorted(rng.sample(range(5), 3)):
            plan.blocks.append(block(day, "07:00", "17:00", site=SiteId(plan.home)))
    elif line.specialty == "hospital_medicine":
        plan.home = line.session_sites[i % len(line.session_sites)]
        days = frozenset({0, 1, 2, 3}) if i % 2 else frozenset({3, 4, 5, 6})
        plan.blocks.append(block(days, "07:00", "19:00", site=SiteId(plan.home)))


def _exam_rooms(plans: list[_Plan]) -> dict[SiteId, int]:
    load: Counter[tuple[str, int, str]] = Counter()
    for plan in plans:
        if plan.person.line.sessions == 0:
            continue
        for b in plan.blocks:
            if _is_session(b) and b.site_id is not None:
                for d in b.weekdays:
                    load[(b.site_id, d, b.start.isoformat())] += 1
    peak: dict[SiteId, int] = {}
    for (site, _, _), n in load.items():
        peak[SiteId(site)] = max(peak.get(SiteId(site), 0), n)
    return {site: max(3, n + 1) for site, n in sorted(peak.items())}


def _away(plans: list[_Plan], rng: random.Random, anchor: date,
          zones: dict[SiteId, str]) -> dict[str, list[CalendarException]]:
    out: dict[str, list[CalendarException]] = {}
    for plan in plans:
        pid, zone = plan.person.id, ZoneInfo(zones.get(SiteId(plan.home or ""), EASTERN))
        if pid == "clin-ortho-02":
            start, days = anchor + timedelta(days=7), 7
        elif plan.blocks and rng.random() < 0.08:
            start, days = anchor + timedelta(days=rng.randint(2, 22)), 7
        else:
            start, days = anchor, 0
        if days:
            out.setdefault(pid, []).append(
                closure(ExceptionKind.VACATION, start, "00:00", "00:00", zone, "vacation", days=days + 1))
        if pid == "clin-gsurg-02":
            out.setdefault(pid, []).append(closure(ExceptionKind.CALL_OUT, anchor + timedelta(days=1),
                                                   "05:00", "21:00", zone, "called out sick"))
    return out


def schedule(specs: list[SiteSpec], persons: list[Person], rng: random.Random,
             anchor: date) -> Roster:
    """Templates for every clinician; the OR owners; exam-room counts per site."""
    plans = [_Plan(p) for p in persons]
    owners = _assign_or_days(specs, plans, rng)
    known = {s.id for s in specs}
    for plan in plans:
        if plan.person.line.sessions:
            _sessions(plan, rng, known)
        else:
            _fixed_templates(plan, rng)
    zones = {s.id: s.site.timezone for s in specs}
    away = _away(plans, rng, anchor, zones)
    clinicians: list[Resource] = []
    fallback = specs[0].id
    for plan in plans:
        blocks = tuple(sorted(plan.blocks, key=lambda b: (min(b.weekdays), b.start, b.site_id or "")))
        home = SiteId(plan.home or fallback)
        av = Availability(blocks, tuple(away.get(plan.person.id, ())))
        clinicians.append(Resource(ResourceId(plan.person.id), home, ResourceKind.CLINICIAN,
                                   plan.person.name, plan.person.profile, av))
    exams = {s: n for s, n in _exam_rooms(plans).items() if s in known}
    sessions = {ResourceId(p.person.id): tuple(b for b in p.blocks if _is_session(b))
                for p in plans if p.person.line.sessions}
    return Roster(sorted(clinicians, key=lambda r: r.id), owners, exams, sessions)


def _is_session(b: WeeklyBlock) -> bool:
    return (b.start.isoformat(timespec="minutes"), b.end.isoformat(timespec="minutes")) in HALVES


def with_exceptions(resource: Resource, extra: list[CalendarException]) -> Resource:
    """The resource with more calendar exceptions."""
    av = resource.availability
    return replace(resource, availability=Availability(av.blocks, av.exceptions + tuple(extra)))
