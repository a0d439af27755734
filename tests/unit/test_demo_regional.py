"""The regional demo: realistic size and fill, every booking valid, deterministic, and the
documented example requests find options. Built once for the module (a few seconds)."""

from __future__ import annotations

import itertools
import json
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from careflow import demo
from careflow.demo.clinicians import EXPIRING
from careflow.demo.stats import utilization
from careflow.demo.stock import LOW
from careflow.demo.verify import problems
from careflow.demo.wellknown import RESERVED
from careflow.domain.catalog import Catalog
from careflow.domain.checks import busy_of
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.options import FindRequest
from careflow.domain.patients import Authorization, AuthorizationStatus, Patient
from careflow.domain.resources import ResourceKind
from careflow.domain.sites import SiteKind
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span
from careflow.services.booking import BookingDeps
from careflow.services.catalogs import CatalogCache
from careflow.services.finding import find

ANCHOR = date(2026, 3, 2)  # a Monday; New York and Chicago move their clocks on the 8th
NY = ZoneInfo("America/New_York")
REQUESTS = Path(__file__).resolve().parents[2] / "examples" / "requests"


@pytest.fixture(scope="module")
def regional() -> HealthSystem:
    began = time.perf_counter()
    system = demo.build("regional", seed=7, anchor=ANCHOR)
    print(f"\nregional demo built in {time.perf_counter() - began:.1f} s: {system.summary()}")
    return system


def _rooms(hs: HealthSystem, room_type: str) -> list[Any]:
    return [r for r in hs.resources if r.kind in (ResourceKind.ROOM, ResourceKind.CHAIR)
            and r.room.room_type == room_type]


def test_counts_are_those_of_a_regional_system(regional: HealthSystem) -> None:
    kinds = Counter(s.kind for s in regional.sites)
    assert kinds == {SiteKind.HOSPITAL: 3, SiteKind.SURGERY_CENTER: 2, SiteKind.CLINIC: 6}
    assert len(regional.sites) == 11
    assert 28 <= len(_rooms(regional, "operating")) <= 32
    clinicians = [r for r in regional.resources if r.kind is ResourceKind.CLINICIAN]
    assert 240 <= len(clinicians) <= 260
    specialties = {s for c in clinicians for s in c.clinician.specialties}
    assert len(specialties) >= 10
    assert {c.clinician.profession for c in clinicians} >= {"surgeon", "physician", "radiologist",
                                                            "anesthesiologist"}
    assert sum(r.kind is ResourceKind.CHAIR for r in regional.resources) == 60
    assert sum(r.kind is ResourceKind.BED for r in regional.resources) == 400
    assert len(regional.patients) == 5000
    assert 18_000 <= len(regional.bookings) <= 22_000
    assert len(regional.services) >= 20


def test_one_site_keeps_central_time(regional: HealthSystem) -> None:
    zones = Counter(s.timezone for s in regional.sites)
    assert zones == {"America/New_York": 10, "America/Chicago": 1}


def test_resources_cover_every_kind_with_realistic_attributes(regional: HealthSystem) -> None:
    beds = [r.bed for r in regional.resources if r.kind is ResourceKind.BED]
    assert {b.bed_type for b in beds} == {"surgical", "medical", "icu", "step_down"}
    assert {b.gender for b in beds} == {"any", "female", "male"}
    assert 0 < sum(b.isolation for b in beds) < len(beds) / 4
    assert {r.site_id for r in regional.resources if r.kind is ResourceKind.CHAIR} == {
        "site-h1", "site-h2", "site-c2"}
    for modality in ("ct", "mri", "ultrasound"):
        assert _rooms(regional, modality)
    roles = {r.pool.role for r in regional.resources if r.kind is ResourceKind.STAFF_POOL}
    assert roles >= {"anesthesia", "circulating-nurse", "scrub-tech", "preop-nurse", "interpreter",
                     "ct-tech", "mri-tech", "us-tech", "infusion-nurse"}
    languages = {lang for r in regional.resources if r.kind is ResourceKind.STAFF_POOL
                 for lang in r.pool.languages}
    assert languages >= {"es", "zh", "vi", "ar", "ru", "pt"}
    anesthesia = next(r for r in regional.resources if r.id == "pool-h1-anesthesia")
    assert len(anesthesia.availability.blocks) == 2
    assert anesthesia.capacity > 8
    equipment = [r.equipment for r in regional.resources if r.kind is ResourceKind.EQUIPMENT]
    assert any(e.mobile and e.sterilization_minutes > 0 for e in equipment)
    assert any(not e.mobile and e.room_id for e in equipment)
    assert {e.equipment_type for e in equipment} >= {"c-arm", "portable-ultrasound"}


