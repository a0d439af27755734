"""An independent re-check of a health system's bookings with the domain's own rules.

``problems(system, now)`` lists everything wrong, as readable strings (empty when all
holds): overlaps on a resource lane, allocations outside availability (a pool lane used
while the headcount does not exceed it), unsuitable resources (privileges, credentials,
room type, bed), stock reserved beyond what is on hand, a patient in two places, and
(for every ``sample``-th booking) any hard violation from the full ``check_case``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from itertools import pairwise

from careflow.domain.bookings import Booking
from careflow.domain.catalog import Catalog
from careflow.domain.checks import CheckContext, busy_of, check_case, suitability
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.occupancy import Busy, Occupancy
from careflow.domain.resources import ResourceKind
from careflow.domain.timespans import Span, overlaps

__all__ = ["problems"]

WEEK = 7 * 86400


class _Index:
    """Active allocations per resource, sorted, sliceable by time."""

    def __init__(self, bookings: Sequence[Booking]) -> None:
        self.busy: dict[str, list[Busy]] = defaultdict(list)
        for b in bookings:
            if b.active:
                for entry, a in zip(busy_of(b.allocations, b.id), b.allocations, strict=True):
                    self.busy[a.resource_id].append(entry)
        self.starts: dict[str, list[int]] = {}
        self.longest: dict[str, int] = {}
        for rid, entries in self.busy.items():
            entries.sort(key=lambda e: (e.start, e.end, e.lane, e.booking_id))
            self.starts[rid] = [e.start for e in entries]
            self.longest[rid] = max(e.end - e.start for e in entries)

    def around(self, rid: str, window: Span, skip: str) -> list[Busy]:
        entries = self.busy.get(rid, [])
        if not entries:
            return []
        lo = bisect_left(self.starts[rid], window[0] - self.longest[rid])
        hi = bisect_left(self.starts[rid], window[1])
        return [e for e in entries[lo:hi] if e.end > window[0] and e.booking_id != skip]


def _lane_overlaps(index: _Index) -> list[str]:
    out: list[str] = []
    for rid, entries in sorted(index.busy.items()):
        last: dict[int, Busy] = {}
        for e in entries:
            prev = last.get(e.lane)
            if prev is not None and prev.end > e.start:
                out.append(f"{rid} lane {e.lane}: {prev.booking_id} overlaps {e.booking_id}")
            if prev is None or e.end > prev.end:
                last[e.lane] = e
    return out


def _static(system: HealthSystem, catalog: Catalog, window: Span) -> list[str]:
    """Availability, suitability, patient overlaps and stock, over every booking."""
    out: list[str] = []
    patients = {p.id: p for p in system.patients}
    occupancies: dict[tuple[str, str], Occupancy] = {}
    for b in system.bookings:
        site = catalog.sites[b.site_id]
        service = catalog.services[b.service_id]
        patient = patients[b.patient_id]
        needs = {n.role: n for n in service.needs(patient.interpreter_language)}
        day = datetime.fromtimestamp(b.span[0], site.zone).date()
        room = next((a.resource_id for a in b.allocations if a.role == "room"), None)
        for a in b.allocations:
            res = catalog.resources[a.resource_id]
            key = (res.id, site.id)
            if key not in occupancies:
                occupancies[key] = Occupancy(res, window, catalog.capacity(res, site.id, window))
            if not occupancies[key].on_duty(a.span, a.lane + 1):
                out.append(f"{b.id}: {a.resource_id} lane {a.lane} is not on duty for {a.role}")
            need = needs.get(a.role)
            if need is None:
                out.append(f"{b.id}: role {a.role} is not on the card of {service.id}")
                continue
            for v in suitability(need, res, site, patient, day, room):
                out.append(f"{b.id}: {v.code.value} {v.message}")
    by_patient: dict[str, list[Booking]] = defaultdict(list)
    for b in system.bookings:
        if b.active:
            by_patient[b.patient_id].append(b)
    for pid, mine in sorted(by_patient.items()):
        mine.sort(key=lambda b: b.span)
        for x, y in pairwise(mine):
            if overlaps(x.span, y.span):
                out.append(f"{pid}: {x.id} overlaps {y.id}")
    reserved: dict[tuple[SiteId, str], int] = defaultdict(int)
    for b in system.bookings:
        if b.active:
            for item in b.items:
                reserved[(b.site_id, item.sku)] += item.quantity
    levels = {(s.site_id, s.sku): s for s in system.stock}
    for item_key, qty in sorted(reserved.items()):
        level = levels.get(item_key)
        if level is None or qty > level.on_hand or qty != level.reserved:
            out.append(f"stock {item_key}: bookings reserve {qty}, level says {level}")
    return out


def _full_checks(system: HealthSystem, catalog: Catalog, index: _Index, now: datetime,
                 sample: int) -> list[str]:
    out: list[str] = []
    patients = {p.id: p for p in system.patients}
    auths = defaultdict(list)
    for auth in system.authorizations:
        auths[auth.patient_id].append(auth)
    levels = {(s.site_id, s.sku): s for s in system.stock}
    patient_spans: dict[str, list[tuple[Span, str]]] = defaultdict(list)
    for b in system.bookings:
        if b.active:
            patient_spans[b.patient_id].append((b.span, b.id))
    for b in system.bookings[::sample]:
        site = catalog.sites[b.site_id]
        window = (b.span[0] - WEEK, b.span[1] + WEEK + 4 * 86400)
        occupancy = {}
        for rid in b.resource_ids:
            res = catalog.resources[ResourceId(rid)]
            wide = window if res.kind is ResourceKind.CLINICIAN else (
                min(a.span[0] for a in b.allocations), max(a.span[1] for a in b.allocations))
            occupancy[res.id] = Occupancy(res, wide, catalog.capacity(res, site.id, wide),
                                          index.around(rid, wide, b.id))
        stock = {}
        for item in b.items:
            level = levels[(b.site_id, item.sku)]
            stock[item.sku] = replace(level, reserved=level.reserved - item.quantity)  # not its own
        ctx = CheckContext(now, catalog.services[b.service_id], patients[b.patient_id], site,
                           catalog.resources, occupancy, stock, auths[b.patient_id],
                           [s for s, other in patient_spans[b.patient_id] if other != b.id])
        for v in check_case(ctx, b.start, b.end, b.allocations):
            if v.is_hard:
                out.append(f"{b.id}: {v.code.value} {v.message}")
    return out


def problems(system: HealthSystem, now: datetime, sample: int = 1) -> list[str]:
    """Everything wrong with the system's bookings; ``sample`` thins the full checks."""
    catalog = Catalog(1, {s.id: s for s in system.sites}, {r.id: r for r in system.resources},
                      {s.id: s for s in system.services})
    if not system.bookings:
        return []
    lo = min(min(a.span[0] for a in b.allocations) for b in system.bookings)
    hi = max(max(a.span[1] for a in b.allocations) for b in system.bookings)
    window = (lo - 86400, hi + 86400)
    index = _Index(system.bookings)
    out = _lane_overlaps(index) + _static(system, catalog, window)
    return out + _full_checks(system, catalog, index, now, sample)

