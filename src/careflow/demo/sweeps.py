"""The greedy that pre-fills the horizon: one sweep per kind of care, day by day.

Each sweep walks a site's rooms (or a clinician's sessions) through a local day and
fills them front to back: pick a service from the room's menu, pick a plausible patient,
try the case at the cursor; on success the cursor moves past the turnover, on failure a
slot later. Random skips leave the free gaps that make ``find`` interesting and keep
utilization realistic (operating rooms ~80 %, clinics and imaging ~75-85 %, infusion ~70 %).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from careflow.demo.authorizations import AuthorizationBook
from careflow.demo.patients import Draft
from careflow.demo.planner import Placed, Planner
from careflow.demo.services import AUDIENCE, clinic_service_ids
from careflow.demo.sites import SiteSpec
from careflow.demo.templates import midnight
from careflow.demo.wellknown import HAS_BOOKINGS
from careflow.domain.calendars import WeeklyBlock
from careflow.domain.ids import ResourceId, ServiceId, SiteId
from careflow.domain.preference_cards import Service, ServiceKind
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.timespans import Span

__all__ = ["Placement", "Tuning", "run_sweeps"]

SURGERY_WEIGHTS = {"svc-tka": 5.0, "svc-tha": 3.0, "svc-knee-arthroscopy": 3.0,
                   "svc-spinal-fusion": 1.0, "svc-lap-chole": 4.0, "svc-hernia-repair": 3.0,
                   "svc-colectomy": 1.5, "svc-cataract": 1.0, "svc-cystoscopy": 3.0,
                   "svc-robotic-prostatectomy": 1.0, "svc-tonsillectomy": 2.0,
                   "svc-sinus-surgery": 1.5, "svc-tavr": 1.0}
IMAGING_MENU = {"mri": (("svc-mri-brain", 0.5), ("svc-mri-knee", 0.5)),
                "ct": (("svc-ct-chest", 0.55), ("svc-ct-abdomen", 0.45)),
                "ultrasound": (("svc-us-abdomen", 0.88), ("svc-us-biopsy", 0.12))}
INFUSION_MENU = (("svc-infusion-chemo", 0.45), ("svc-infusion-iron", 0.55))
FIVE_MINUTES = 300


@dataclass(frozen=True)
class Tuning:
    """How full the sweeps make the horizon."""

    or_skip: float = 0.03
    or_hole: float = 0.2
    clinic_skip: float = 0.28
    imaging_skip: float = 0.32
    infusion_skip: float = 0.05
    infusion_hole: float = 0.15
    days: int = 30
    per_day_cap: int | None = None


@dataclass
class Placement:
    """The sweeps' shared state: the planner, the patients, the authorizations, the result."""

    rng: random.Random
    anchor: date
    planner: Planner
    services: Mapping[ServiceId, Service]
    groups: Mapping[str, list[Draft]]
    panels: Mapping[ResourceId, list[Draft]]
    book: AuthorizationBook
    tuning: Tuning
    placed: list[Placed] = field(default_factory=list)
    _booked: set[str] = field(default_factory=set)
    _members: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._members = {name: {d.id for d in group} for name, group in self.groups.items()}

    def _patients(self, service: Service, panel: Sequence[Draft]) -> list[Draft]:
        audience = AUDIENCE.get(service.id, "adult")
        group = self.groups.get(audience, [])
        out: list[Draft] = []
        if HAS_BOOKINGS not in self._booked and HAS_BOOKINGS in self._members.get(audience, set()):
            out += [d for d in group if d.id == HAS_BOOKINGS]
        if panel and self.rng.random() < 0.55:
            out.append(self.rng.choice(panel))
        if group:
            out += [self.rng.choice(group) for _ in range(4)]
        return out

    def attempt(self, service: Service, site: SiteId, start: int,
                fixed: Mapping[str, ResourceId], panel: Sequence[Draft] = ()) -> Placed | None:
        """Try the case at ``start`` for up to two plausible patients free that day."""
        day = self.planner.local_day(site, start)
        tries = 0
        for d in self._patients(service, panel):
            if not self.planner.patient_free(d, day):
                continue
            placed = self.planner.try_case(service, d, site, start, fixed)
            if placed is not None:
                self._commit(placed, day)
                return placed
            tries += 1
            if tries == 2:
                break
        return None

    def _commit(self, placed: Placed, day: date) -> None:
        self.planner.commit(placed)
        d, service = placed.patient, placed.service
        self._booked.add(d.id)
        if service.prerequisites.authorization:
            self.book.approve_for(d.id, service.id, day)
        for item in service.prerequisites.prep:
            due = day - timedelta(days=item.due_days_before)
            soon = due <= self.anchor + timedelta(days=6)
            if item.code not in d.prep and (soon or self.rng.random() < 0.5):
                d.prep[item.code] = self.anchor - timedelta(days=self.rng.randint(1, 14))
        self.placed.append(placed)

    def choose(self, menu: Sequence[tuple[Service, float]]) -> Service:
        """A service from a weighted menu."""
        return self.rng.choices([s for s, _ in menu], [w for _, w in menu])[0]

    def fill(self, site: SiteId, span: Span, menu: Sequence[tuple[Service, float]],
             fixed: Mapping[str, ResourceId], skip: float, step: int,
             panel: Sequence[Draft] = (), hole: float = 0.0) -> None:
        """Fill ``span`` with cases from ``menu``; with probability ``hole`` leave one
        stretch free that fits the menu's longest case (so ``find`` has something to offer)."""
        if self.rng.random() < hole:
            longest = max(s.duration + (s.setup_minutes + s.turnover_minutes + 15) * 60 for s, _ in menu)
            slots = (span[1] - span[0] - longest) // 900
            if slots >= 0:
                lo = span[0] + self.rng.randint(0, slots) * 900
                self._fill(site, (span[0], lo), menu, fixed, skip, step, panel)
                self._fill(site, (lo + longest, span[1]), menu, fixed, skip, step, panel)
                return
        self._fill(site, span, menu, fixed, skip, step, panel)

    def _fill(self, site: SiteId, span: Span, menu: Sequence[tuple[Service, float]],
              fixed: Mapping[str, ResourceId], skip: float, step: int, panel: Sequence[Draft]) -> None:
        cursor, count, cap = span[0], 0, self.tuning.per_day_cap
        while cursor < span[1] and (cap is None or count < cap):
            if self.rng.random() < skip:
                cursor += step
                continue
            service = self.choose(menu)
            start = -(-(cursor + service.setup_minutes * 60) // FIVE_MINUTES) * FIVE_MINUTES
            finish = start + service.duration + service.turnover_minutes * 60
            if finish > span[1]:
                shortest = min((s for s, _ in menu), key=lambda s: s.duration)
                if shortest is service:
                    break
                cursor += step
                continue
            if self.attempt(service, site, start, fixed, panel) is not None:
                cursor, count = finish, count + 1
            else:
                cursor += step


def _day_span(spec: SiteSpec, day: date) -> Span:
    zone = spec.site.zone
    return (midnight(day, zone), midnight(day + timedelta(days=1), zone))


def _at(pl: Placement, site: SiteId, kind: ResourceKind) -> list[Resource]:
    return pl.planner.at(site, kind)


def _surgeries(pl: Placement, spec: SiteSpec, day: date,
               owners: Mapping[tuple[ResourceId, int], ResourceId]) -> None:
    surgical = [s for s in pl.services.values() if s.kind in (ServiceKind.SURGERY, ServiceKind.PROCEDURE)
                and s.roles and s.room is not None and s.room.room_type == "operating"
                and spec.site.kind in s.site_kinds]
    for room in sorted(_at(pl, spec.id, ResourceKind.ROOM), key=lambda r: r.id):
        owner_id = owners.get((room.id, day.weekday()))
        if room.room.room_type != "operating" or owner_id is None:
            continue
        owner = pl.planner.resources[owner_id].clinician
        menu = [(s, SURGERY_WEIGHTS.get(s.id, 1.0)) for s in surgical
                if s.roles[0].specialty in owner.specialties and s.roles[0].privilege in owner.privileges
                and s.room is not None and s.room.capabilities <= room.room.capabilities]
        if not menu:
            continue
        fixed = {"room": room.id, "surgeon": owner_id, "interventionalist": owner_id}
        for span in pl.planner.ledger.duty_spans(room.id, spec.id, _day_span(spec, day)):
            pl.fill(spec.id, span, menu, fixed, pl.tuning.or_skip, 1800, hole=pl.tuning.or_hole)


def _menu(pl: Placement, spec: SiteSpec, entries: Sequence[tuple[str, float]]) -> list[tuple[Service, float]]:
    out = []
    for sid, weight in entries:
        s = pl.services.get(ServiceId(sid))
        if s is not None and spec.site.kind in s.site_kinds:
            out.append((s, weight))
    return out


def _imaging_and_infusion(pl: Placement, spec: SiteSpec, day: date) -> None:
    for kind in (ResourceKind.CHAIR, ResourceKind.ROOM):
        for room in sorted(_at(pl, spec.id, kind), key=lambda r: r.id):
            if kind is ResourceKind.CHAIR:
                menu, skip, step = _menu(pl, spec, INFUSION_MENU), pl.tuning.infusion_skip, 1800
                hole = pl.tuning.infusion_hole
            elif room.room.room_type in IMAGING_MENU:
                menu = _menu(pl, spec, IMAGING_MENU[room.room.room_type])
                skip, step, hole = pl.tuning.imaging_skip, 900, 0.0
            else:
                continue
            if not menu:
                continue
            for span in pl.planner.ledger.duty_spans(room.id, spec.id, _day_span(spec, day)):
                pl.fill(spec.id, span, menu, {"room": room.id}, skip, step, hole=hole)


def _clinics(pl: Placement, spec: SiteSpec, day: date,
             sessions: Mapping[ResourceId, tuple[WeeklyBlock, ...]]) -> None:
    zone = spec.site.zone
    for cid in sorted(sessions):
        clinician = pl.planner.resources[cid]
        ids = clinic_service_ids(sorted(clinician.clinician.specialties)[0])
        if ids is None or ids[0] not in pl.services:
            continue
        new, follow_up = pl.services[ids[0]], pl.services.get(ids[1], pl.services[ids[0]])
        menu = [(new, 0.35), (follow_up, 0.65)] if new is not follow_up else [(new, 1.0)]
        for b in sessions[cid]:
            if (b.site_id or clinician.site_id) != spec.id or not b.applies_on(day):
                continue
            for span in pl.planner.ledger.duty_spans(cid, spec.id, b.span_on(day, zone)):
                pl.fill(spec.id, span, menu, {"clinician": cid}, pl.tuning.clinic_skip, 600,
                        pl.panels.get(cid, ()))


def run_sweeps(pl: Placement, specs: Sequence[SiteSpec],
               owners: Mapping[tuple[ResourceId, int], ResourceId],
               sessions: Mapping[ResourceId, tuple[WeeklyBlock, ...]]) -> None:
    """Surgery first (the most constrained), then chairs and imaging, then clinics."""
    days = [pl.anchor + timedelta(days=i) for i in range(pl.tuning.days)]
    for day in days:
        for spec in specs:
            _surgeries(pl, spec, day, owners)
    for day in days:
        for spec in specs:
            _imaging_and_infusion(pl, spec, day)
    for day in days:
        for spec in specs:
            _clinics(pl, spec, day, sessions)