def test_calendars_hold_vacations_call_outs_and_maintenance(regional: HealthSystem) -> None:
    kinds = Counter(e.kind.value for r in regional.resources for e in r.availability.exceptions)
    assert kinds["vacation"] >= 5
    assert kinds["call_out"] >= 1
    assert kinds["maintenance"] >= 1


def test_surgeons_work_at_several_sites_on_different_weekdays(regional: HealthSystem) -> None:
    surgeons = [r for r in regional.resources if r.kind is ResourceKind.CLINICIAN
                and r.clinician.profession == "surgeon"]
    travelling = [s for s in surgeons if len({b.site_id for b in s.availability.blocks}) > 1]
    assert len(travelling) > len(surgeons) / 2
    for s in surgeons:
        by_day: dict[int, set[str | None]] = defaultdict(set)
        for b in s.availability.blocks:
            for d in b.weekdays:
                by_day[d].add(b.site_id)
        assert all(len(sites) == 1 for sites in by_day.values()), s.id


def test_some_credentials_expire_inside_the_horizon(regional: HealthSystem) -> None:
    clinicians = {r.id: r.clinician for r in regional.resources if r.kind is ResourceKind.CLINICIAN}
    for who, code, days in EXPIRING:
        cred = clinicians[ResourceId(who)].credential(code)
        assert cred is not None
        assert cred.expires_on == ANCHOR + timedelta(days=days)
    end = ANCHOR + timedelta(days=30)
    for b in regional.bookings:
        for a in b.allocations:
            if a.resource_id in clinicians and any(w == a.resource_id for w, _, _ in EXPIRING):
                day = a.start.astimezone(NY).date()
                assert day <= end


def test_every_booking_passes_the_domain_checks(regional: HealthSystem) -> None:
    began = time.perf_counter()
    now = datetime.combine(ANCHOR - timedelta(days=2), clock_time(0), tzinfo=NY)
    found = problems(regional, now)
    print(f"\nverified {len(regional.bookings)} bookings in {time.perf_counter() - began:.1f} s")
    assert found == []


def test_no_resource_lane_is_double_booked(regional: HealthSystem) -> None:
    lanes: dict[tuple[str, int], list[Span]] = defaultdict(list)
    for b in regional.bookings:
        for a in b.allocations:
            lanes[(a.resource_id, a.lane)].append(a.span)
    for spans in lanes.values():
        spans.sort()
        assert all(x[1] <= y[0] for x, y in itertools.pairwise(spans))


def test_utilization_is_realistic(regional: HealthSystem) -> None:
    used = utilization(regional, ANCHOR)
    print(f"\nutilization: {used}")
    assert 0.72 <= used["operating rooms"] <= 0.88
    assert 0.70 <= used["clinic sessions"] <= 0.88
    assert 0.74 <= used["imaging"] <= 0.88
    assert 0.62 <= used["infusion chairs"] <= 0.78


def test_stock_reservations_fit_and_some_items_run_low(regional: HealthSystem) -> None:
    levels = {(s.site_id, s.sku): s for s in regional.stock}
    for level in levels.values():
        assert 0 <= level.reserved <= level.on_hand
    for (site, sku), left in LOW.items():
        level = levels[(SiteId(site), sku)]
        assert level.available == left < level.reorder_threshold
    normal = [s for k, s in levels.items() if k not in LOW]
    assert all(s.available >= s.reorder_threshold for s in normal)


