"""The ``find`` use case: load one consistent snapshot, then search it in memory."""

from __future__ import annotations

from careflow.domain.catalog import Catalog
from careflow.domain.checks import suitability
from careflow.domain.ids import ResourceId, SiteId
from careflow.domain.occupancy import Occupancy
from careflow.domain.options import FindRequest
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site, distance_km
from careflow.domain.timespans import Span, to_ts
from careflow.planning.slots import FindResult, SearchInputs, SiteInputs, find_options
from careflow.services.booking import BookingDeps
from careflow.services.context import load_patient
from careflow.services.ports import UnitOfWork

__all__ = ["candidate_sites", "find"]

WEEK = 7 * 86400


def candidate_sites(catalog: Catalog, request: FindRequest, service: Service, patient: Patient) -> list[Site]:
    """Sites that may perform the service, narrowed by the request and travel limits."""
    for site_id in request.site_ids:
        catalog.site(site_id)
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


def _eligible(catalog: Catalog, site: Site, service: Service, patient: Patient,
              request: FindRequest) -> list[Resource]:
    day = request.earliest.astimezone(site.zone).date()
    found: dict[ResourceId, Resource] = {}
    for need in service.needs(patient.interpreter_language):
        for r in catalog.at_site(site.id, need.kind):
            if r.id not in found and not suitability(need, r, site, patient, day):
                found[r.id] = r
    return list(found.values())


def _window(request: FindRequest, service: Service) -> Span:
    """The instants any allocation of a case starting in the request window can touch."""
    before = max([n.before for n in service.needs("xx")] + [0])
    after = max([n.after for n in service.needs("xx")] + [0]) + 24 * 3600  # reprocessing tails
    return (to_ts(request.earliest) - before, to_ts(request.latest) + service.duration + after)


def find(request: FindRequest, deps: BookingDeps) -> FindResult:
    """Ranked options where every required resource is free at once, across the network."""
    with deps.uow() as uow:
        return _find(uow, request, deps)


def _find(uow: UnitOfWork, request: FindRequest, deps: BookingDeps) -> FindResult:
    now = deps.clock()
    catalog = deps.catalogs.get(uow)
    service = catalog.service(request.service_id)
    patient = load_patient(uow, request.patient_id)
    sites = candidate_sites(catalog, request, service, patient)
    window = _window(request, service)
    wide: Span = (window[0] - WEEK - 86400, window[1] + WEEK + 86400)
    eligible = {site.id: _eligible(catalog, site, service, patient, request) for site in sites}
    clinicians = {r.id for rs in eligible.values() for r in rs if r.kind is ResourceKind.CLINICIAN}
    others = {r.id for rs in eligible.values() for r in rs if r.kind is not ResourceKind.CLINICIAN}
    busy = uow.bookings.busy(others, window)
    busy.update(uow.bookings.busy(clinicians, wide))
    skus = [i.sku for i in service.items]
    site_inputs: list[SiteInputs] = []
    for site in sites:
        occupancy: dict[ResourceId, Occupancy] = {}
        for r in eligible[site.id]:
            span = wide if r.kind is ResourceKind.CLINICIAN else window
            occupancy[r.id] = Occupancy(r, span, catalog.capacity(r, SiteId(site.id), span),
                                        list(busy.get(r.id, [])))
        site_inputs.append(SiteInputs(site, occupancy, uow.master.stock(site.id, skus) if skus else {}))
    patient_busy = uow.bookings.patient_busy(patient.id, window, None)
    return find_options(SearchInputs(request, catalog, service, patient, now, site_inputs,
                                     uow.master.authorizations(patient.id), patient_busy))
