"""``GET /fhir/r4/$bulk-publish``: SMART Scheduling Links, public like the slots it lists.

The manifest names one NDJSON file per type (``$bulk-publish/{Location|Schedule|Slot}.ndjson``,
``application/fhir+ndjson``); what is published and how is in
``careflow.adapters.fhir.publish``. No token is needed: the feed holds only publicly
bookable services' free times, never a patient.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response

from careflow.adapters.fhir import publish as pub
from careflow.adapters.fhir.directory import ANYONE, location_of_site
from careflow.adapters.fhir.wire import FHIR_NDJSON
from careflow.api.fhir.catalog_search import sites_of_service
from careflow.api.fhir.context import catalog_of, fhir_router
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import fhir_base, instant_of
from careflow.api.fhir.slots import slots_of
from careflow.bootstrap import App
from careflow.domain.catalog import Catalog
from careflow.domain.checks import suitability
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.preference_cards import Service
from careflow.domain.sites import Site
from careflow.domain.timespans import to_ts

__all__ = ["router"]

router = fhir_router()


def _since(request: Request) -> tuple[str | None, datetime | None]:
    """``_since`` as given and as an instant (``InvalidRequest`` when it is not one)."""
    for name in request.query_params:
        if name != "_since":
            raise InvalidRequest(f"unknown parameter {name!r} ($bulk-publish takes _since)", name)
    raw = request.query_params.get("_since")
    return raw, None if raw is None else instant_of(raw, "_since")


def _offers(catalog: Catalog) -> list[tuple[Site, Service]]:
    return [(site, service) for service in sorted(catalog.services.values(), key=lambda s: s.id)
            if pub.is_public(service) for site in sites_of_service(catalog, service)]


@router.get("/$bulk-publish")
def manifest(request: Request) -> FhirResponse:
    """The manifest: transactionTime, request and one output file per type."""
    since, _ = _since(request)
    careflow: App = request.app.state.careflow
    return FhirResponse(pub.manifest(careflow.deps.clock(), str(request.url), fhir_base(request), since))


def _slots(app: App, catalog: Catalog, site: Site, service: Service, book_url: str) -> list[dict[str, Any]]:
    now = app.deps.clock()
    lo = now + timedelta(minutes=service.window.min_lead_minutes)
    hi = now + timedelta(days=pub.HORIZON_DAYS)
    needs = service.needs(None)
    day = lo.date()
    eligible = [[r for r in catalog.at_site(site.id, n.kind) if not suitability(n, r, site, ANYONE, day)]
                for n in needs]
    views = slots_of(app, catalog, {r.id: r for rs in eligible for r in rs}.values(), lo, hi)
    by_resource: dict[str, list[Any]] = {}
    for v in views:
        by_resource.setdefault(v.resource_id, []).append(v)
    units = [[by_resource.get(r.id, []) for r in rs] for rs in eligible]
    step = service.slot_minutes * 60
    first = -(-to_ts(lo) // step) * step
    return [pub.published_slot(site, service, start, capacity, book_url)
            for start, capacity in pub.free_starts(units, first, to_ts(hi), step, service.duration)]


@router.get("/$bulk-publish/{kind}.ndjson")
def published(kind: str, request: Request) -> Response:
    """One NDJSON file of the feed."""
    _, since = _since(request)
    app: App = request.app.state.careflow
    catalog = catalog_of(app)
    offers = _offers(catalog)
    if kind == "Location":
        rows = [location_of_site(s) for s in sorted({site.id: site for site, _ in offers}.values(),
                                                    key=lambda s: s.id)]
    elif kind == "Schedule":
        rows = [pub.published_schedule(site, service) for site, service in offers]
    elif kind == "Slot":
        if since is not None and app.engine is not None:
            changed = pub.changed_sites(app.engine, since)
            offers = [(site, service) for site, service in offers if site.id in changed]
        book_url = str(request.base_url).rstrip("/") + "/book"
        rows = [slot for site, service in offers for slot in _slots(app, catalog, site, service, book_url)]
    else:
        raise NotFound("bulk-publish file", f"{kind}.ndjson")
    return Response(pub.ndjson(rows), media_type=FHIR_NDJSON)