def test_patients_are_synthetic_and_varied(regional: HealthSystem) -> None:
    ids = [p.id for p in regional.patients]
    assert ids[0] == "pat-00001"
    assert ids[-1] == "pat-05000"
    assert len(set(ids)) == 5000
    assert len({p.mrn for p in regional.patients}) == 5000
    share = sum(p.needs_interpreter for p in regional.patients) / 5000
    assert 0.06 <= share <= 0.10
    assert len({p.language for p in regional.patients if p.needs_interpreter}) >= 5
    assert sum(bool(p.usual_clinicians) for p in regional.patients) > 3000
    assert sum(p.preferences.time_of_day is not None for p in regional.patients) > 200
    assert any(p.completed_prep for p in regional.patients)


def test_authorizations_cover_booked_cases_and_vary(regional: HealthSystem) -> None:
    statuses = Counter(a.status for a in regional.authorizations)
    assert statuses[AuthorizationStatus.APPROVED] > statuses[AuthorizationStatus.PENDING] > 0
    assert statuses[AuthorizationStatus.DENIED] > 0
    expired = [a for a in regional.authorizations
               if a.status is AuthorizationStatus.APPROVED and a.valid_to and a.valid_to < ANCHOR]
    assert expired


def test_well_known_patients_tell_their_stories(regional: HealthSystem) -> None:
    patients = {p.id: p for p in regional.patients}
    booked = {b.patient_id for b in regional.bookings}
    assert not booked & RESERVED
    assert "pat-00012" in booked
    auths = {(a.patient_id, a.service_id): a.status for a in regional.authorizations}
    assert auths[(PatientId("pat-00001"), ServiceId("svc-tka"))] is AuthorizationStatus.APPROVED
    assert auths[(PatientId("pat-00004"), ServiceId("svc-tka"))] is AuthorizationStatus.PENDING
    assert auths[(PatientId("pat-00005"), ServiceId("svc-tka"))] is AuthorizationStatus.DENIED
    assert patients[PatientId("pat-00002")].interpreter_language == "es"
    assert patients[PatientId("pat-00008")].interpreter_language == "zh"
    assert patients[PatientId("pat-00011")].isolation_required


def test_the_same_seed_and_anchor_give_the_same_system(regional: HealthSystem) -> None:
    again = demo.build("regional", seed=7, anchor=ANCHOR)
    assert again.summary() == regional.summary()
    for mine, theirs in ((regional.bookings[0], again.bookings[0]),
                         (regional.bookings[-1], again.bookings[-1])):
        assert (mine.id, mine.patient_id, mine.service_id, mine.start, mine.allocations, mine.items) == (
            theirs.id, theirs.patient_id, theirs.service_id, theirs.start, theirs.allocations, theirs.items)
    assert again.patients == regional.patients
    assert again.resources == regional.resources
    assert again.authorizations == regional.authorizations


# --- the example requests, through the real find use case over an in-memory snapshot --------


class _Master:
    def __init__(self, hs: HealthSystem) -> None:
        self.catalog = Catalog(1, {s.id: s for s in hs.sites}, {r.id: r for r in hs.resources},
                               {s.id: s for s in hs.services})
        self.by_id = {p.id: p for p in hs.patients}
        self.auths: dict[str, list[Authorization]] = defaultdict(list)
        for a in hs.authorizations:
            self.auths[a.patient_id].append(a)
        self.levels = {(s.site_id, s.sku): s for s in hs.stock}

    def version(self) -> int:
        return 1

    def load_catalog(self) -> Catalog:
        return self.catalog

    def patient(self, patient_id: str) -> Patient | None:
        return self.by_id.get(PatientId(patient_id))

    def authorizations(self, patient_id: PatientId) -> list[Authorization]:
        return list(self.auths[patient_id])

    def stock(self, site_id: SiteId, skus: Collection[str]) -> dict[str, StockLevel]:
        return {sku: self.levels[(site_id, sku)] for sku in skus if (site_id, sku) in self.levels}


