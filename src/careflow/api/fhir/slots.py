"""Slot read and search: computed on request from availability and bookings.

A search covers at most 31 days (by default the next 7 from now) and may name
schedules, a status (free or busy) and a service type. Reading ``slot.read`` needs
``master.read`` (a slot says when a resource is busy, never for whom).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from fastapi import Request

from careflow.adapters.fhir.capability import SEARCH
from careflow.adapters.fhir.slots import SlotView, compute_slots, day_window, parse_slot_id, slot, slot_id
from careflow.api.deps import ActorDep, AppDep
from careflow.api.fhir.catalog_search import KINDS, served_by
from careflow.api.fhir.context import catalog_of, fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import bundle, check_params, date_bounds, page_of, references, tokens
from careflow.bootstrap import App
from careflow.domain.access import Actor, Permission
from careflow.domain.catalog import Catalog
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.ids import ResourceId
from careflow.domain.resources import Resource
from careflow.domain.timespans import from_ts, to_ts

__all__ = ["router", "slots_of"]

router = fhir_router()
DEFAULT_DAYS = 7
MAX_DAYS = 31


def slots_of(app: App, catalog: Catalog, resources: Collection[Resource], lo: datetime,
             hi: datetime) -> list[SlotView]:
    """Every slot of ``resources`` on the local days covering [lo, hi)."""
    windows = {r.id: day_window(lo, hi, catalog.sites[r.site_id].zone) for r in resources}
    if not windows:
        return []
    wide = (min(w[0] for w in windows.values()), max(w[1] for w in windows.values()))
    with app.deps.uow() as uow:
        busy = uow.bookings.busy([ResourceId(r) for r in windows], wide)
    out: list[SlotView] = []
    for r in resources:
        window = windows[r.id]
        out += compute_slots(r.id, window, catalog.sites[r.site_id].zone,
                             catalog.capacity(r, r.site_id, window),
                             [b for b in busy.get(r.id, []) if b.end > window[0] and b.start < window[1]])
    return out


def _visible(catalog: Catalog, actor: Actor) -> list[Resource]:
    return [i for i in KINDS["Schedule"].visible(catalog, actor) if isinstance(i, Resource)]


@router.get("/Slot")
def search_slots(request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Free and busy slots by schedule, start (ge/gt/le/lt/eq), status and service type."""
    actor.require(Permission.MASTER_READ)
    check_params(request, SEARCH["Slot"])
    page = page_of(request)
    catalog = catalog_of(app)
    ge, lt = date_bounds(request, "start")
    ge = ge or app.deps.clock()
    lt = lt or ge + timedelta(days=DEFAULT_DAYS)
    if lt <= ge or lt - ge > timedelta(days=MAX_DAYS):
        raise InvalidRequest(f"start must bound a window of at most {MAX_DAYS} days", "start")
    resources = _visible(catalog, actor)
    schedules = {i for _, i in references(request, "schedule", ["Schedule"])}
    if schedules:
        resources = [r for r in resources if r.id in schedules]
    services = tokens(request, "service-type")
    if services:
        resources = [r for r in resources
                     if any(s.code in services or s.id in services for s in served_by(catalog, r))]
    statuses = tokens(request, "status")
    if set(statuses) - {"free", "busy"}:
        raise InvalidRequest("status must be free or busy (careflow computes no other)", "status")
    lo_ts, hi_ts = to_ts(ge), to_ts(lt)
    ids = {i for i in tokens(request, "_id")}
    found = [v for v in slots_of(app, catalog, resources, ge, lt)
             if lo_ts <= v.start < hi_ts and (not statuses or v.status in statuses)
             and (not ids or slot_id(v) in ids)]
    found.sort(key=lambda v: (v.start, v.resource_id))
    chosen = found[page.offset:page.offset + page.count]
    by_id: dict[str, Resource] = {r.id: r for r in resources}
    return ok(bundle(request, [slot(v, served_by(catalog, by_id[v.resource_id])) for v in chosen],
                     len(found), page))


@router.get("/Slot/{fhir_id}")
def read_slot(fhir_id: str, app: AppDep, actor: ActorDep) -> FhirResponse:
    """One slot, recomputed: 404 when its stretch no longer exists as such."""
    actor.require(Permission.MASTER_READ)
    parsed = parse_slot_id(fhir_id)
    catalog = catalog_of(app)
    resource = None
    if parsed is not None:
        resource = next((r for r in _visible(catalog, actor) if r.id == parsed[0]), None)
    if parsed is None or resource is None:
        raise NotFound("Slot", fhir_id)
    views = slots_of(app, catalog, [resource], from_ts(parsed[1]), from_ts(parsed[2]))
    match = next((v for v in views if slot_id(v) == fhir_id), None)
    if match is None:
        raise NotFound("Slot", fhir_id)
    return ok(slot(match, served_by(catalog, resource)))
