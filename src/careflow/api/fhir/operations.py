"""``Appointment/$find``, ``$hold``, ``$book`` (IHE ITI Scheduling) and ``$cancel``.

``$find`` takes the IHE parameters careflow can honour: ``start`` and ``end`` (required),
``visit-type`` (a service code or id; or ``specialty`` when it names exactly one
service), ``patient-reference`` or ``patient-resource``, ``practitioner`` (preferred
clinicians), ``location-reference`` (sites), and careflow's ``_count`` (options, 1–100)
and ``urgency``. ``organization``, ``reason``, ``referral-identifier``, ``timing``,
``insurance-reference`` and ``location-string`` are accepted and ignored. It returns a
searchset Bundle of proposed Appointments, best first, each carrying its option
(``adapters/fhir/appointments``); with none, an OperationOutcome entry (search mode
``outcome``) gives the blockers' violation codes.

``$hold`` takes ``appointment-resource`` (a proposed Appointment, unchanged; IHE's
``appointment-reference`` cannot name a proposal, which careflow does not store),
optional ``hold-minutes`` and ``override-reason``; ``$book`` takes
``appointment-reference`` to a pending Appointment (a hold) or ``appointment-resource``
(a proposed or pending Appointment), optional ``override-reason``. Both return a Bundle
(type collection) holding the Appointment. ``POST Appointment/{id}/$cancel`` takes a
``reason`` and returns the cancelled Appointment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Body, Request
from pydantic import ValidationError

from careflow.adapters.fhir.appointments import appointment, option_of, proposed
from careflow.adapters.fhir.ids import from_fhir_id, to_fhir_id
from careflow.adapters.fhir.parameters import Params
from careflow.adapters.fhir.wire import operation_outcome, validated, violation_issues
from careflow.api.deps import ActorDep, AppDep
from careflow.api.fhir.appointments import visible_booking
from careflow.api.fhir.context import catalog_of, fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import fhir_base
from careflow.api.schemas import OptionIO
from careflow.api.security import audit_read
from careflow.bootstrap import App
from careflow.domain.access import Actor, Permission
from careflow.domain.bookings import Booking, Urgency
from careflow.domain.catalog import Catalog
from careflow.domain.commands import BookHold, BookOption, CancelBooking, OverrideRequest, PlaceHold
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.options import FindRequest, Option
from careflow.services import booking as use
from careflow.services.finding import find

__all__ = ["router"]

router = fhir_router()
JsonBody = Annotated[dict[str, Any], Body(description="a FHIR Parameters resource")]
OPTION_FIELD = "appointment-resource.extension.option"


def _read_option(data: Any) -> Option:
    try:
        return OptionIO.model_validate(data).to_domain()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise InvalidRequest(f"{OPTION_FIELD}.{where}: {err.get('msg')}", f"{OPTION_FIELD}.{where}") from exc


@contextmanager
def _about_the_option() -> Iterator[None]:
    """The domain names an option's fields relative to the option; here it sits in the extension."""
    try:
        yield
    except InvalidRequest as exc:
        if exc.field in OptionIO.model_fields:
            raise InvalidRequest(exc.message, f"{OPTION_FIELD}.{exc.field}") from exc
        raise


def _service(params: Params, catalog: Catalog) -> str:
    types = params.strings("visit-type")
    if len(types) > 1:
        raise InvalidRequest("give one visit-type (careflow finds one service at a time)", "visit-type")
    if types:
        return catalog.service(types[0]).id
    specialties = set(params.strings("specialty"))
    matching = [s.id for s in catalog.services.values() if s.specialty in specialties]
    if len(matching) != 1:
        raise InvalidRequest("give visit-type (a service code or id); specialty names "
                             f"{len(matching)} services", "visit-type")
    return matching[0]


def _patient(params: Params) -> str:
    ids = params.references("patient-reference", "Patient")
    resource = params.resource("patient-resource", "Patient")
    if resource is not None:
        ident = from_fhir_id(str(resource.get("id", "")))
        if ident is None:
            raise InvalidRequest("patient-resource needs careflow's id for the patient", "patient-resource")
        ids.append(ident)
    if len(set(ids)) != 1:
        raise InvalidRequest("give one patient (patient-reference or patient-resource)", "patient-reference")
    return ids[0]


def _find_request(params: Params, catalog: Catalog, actor: Actor) -> FindRequest:
    start = params.instant("start", required=True)
    end = params.instant("end", required=True)
    assert start is not None
    assert end is not None
    urgency = params.string("urgency") or Urgency.ROUTINE.value
    if urgency not in set(Urgency):
        raise InvalidRequest("urgency must be routine, urgent or emergent", "urgency")
    service = catalog.service(_service(params, catalog))
    request = FindRequest(service.id, PatientId(_patient(params)), start, end,
                          frozenset(SiteId(s) for s in params.references("location-reference", "Location")),
                          Urgency(urgency),
                          frozenset(ResourceId(p) for p in params.references("practitioner", "Practitioner")),
                          limit=params.integer("_count", 1, 100) or 10)
    return replace(request, site_ids=actor.search_sites(request.site_ids))