class _Bookings:
    def __init__(self, hs: HealthSystem) -> None:
        self.entries: dict[str, list[Busy]] = defaultdict(list)
        self.patients: dict[str, list[Span]] = defaultdict(list)
        for b in hs.bookings:
            for entry, a in zip(busy_of(b.allocations, b.id), b.allocations, strict=True):
                self.entries[a.resource_id].append(entry)
            self.patients[b.patient_id].append(b.span)
        for entries in self.entries.values():
            entries.sort(key=lambda e: e.start)

    def busy(self, resource_ids: Collection[ResourceId], window: Span) -> dict[ResourceId, list[Busy]]:
        out = {}
        for rid in resource_ids:
            entries = self.entries.get(rid, [])
            hi = bisect_left([e.start for e in entries], window[1])
            out[rid] = [e for e in entries[:hi] if e.end > window[0]]
        return out

    def patient_busy(self, patient_id: PatientId, window: Span, exclude: str | None) -> list[Span]:
        return [s for s in self.patients[patient_id] if s[0] < window[1] and s[1] > window[0]]


class _Snapshot:
    def __init__(self, hs: HealthSystem) -> None:
        self.master = _Master(hs)
        self.bookings = _Bookings(hs)

    def __enter__(self) -> _Snapshot:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture(scope="module")
def deps(regional: HealthSystem) -> BookingDeps:
    snapshot = _Snapshot(regional)
    now = datetime.combine(ANCHOR, clock_time(6), tzinfo=NY)
    return BookingDeps(uow=lambda write=False: snapshot, catalogs=CatalogCache(),  # type: ignore[arg-type,return-value]
                       clock=lambda: now)


def _request(body: dict[str, Any], now: datetime) -> FindRequest:
    return FindRequest(ServiceId(body["service_id"]), PatientId(body["patient_id"]), now,
                       now + timedelta(days=body["within_days"]),
                       frozenset(SiteId(s) for s in body.get("site_ids", [])), limit=body.get("limit", 10))


@pytest.mark.parametrize("name", ["surgery-knee-replacement", "clinic-visit-interpreter", "mri"])
def test_the_example_requests_find_options(deps: BookingDeps, name: str) -> None:
    body = json.loads((REQUESTS / f"{name}.json").read_text(encoding="utf-8"))
    assert body["within_days"] == 14
    assert body["urgency"] == "routine"
    result = find(_request(body, deps.clock()), deps)
    assert result.options, [v.message for v in result.blockers]
    for option in result.options:
        assert not [w for w in option.warnings if w.is_hard]
    if name == "clinic-visit-interpreter":
        assert all(any(a.role == "interpreter" for a in o.allocations) for o in result.options)
    if name == "surgery-knee-replacement":
        assert all(o.items and any(a.role == "bed" for a in o.allocations) for o in result.options)


@pytest.mark.parametrize(("patient", "code"), [("pat-00004", "AUTHORIZATION_PENDING"),
                                               ("pat-00005", "AUTHORIZATION_DENIED"),
                                               ("pat-00006", "AUTHORIZATION_EXPIRED")])
def test_the_authorization_stories_explain_themselves(deps: BookingDeps, patient: str, code: str) -> None:
    body = {"service_id": "svc-tka", "patient_id": patient, "within_days": 14}
    result = find(_request(body, deps.clock()), deps)
    assert not result.options
    assert code in {v.code.value for v in result.blockers}


def test_the_stock_stories_show_a_warning_and_a_refusal(deps: BookingDeps) -> None:
    north = ["site-h2"]
    hips = find(_request({"service_id": "svc-tha", "patient_id": "pat-00013", "within_days": 14,
                          "site_ids": north}, deps.clock()), deps)
    assert hips.options
    assert all("STOCK_BELOW_THRESHOLD" in {w.code.value for w in o.warnings} for o in hips.options)
    valves = find(_request({"service_id": "svc-tavr", "patient_id": "pat-00014", "within_days": 14,
                            "site_ids": north}, deps.clock()), deps)
    assert not valves.options
    assert "STOCK_INSUFFICIENT" in {v.code.value for v in valves.blockers}
