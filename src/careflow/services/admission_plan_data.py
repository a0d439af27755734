"""Read a site's cases, rooms, surgeons, beds, inpatients and ward nurses into an ``AdmissionProblem``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from careflow.domain.bookings import Urgency
from careflow.domain.catalog import Catalog
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.occupancy import Busy
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.surgical_cases import CaseStatus, SurgicalCase
from careflow.domain.timespans import Span, from_ts, to_ts
from careflow.planning.admission_plan import (
    NURSE_MAX_LOAD,
    SHIFTS,
    AdmissionProblem,
    CaseToPlan,
    Inpatient,
    OperatingRoom,
    SurgeonDays,
    WardNurse,
)
from careflow.planning.admission_plan_wards import WARD_NURSE_ROLE, nurse_serves, nurse_skill, ward_rooms
from careflow.planning.admission_plan_weights import PlanningWeights
from careflow.services.ports import UnitOfWork
from careflow.services.workflows.case_store import CaseStore

__all__ = ["OPEN_STATUSES", "read_problem"]

OPEN_STATUSES = frozenset({CaseStatus.REQUESTED, CaseStatus.RUNNING, CaseStatus.WAITING,
                           CaseStatus.NEEDS_ATTENTION})
PAGE = 500


def _days(start: date, days: int, zone: ZoneInfo) -> list[Span]:
    """Each local day of the horizon as a UTC span (23 or 25 hours across a DST change)."""
    midnight = [to_ts(datetime.combine(start + timedelta(days=i), datetime.min.time(), tzinfo=zone))
                for i in range(days + 1)]
    return list(pairwise(midnight))


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _on_duty_minutes(catalog: Catalog, res: Resource, site: SiteId, day: Span) -> int:
    return sum(_overlap((p.start, p.end), day) for p in catalog.capacity(res, site, day) if p.count > 0) // 60


def _busy_minutes(busy: Iterable[Busy], day: Span) -> int:
    return sum(_overlap((b.start, b.end), day) for b in busy) // 60


def _headcount(catalog: Catalog, res: Resource, site: SiteId, span: Span) -> int:
    """Units on duty throughout ``span`` (0 when any part of it is uncovered)."""
    pieces = catalog.capacity(res, site, span)
    covered = sum(p.end - p.start for p in pieces)
    return min((p.count for p in pieces), default=0) if covered >= span[1] - span[0] else 0


def _age(birth: date, on: date) -> int:
    return max(0, on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day)))


def _local_day(ts: int, start: date, zone: ZoneInfo) -> int:
    return (from_ts(ts).astimezone(zone).date() - start).days


def _open_cases(store: CaseStore, site_id: str) -> list[SurgicalCase]:
    found: list[SurgicalCase] = []
    offset = 0
    while True:
        page, total = store.find(None, None, offset, PAGE)
        found += [c for c in page if c.status in OPEN_STATUSES
                  and (not c.request.site_ids or site_id in c.request.site_ids)]
        offset += len(page)
        if not page or offset >= total:
            return sorted(found, key=lambda c: c.id)


def _cases(uow: UnitOfWork, catalog: Catalog, store: CaseStore, site_id: str, start: date, days: int,
           zone: ZoneInfo) -> list[CaseToPlan]:
    site = catalog.site(site_id)
    out: list[CaseToPlan] = []
    for case in _open_cases(store, site_id):
        req = case.request
        service = catalog.services.get(req.service_id)  # type: ignore[call-overload]
        if (service is None or service.bed is None or service.room is None
                or service.room.room_type != "operating"
                or (service.site_kinds and site.kind not in service.site_kinds)):
            continue  # a day case or a service the site does not offer: not an admission to plan
        earliest = req.earliest.astimezone(zone).date()
        latest = (req.latest - timedelta(microseconds=1)).astimezone(zone).date()
        patient = uow.master.patient(req.patient_id)
        if patient is None or (earliest - start).days >= days:
            continue
        out.append(CaseToPlan(
            case.id, req.patient_id, req.surgeon_id, req.service_id,
            service.setup_minutes + service.duration_minutes + service.turnover_minutes,
            service.bed.los_hours // 24 + 1, earliest, latest, req.urgency is not Urgency.ROUTINE,
            patient.sex, _age(patient.birth_date, start), service.bed.bed_type, patient.isolation_required,
            service.room.capabilities))
    return out


def _operating_rooms(uow: UnitOfWork, catalog: Catalog, site: SiteId,
                     days: Sequence[Span]) -> list[OperatingRoom]:
    rooms = [r for r in catalog.at_site(site, ResourceKind.ROOM)
             if r.active and r.room.room_type == "operating"]
    window = (days[0][0], days[-1][1])
    busy = uow.bookings.busy([r.id for r in rooms], window)
    return [OperatingRoom(r.id, r.name, r.room.capabilities, tuple(
        max(0, _on_duty_minutes(catalog, r, site, d) - _busy_minutes(busy.get(r.id, []), d)) for d in days))
        for r in rooms]


def _surgeons(uow: UnitOfWork, catalog: Catalog, site: SiteId, ids: set[str],
              days: Sequence[Span]) -> list[SurgeonDays]:
    people = [r for i in sorted(ids) if (r := catalog.resources.get(ResourceId(i))) is not None
              and r.kind is ResourceKind.CLINICIAN and r.active]
    busy = uow.bookings.busy([r.id for r in people], (days[0][0], days[-1][1]))
    out = []
    for r in people:
        cap = int(r.clinician.contract.max_hours_day * 60)
        out.append(SurgeonDays(r.id, tuple(max(0, min(cap, _on_duty_minutes(catalog, r, site, d))
                                                  - _busy_minutes(busy.get(r.id, []), d)) for d in days)))
    return [s for s in out if any(s.minutes)]


def _inpatients(uow: UnitOfWork, beds: list[Resource], start: date, days: Sequence[Span],
                zone: ZoneInfo) -> list[Inpatient]:
    busy = uow.bookings.busy([b.id for b in beds], (days[0][0], days[-1][1]))
    out = []
    for bed in beds:
        for b in busy.get(bed.id, []):
            booking = uow.bookings.get(b.booking_id)
            patient = uow.master.patient(booking.patient_id) if booking is not None else None
            if booking is None or patient is None:
                continue
            out.append(Inpatient(b.booking_id, booking.patient_id, bed.id, patient.sex,
                                 _age(patient.birth_date, start), bed.bed.bed_type,
                                 _local_day(b.start, start, zone), _local_day(b.end - 1, start, zone)))
    return out


def _nurses(catalog: Catalog, site: SiteId, start: date, days: int, zone: ZoneInfo,
            bed_types: set[str]) -> list[WardNurse]:
    spans: dict[tuple[int, str], Span] = {}
    for d in range(days):
        day = start + timedelta(days=d)
        for name, begin, end in SHIFTS:
            first = datetime.combine(day, begin, tzinfo=zone)
            last = datetime.combine(day + timedelta(days=1) if end <= begin else day, end, tzinfo=zone)
            spans[d, name] = (to_ts(first), to_ts(last))
    out: list[WardNurse] = []
    for pool in catalog.at_site(site, ResourceKind.STAFF_POOL):
        if not pool.active or pool.pool.role != WARD_NURSE_ROLE or not nurse_serves(pool, bed_types):
            continue
        counts = {key: _headcount(catalog, pool, site, span) for key, span in spans.items()}
        for name, _, _ in SHIFTS:
            for n in range(1, max((c for (_, s), c in counts.items() if s == name), default=0) + 1):
                out.append(WardNurse(f"{pool.id}/{name}/{n}", nurse_skill(pool), {
                    key: NURSE_MAX_LOAD for key, c in counts.items() if key[1] == name and c >= n}))
    for person in catalog.at_site(site, ResourceKind.CLINICIAN):
        if person.active and person.clinician.profession == "nurse" and nurse_serves(person, bed_types):
            shifts = {key: NURSE_MAX_LOAD for key, span in spans.items()
                      if _headcount(catalog, person, site, span) > 0}
            if shifts:
                out.append(WardNurse(person.id, nurse_skill(person), shifts))
    return out


def read_problem(uow: UnitOfWork, catalog: Catalog, store: CaseStore, site_id: str, start: date, days: int,
                 weights: PlanningWeights) -> AdmissionProblem:
    """The site's admission problem over ``days`` local days from ``start`` (``NotFound``: no such site)."""
    site = catalog.site(site_id)
    zone = site.zone
    spans = _days(start, days, zone)
    cases = _cases(uow, catalog, store, site_id, start, days, zone)
    bed_types = {c.bed_type for c in cases}
    beds = [b for b in catalog.at_site(site.id, ResourceKind.BED) if b.active and b.bed.bed_type in bed_types]
    return AdmissionProblem(
        site_id, start, days, tuple(cases), tuple(_operating_rooms(uow, catalog, site.id, spans)),
        tuple(_surgeons(uow, catalog, site.id, {c.surgeon_id for c in cases}, spans)),
        ward_rooms(beds), tuple(_inpatients(uow, beds, start, spans, zone)),
        tuple(_nurses(catalog, site.id, start, days, zone, bed_types)), weights)