@router.post("/Appointment/$find")
def find_appointments(body: JsonBody, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Proposed Appointments where every required person, room and unit is free at once
    (a search for a patient: needs the patient view too, as it tells their blockers)."""
    actor.require(Permission.BOOKING_READ)
    actor.require(Permission.PATIENT_READ)
    params = Params(body)
    catalog = catalog_of(app)
    request = _find_request(params, catalog, actor)
    result = find(request, app.deps)
    audit_read(app, actor, "appointment.find", "patient", request.patient_id,
               service_id=request.service_id, options=len(result.options))
    entries: list[dict[str, Any]] = []
    for rank, option in enumerate(result.options, start=1):
        carried = OptionIO.of(option, rank).model_dump_json(exclude_none=True)
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "search": {"mode": "match", "score": 1 / rank},
                        "resource": proposed(option, catalog, rank, carried)})
    if result.blockers:
        outcome = operation_outcome("not-found" if not entries else "informational",
                                    "no option found" if not entries else "some sites or roles had no option",
                                    "information", violation_issues(result.blockers))
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "search": {"mode": "outcome"},
                        "resource": outcome})
    return ok(validated({"resourceType": "Bundle", "type": "searchset", "total": len(result.options),
                         "entry": entries}))


def _override(params: Params) -> OverrideRequest | None:
    reason = params.string("override-reason")
    return OverrideRequest(reason) if reason is not None else None


def _collection(app: App, booking: Booking, base: str) -> FhirResponse:
    resource = appointment(booking, catalog_of(app))
    url = f"{base}/Appointment/{resource['id']}"
    return ok(validated({"resourceType": "Bundle", "type": "collection",
                         "entry": [{"fullUrl": url, "resource": resource}]}), headers={"Location": url})


def _proposal(params: Params) -> Option:
    resource = params.resource("appointment-resource", "Appointment")
    if resource is None:
        raise InvalidRequest("give appointment-resource: a proposed Appointment from $find",
                             "appointment-resource")
    return option_of(resource, _read_option)


@router.post("/Appointment/$hold")
def hold_appointment(body: JsonBody, request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Hold a proposed Appointment: a pending Appointment whose resources are held until it expires."""
    params = Params(body)
    option = _proposal(params)
    actor.require_site(option.site_id)
    with _about_the_option():
        held = use.place_hold(PlaceHold(option, actor, params.integer("hold-minutes", 1, 24 * 60),
                                        _override(params)), app.deps)
    return _collection(app, held, fhir_base(request))


def _hold_id(params: Params) -> str | None:
    """The hold named by appointment-reference, or by a pending appointment-resource's id."""
    refs = params.references("appointment-reference", "Appointment")
    resource = params.resource("appointment-resource", "Appointment")
    if refs and resource is not None:
        raise InvalidRequest("give appointment-reference or appointment-resource, not both",
                             "appointment-reference")
    if refs:
        return refs[0]
    if resource is not None and resource.get("status") == "pending":
        ident = from_fhir_id(str(resource.get("id", "")))
        if ident is None:
            raise InvalidRequest("a pending Appointment needs its careflow id", "appointment-resource.id")
        return ident
    return None


@router.post("/Appointment/$book")
def book_appointment(body: JsonBody, request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Book a hold (a pending Appointment) or a proposed Appointment: all of it, or nothing."""
    params = Params(body)
    override = _override(params)
    hold_id = _hold_id(params)
    if hold_id is not None:
        visible_booking(app, actor, to_fhir_id(hold_id))
        booked = use.book_hold(BookHold(hold_id, actor, override), app.deps)
    else:
        option = _proposal(params)
        actor.require_site(option.site_id)
        with _about_the_option():
            booked = use.book_option(BookOption(option, actor, override), app.deps)
    return _collection(app, booked, fhir_base(request))


@router.post("/Appointment/{fhir_id}/$cancel")
def cancel_appointment(fhir_id: str, body: JsonBody, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Cancel a pending or booked Appointment with a ``reason``; everything it held is released."""
    params = Params(body)
    reason = params.string("reason")
    if reason is None:
        raise InvalidRequest("parameter reason is required", "reason")
    found = visible_booking(app, actor, fhir_id)
    cancelled = use.cancel(CancelBooking(found.id, reason, actor), app.deps)
    return ok(appointment(cancelled, catalog_of(app)))
