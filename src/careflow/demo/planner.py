"""Placing one case: choose a resource (and lanes) for every need, or give up.

``Planner.try_case`` mirrors the dependency checks: suitability by the domain's own
``suitability``, every interval from the preference card via ``Need.span`` (setup,
turnover, reprocessing, the bed's stay), capacity from the templates, pool lanes only
while the headcount exceeds them, clinicians within their contract's daily limit and
weekly overtime threshold, stock above its floor, the patient free. ``commit`` records
the case in the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from careflow.demo.ledger import Ledger
from careflow.demo.patients import Draft
from careflow.demo.templates import midnight as midnight_ts
from careflow.domain.checks import suitability
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.options import equipment_tail
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import Need, Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site
from careflow.domain.timespans import Span

__all__ = ["Pick", "Placed", "Planner"]


@dataclass(frozen=True, slots=True)
class Pick:
    """A resource (lane) chosen for a role, with the interval it is held."""

    role: str
    resource_id: ResourceId
    lane: int
    span: Span


@dataclass(frozen=True)
class Placed:
    """A case that fits: its service, patient, site, start and end, and the picks."""

    service: Service
    patient: Draft
    site_id: SiteId
    start: int
    end: int
    picks: tuple[Pick, ...]


@dataclass
class Planner:
    """Fits cases against the ledger; keeps patients', clinicians' and stock totals."""

    ledger: Ledger
    sites: Mapping[SiteId, Site]
    resources: Mapping[ResourceId, Resource]
    stock_room: dict[tuple[SiteId, str], int]  # units placement may still reserve
    _by_site_kind: dict[tuple[SiteId, ResourceKind], list[Resource]] = field(default_factory=dict)
    _candidates: dict[tuple[SiteId, str, str], list[Resource]] = field(default_factory=dict)
    _probes: dict[str, Patient] = field(default_factory=dict)
    _patient_days: set[tuple[str, date]] = field(default_factory=set)
    _hours: dict[tuple[ResourceId, date], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in sorted(self.resources.values(), key=lambda r: r.id):
            if r.kind is ResourceKind.CLINICIAN:
                where = {b.site_id or r.site_id for b in r.availability.blocks} | {r.site_id}
                for s in sorted(where):
                    self._by_site_kind.setdefault((s, r.kind), []).append(r)
            else:
                self._by_site_kind.setdefault((r.site_id, r.kind), []).append(r)

    # --- lookups ---------------------------------------------------------------------

    def at(self, site: SiteId, kind: ResourceKind) -> list[Resource]:
        """Resources of a kind at a site, by id (clinicians: those with blocks there)."""
        return self._by_site_kind.get((site, kind), [])

    def probe(self, d: Draft) -> Patient:
        """The patient as the checks see them (sex, isolation, language)."""
        found = self._probes.get(d.id)
        if found is None:
            found = Patient(d.id, d.mrn, d.name, d.birth_date, d.sex, d.language,
                            d.needs_interpreter, d.home, d.preferences, d.isolation_required)
            self._probes[d.id] = found
        return found

    def candidates(self, site: SiteId, need: Need, service: Service) -> list[Resource]:
        """Resources at the site that could fill the need, ignoring time (cached)."""
        key = (site, f"{service.id}/{need.role}", need.language or "")
        found = self._candidates.get(key)
        if found is None:
            # Credentials are judged per case day later; 1970 predates every expiry.
            neutral = Patient(PatientId("probe"), "probe", "probe", date(1970, 1, 1))
            found = [r for r in self._by_site_kind.get((site, need.kind), [])
                     if not suitability(need, r, self.sites[site], neutral, date(1970, 1, 1))]
            self._candidates[key] = found
        return found

    def patient_free(self, d: Draft, day: date) -> bool:
        """No other booking (nor an inpatient stay) for the patient that day."""
        return (d.id, day) not in self._patient_days

    def local_day(self, site: SiteId, ts: int) -> date:
        """The site-local calendar day of an instant."""
        return datetime.fromtimestamp(ts, self.sites[site].zone).date()

    # --- placing ---------------------------------------------------------------------

    def _hours_ok(self, res: Resource, span: Span, day: date) -> bool:
        contract = res.clinician.contract
        length = span[1] - span[0]
        if self._hours.get((res.id, day), 0) + length > contract.max_hours_day * 3600:
            return False
        monday = day - timedelta(days=day.weekday())
        week = sum(self._hours.get((res.id, monday + timedelta(days=i)), 0) for i in range(7))
        return week + length <= contract.overtime_threshold_week * 3600

    def _fit(self, need: Need, res: Resource, site: SiteId, patient: Patient, day: date,
             room: ResourceId | None, start: int, end: int, taken: set[tuple[ResourceId, int]]
             ) -> list[Pick] | None:
        if suitability(need, res, self.sites[site], patient, day, room):
            return None
        span = need.span(start, end, equipment_tail(res))
        if res.laned:
            lanes = self.ledger.free_lanes(res.id, site, span, need.count + len(taken),
                                           _unit_index(room))
            if lanes is None:
                return None
            mine = [lane for lane in lanes if (res.id, lane) not in taken][:need.count]
            if len(mine) < need.count:
                return None
            return [Pick(need.role, res.id, lane, span) for lane in mine]
        if self.ledger.min_capacity(res.id, site, span) < 1 or not self.ledger.lane_free(res.id, 0, span):
            return None
        if res.kind is ResourceKind.CLINICIAN and not self._hours_ok(res, span, day):
            return None
        return [Pick(need.role, res.id, 0, span)]

    def _first_fit(self, need: Need, pool: list[Resource], site: SiteId, patient: Patient,
                   day: date, room: ResourceId | None, start: int, end: int, picks: list[Pick],
                   taken: set[tuple[ResourceId, int]]) -> list[Pick] | None:
        for res in pool:
            if need.kind is not ResourceKind.STAFF_POOL and any(p.resource_id == res.id for p in picks):
                continue  # distinct units for a count above one
            found = self._fit(need, res, site, patient, day, room, start, end,
                              {t for t in taken if t[0] == res.id})
            if found is not None:
                return found
        return None

    def try_case(self, service: Service, d: Draft, site: SiteId, start: int,
                 fixed: Mapping[str, ResourceId] | None = None) -> Placed | None:
        """A complete placement of ``service`` for ``d`` at ``start``, or None."""
        end = start + service.duration
        day = self.local_day(site, start)
        if not self.patient_free(d, day):
            return None
        for item in service.items:
            if self.stock_room.get((site, item.sku), 0) < item.quantity:
                return None
        patient = self.probe(d)
        picks: list[Pick] = []
        taken: set[tuple[ResourceId, int]] = set()
        room: ResourceId | None = None
        for need in service.needs(d.interpreter_language):
            wanted = (fixed or {}).get(need.role)
            pool = [self.resources[wanted]] if wanted else self.candidates(site, need, service)
            units = 1 if need.kind is ResourceKind.STAFF_POOL else need.count
            for _ in range(units):
                found = self._first_fit(need, pool, site, patient, day, room, start, end,
                                        picks, taken)
                if found is None:
                    return None
                picks.extend(found)
                taken.update((p.resource_id, p.lane) for p in found)
                if need.role == "room":
                    room = found[0].resource_id
        return Placed(service, d, site, start, end, tuple(picks))

    def commit(self, placed: Placed) -> None:
        """Hold every pick, the patient's day, the clinicians' hours and the stock."""
        for p in placed.picks:
            self.ledger.take(p.resource_id, p.lane, p.span)
            if self.resources[p.resource_id].kind is ResourceKind.CLINICIAN:
                key = (p.resource_id, self.local_day(placed.site_id, p.span[0]))
                self._hours[key] = self._hours.get(key, 0) + p.span[1] - p.span[0]
        last = max(p.span[1] for p in placed.picks)  # through the bed stay
        day = self.local_day(placed.site_id, placed.start)
        while True:
            self._patient_days.add((placed.patient.id, day))
            day += timedelta(days=1)
            if midnight_ts(day, self.zone(placed.site_id)) >= last:
                break
        for item in placed.service.items:
            self.stock_room[(placed.site_id, item.sku)] -= item.quantity

    def zone(self, site: SiteId) -> ZoneInfo:
        """The site's time zone."""
        return self.sites[site].zone


def _unit_index(room: ResourceId | None) -> int | None:
    """``or-h1-03`` → 2: a room's team works on the pool lane of the room's number."""
    if room is None:
        return None
    tail = room.rsplit("-", 1)[-1]
    return int(tail) - 1 if tail.isdigit() else None
