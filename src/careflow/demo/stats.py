"""Utilization of a generated system: booked time over scheduled time, by kind of room.

Used by the tests and docs to show that the demo is realistically full; it reads only
the health system (rooms' templates expanded by the domain, and the bookings).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from careflow.demo.templates import midnight
from careflow.domain.calendars import Availability, WeeklyBlock, capacity_profile
from careflow.domain.health_system import HealthSystem
from careflow.domain.preference_cards import ServiceKind
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import Span

__all__ = ["horizon_span", "utilization"]

GROUPS = {"operating": "operating rooms", "exam": "exam rooms", "ct": "imaging", "mri": "imaging",
          "ultrasound": "imaging", "infusion": "infusion chairs"}


def horizon_span(system: HealthSystem, anchor: date, days: int = 30) -> Span:
    """The horizon in UTC seconds, from local midnight of the anchor at the first site."""
    zone = system.sites[0].zone
    return (midnight(anchor, zone), midnight(anchor + timedelta(days=days), zone))


def _scheduled(resources: Iterable[Resource], system: HealthSystem, window: Span) -> dict[str, int]:
    zones = {s.id: s.zone for s in system.sites}
    out: dict[str, int] = {}
    for r in resources:
        pieces = capacity_profile(r.availability, window, zones[r.site_id], r.capacity, r.site_id, r.site_id)
        out[r.id] = sum(p.end - p.start for p in pieces)
    return out


def utilization(system: HealthSystem, anchor: date, days: int = 30) -> dict[str, float]:
    """Booked over scheduled time for operating rooms, exam rooms, imaging and chairs,
    and booked over session time for clinicians in clinic."""
    window = horizon_span(system, anchor, days)
    rooms = [r for r in system.resources if r.kind in (ResourceKind.ROOM, ResourceKind.CHAIR)
             and r.room.room_type in GROUPS]
    scheduled = _scheduled(rooms, system, window)
    group_of = {r.id: GROUPS[r.room.room_type] for r in rooms}
    booked: dict[str, int] = {}
    for b in system.bookings:
        for a in b.allocations:
            if a.resource_id in group_of:
                lo, hi = max(a.span[0], window[0]), min(a.span[1], window[1])
                booked[a.resource_id] = booked.get(a.resource_id, 0) + max(0, hi - lo)
    totals: dict[str, list[int]] = {}
    for rid, group in group_of.items():
        t = totals.setdefault(group, [0, 0])
        t[0] += booked.get(rid, 0)
        t[1] += scheduled[rid]
    out = {g: round(t[0] / t[1], 3) for g, t in sorted(totals.items()) if t[1]}
    out["clinic sessions"] = _sessions(system, window)
    return out


def _minutes(b: WeeklyBlock) -> int:
    """Wall-clock length of a block (past midnight when it ends at or before its start)."""
    length = (b.end.hour * 60 + b.end.minute) - (b.start.hour * 60 + b.start.minute)
    return length if length > 0 else length + 24 * 60


def _sessions(system: HealthSystem, window: Span) -> float:
    """Visit time over half-day session time (blocks of at most four hours) of clinicians."""
    zones = {s.id: s.zone for s in system.sites}
    scheduled = 0
    for r in system.resources:
        if r.kind is not ResourceKind.CLINICIAN:
            continue
        halves = tuple(b for b in r.availability.blocks if _minutes(b) <= 240)
        av = Availability(halves, r.availability.exceptions)
        for site in sorted({b.site_id or r.site_id for b in halves}):
            pieces = capacity_profile(av, window, zones[site], 1, site, r.site_id)
            scheduled += sum(p.end - p.start for p in pieces)
    kinds = {s.id: s.kind for s in system.services}
    booked = sum(min(a.span[1], window[1]) - max(a.span[0], window[0])
                 for b in system.bookings if kinds[b.service_id] is ServiceKind.VISIT
                 for a in b.allocations if a.role == "clinician" and a.span[0] < window[1])
    return round(booked / scheduled, 3) if scheduled else 0.0
