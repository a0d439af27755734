"""Appointment and AppointmentResponse read and search (``booking.read``), from bookings.

Every read is audited (ids only). An actor limited to some sites sees those sites'
bookings; another site's booking is "not found", as on the REST API.
"""

from __future__ import annotations

import heapq

from fastapi import Request

from careflow.adapters.fhir.appointments import STATUS, appointment, appointment_responses
from careflow.adapters.fhir.capability import SEARCH
from careflow.adapters.fhir.ids import from_fhir_id, to_fhir_id
from careflow.api.deps import ActorDep, AppDep
from careflow.api.fhir.context import catalog_of, fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import Page, bundle, check_params, date_bounds, page_of, references, tokens
from careflow.api.security import audit_read
from careflow.bootstrap import App
from careflow.domain.access import Actor, Permission
from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.services.ports import BookingFilter

__all__ = ["router", "visible_booking"]

router = fhir_router()
ACTOR_TYPES = ["Practitioner", "PractitionerRole", "Location", "Device", "Patient"]


def visible_booking(app: App, actor: Actor, fhir_id: str) -> Booking:
    """The booking behind an Appointment id, if the actor may see it (else ``NotFound``)."""
    actor.require(Permission.BOOKING_READ)
    ident = from_fhir_id(fhir_id)
    with app.deps.uow() as uow:
        found = uow.bookings.get(ident) if ident is not None else None
    if found is None or not actor.may_see_site(found.site_id):
        raise NotFound("Appointment", fhir_id)
    return found


def _statuses(request: Request) -> list[BookingStatus | None]:
    codes = tokens(request, "status")
    if not codes:
        return [None]
    wanted = [s for s, code in STATUS.items() if code in codes]
    unknown = set(codes) - set(STATUS.values()) - {"proposed"}
    if unknown:
        raise InvalidRequest(f"status {sorted(unknown)[0]!r} is not an Appointment status careflow uses",
                             "status")
    return list(wanted)


def _one(found: list[tuple[str, str]], name: str) -> str | None:
    if len({i for _, i in found}) > 1:
        raise InvalidRequest(f"give one {name} (careflow searches one at a time)", name)
    return found[0][1] if found else None


def _filter(request: Request, app: App, actor: Actor) -> BookingFilter:
    """The store's filter: one patient, one site or resource (a room as ``location``, a
    practitioner, or any other participant as ``actor``), a start window, the site limit."""
    actors = references(request, "actor", ACTOR_TYPES)
    patient = _one(references(request, "patient", ["Patient"])
                   + [(t, i) for t, i in actors if t == "Patient"], "patient")
    resource = _one(references(request, "practitioner", ["Practitioner"])
                    + [(t, i) for t, i in actors if t != "Patient"], "actor")
    location = _one(references(request, "location", ["Location"]), "location")
    site = location if location is not None and location in catalog_of(app).sites else None
    if location is not None and site is None:
        if resource is not None and resource != location:
            raise InvalidRequest("give a room as location or another actor, not both", "location")
        resource = location
    if site is not None and not actor.may_see_site(site):
        raise NotFound("Location", site)
    ge, lt = date_bounds(request, "date")
    limit = None if actor.sites is None or actor.break_glass or site else frozenset(
        SiteId(s) for s in actor.sites)
    return BookingFilter(patient_id=PatientId(patient) if patient else None,
                         site_id=SiteId(site) if site else None,
                         resource_id=ResourceId(resource) if resource else None,
                         start_from=ge, start_to=lt, site_ids=limit)


def _search(app: App, flt: BookingFilter, statuses: list[BookingStatus | None],
            page: Page) -> tuple[list[Booking], int]:
    """One page over the union of statuses (each queried in start order, then merged)."""
    if not statuses:
        return [], 0
    runs: list[list[Booking]] = []
    total = 0
    with app.deps.uow() as uow:
        for status in statuses:
            rows, count = uow.bookings.find(_with_status(flt, status), 0, page.offset + page.count)
            runs.append(rows)
            total += count
    merged = list(heapq.merge(*runs, key=lambda b: (b.start, b.id)))
    return merged[page.offset:page.offset + page.count], total


def _with_status(flt: BookingFilter, status: BookingStatus | None) -> BookingFilter:
    return BookingFilter(flt.patient_id, flt.site_id, flt.resource_id, status, flt.start_from,
                         flt.start_to, flt.site_ids)


@router.get("/Appointment")
def search_appointments(request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Appointments by patient, status, date, location, practitioner or actor, by start."""
    actor.require(Permission.BOOKING_READ)
    check_params(request, SEARCH["Appointment"])
    page = page_of(request)
    ids = [i for i in (from_fhir_id(t) for t in tokens(request, "_id")) if i is not None]
    patient: str | None = None
    if "_id" in request.query_params:
        rows = [b for b in (_maybe(app, actor, i) for i in ids) if b is not None]
        total = len(rows)
    else:
        flt = _filter(request, app, actor)
        patient = flt.patient_id
        rows, total = _search(app, flt, _statuses(request), page)
    catalog = catalog_of(app)
    audit_read(app, actor, "appointment.search", "patient" if patient else "booking", patient or "",
               total=total, ids=[b.id for b in rows][:50])
    return ok(bundle(request, [appointment(b, catalog) for b in rows], total, page))


def _maybe(app: App, actor: Actor, ident: str) -> Booking | None:
    with app.deps.uow() as uow:
        found = uow.bookings.get(ident)
    return found if found is not None and actor.may_see_site(found.site_id) else None


@router.get("/Appointment/{fhir_id}")
def read_appointment(fhir_id: str, app: AppDep, actor: ActorDep) -> FhirResponse:
    """One appointment (a booking or hold of any status)."""
    found = visible_booking(app, actor, fhir_id)
    audit_read(app, actor, "appointment.read", "booking", found.id, patient_id=found.patient_id)
    return ok(appointment(found, catalog_of(app)))


@router.get("/AppointmentResponse")
def search_responses(request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Each participant's response to one appointment (``appointment`` is required)."""
    check_params(request, SEARCH["AppointmentResponse"])
    page = page_of(request)
    wanted = references(request, "appointment", ["Appointment"])
    if len(wanted) != 1:
        raise InvalidRequest("give exactly one appointment", "appointment")
    found = visible_booking(app, actor, to_fhir_id(wanted[0][1]))
    audit_read(app, actor, "appointment.read", "booking", found.id, patient_id=found.patient_id)
    rows = appointment_responses(found, catalog_of(app))
    return ok(bundle(request, rows[page.offset:page.offset + page.count], len(rows), page))


@router.get("/AppointmentResponse/{fhir_id}")
def read_response(fhir_id: str, app: AppDep, actor: ActorDep) -> FhirResponse:
    """One participant's response (``{appointment id}-{n}``)."""
    head, _, n = fhir_id.rpartition("-")
    if not n.isdigit() or not head:
        raise NotFound("AppointmentResponse", fhir_id)
    found = visible_booking(app, actor, head)
    audit_read(app, actor, "appointment.read", "booking", found.id, patient_id=found.patient_id)
    rows = appointment_responses(found, catalog_of(app))
    if not 1 <= int(n) <= len(rows):
        raise NotFound("AppointmentResponse", fhir_id)
    return ok(rows[int(n) - 1])
