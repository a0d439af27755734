"""The ``find`` use case: load one consistent snapshot, then search it in memory."""

from __future__ import annotations

from collections.abc import Collection

from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.catalog import Catalog
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.occupancy import Busy, Occupancy
from careflow.domain.options import FindRequest, equipment_tail
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import ResourceKind
from careflow.domain.sites import Site, distance_km
from careflow.domain.timespans import Span, to_ts
from careflow.domain.violations import ViolationCode, hard
from careflow.planning.prerequisites import prerequisite_days
from careflow.planning.slots import FindResult, SearchInputs, SiteInputs, eligible_by_role, find_options
from careflow.services.booking import BookingDeps
from careflow.services.context import load_patient, stock_without
from careflow.services.ports import UnitOfWork

__all__ = ["candidate_sites", "find"]

WEEK = 7 * 86400


def candidate_sites(catalog: Catalog, request: FindRequest, service: Service, patient: Patient) -> list[Site]:
    """Sites that may perform the service, narrowed by the request and travel limits."""
    for site_id in request.site_ids:
        catalog.site(site_id)
    for rid in request.preferred_clinicians:
        if catalog.resource(rid).kind is not ResourceKind.CLINICIAN:
            raise InvalidRequest(f"{rid} is not a clinician", "preferred_clinician_ids")
    limit = request.max_travel_km or patient.preferences.max_travel_km
    out = []
    for site in sorted(catalog.sites.values(), key=lambda s: s.id):
        if request.site_ids and site.id not in request.site_ids:
            continue
        if service.site_kinds and site.kind not in service.site_kinds:
            continue
        home = patient.home
        if limit is not None and home is not None and distance_km(home, site.position) > limit:
            continue
        out.append(site)
    return out


def _window(request: FindRequest, service: Service, catalog: Catalog) -> Span:
    """The instants any allocation of a case starting in the request window can touch."""
    before = max([n.before for n in service.needs("xx")] + [0])
    after = max([n.after for n in service.needs("xx")] + [0]) + _longest_tail(service, catalog)
    return (to_ts(request.earliest) - before, to_ts(request.latest) + service.duration + after)


def _longest_tail(service: Service, catalog: Catalog) -> int:
    """The longest reprocessing of any unit of the equipment the card uses (at least a day,
    as before, so nothing that was read is read no more)."""
    def longest() -> int:
        types = {e.equipment_type for e in service.equipment}
        return max([equipment_tail(r) for r in catalog.all_resources([ResourceKind.EQUIPMENT])
                    if r.equipment.equipment_type in types] + [24 * 3600])
    return catalog.memo(("longest_tail", service.id), longest)


def _direct(uow: UnitOfWork, ids: Collection[ResourceId], window: Span) -> dict[ResourceId, list[Busy]]:
    return uow.bookings.busy(ids, window)


def find(request: FindRequest, deps: BookingDeps, moving: Booking | None = None) -> FindResult:
    """Ranked options where every required resource is free at once, across the network.

    ``moving`` is the booking ``request.reschedule_of`` names, when the caller has it in
    hand (re-coordination does): it is not read again. What it holds counts as free; the
    reschedule that follows re-checks everything under lock."""
    with deps.uow() as uow:
        return _find(uow, request, deps, moving)


def _moving(uow: UnitOfWork, request: FindRequest, service_id: str, patient_id: str) -> Booking | None:
    """The booking a reschedule search moves: its own time and resources count as free."""
    if request.reschedule_of is None:
        return None
    booking = uow.bookings.get(request.reschedule_of)
    if booking is None:
        raise NotFound("booking", request.reschedule_of)
    if (booking.service_id, booking.patient_id) != (service_id, patient_id):
        raise InvalidRequest(f"booking {booking.id} is for another service or patient; a reschedule "
                             "keeps both", "reschedule_of")
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.HELD):
        raise InvalidRequest(f"booking {booking.id} is {booking.status.value}; only booked or held "
                             "bookings move", "reschedule_of")
    return booking


def _find(uow: UnitOfWork, request: FindRequest, deps: BookingDeps,
          given: Booking | None = None) -> FindResult:
    now = deps.clock()
    catalog = deps.catalogs.get(uow)
    service = catalog.service(request.service_id)
    patient = load_patient(uow, request.patient_id)
    sites = candidate_sites(catalog, request, service, patient)
    if not sites:
        return FindResult([], [hard(ViolationCode.SERVICE_NOT_OFFERED, service.id,
                                    f"no site in reach offers {service.code}")])
    if given is not None and given.id == request.reschedule_of and (given.service_id, given.patient_id) == (
            service.id, patient.id):
        moving: Booking | None = given
    else:
        moving = _moving(uow, request, service.id, patient.id)
    skip = moving.id if moving is not None else None
    auths = uow.master.authorizations(patient.id)
    window_asked = (to_ts(request.earliest), to_ts(request.latest))
    prerequisites = [prerequisite_days(service, patient, auths, window_asked, now, site.zone)
                     for site in sites]  # local dates: each site's own zone
    if not any(allowed for allowed, _ in prerequisites):
        return FindResult([], prerequisites[0][1])
    window = _window(request, service, catalog)
    wide: Span = (window[0] - WEEK - 86400, window[1] + WEEK + 86400)
    eligible = {site.id: eligible_by_role(catalog, service, patient, site,
                                          request.earliest.astimezone(site.zone).date())
                for site in sites}
    chosen = {rid for roles in eligible.values() for rids in roles.values() for rid in rids}
    clinicians = {r for r in chosen if catalog.resources[r].kind is ResourceKind.CLINICIAN}
    others = chosen - clinicians
    read = deps.calendar.busy if deps.calendar is not None else _direct
    busy = read(uow, others, window)
    busy.update(read(uow, clinicians, wide))
    skus = [i.sku for i in service.items]
    site_inputs: list[SiteInputs] = []
    for site in sites:
        occupancy: dict[ResourceId, Occupancy] = {}
        for rid in {rid for rids in eligible[site.id].values() for rid in rids}:
            r = catalog.resources[rid]
            span = wide if r.kind is ResourceKind.CLINICIAN else window
            entries = busy.get(rid, [])
            if skip is not None:
                entries = [b for b in entries if b.booking_id != skip]
            occupancy[rid] = Occupancy(r, span, catalog.capacity_cover(r, SiteId(site.id), span),
                                       entries, presorted=deps.calendar is not None)
        stock = uow.master.stock(site.id, skus) if skus else {}
        if moving is not None and moving.site_id == site.id:
            stock = stock_without(stock, moving)
        site_inputs.append(SiteInputs(site, eligible[site.id], occupancy, stock))
    patient_busy = uow.bookings.patient_busy(patient.id, window, skip)
    return find_options(SearchInputs(request, catalog, service, patient, now, site_inputs,
                                     auths, patient_busy))
