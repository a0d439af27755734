"""The CapabilityStatement: exactly what ``/fhir/r4`` implements.

``SEARCH`` is the one declaration of each type's search parameters: the routes refuse
any other (``api/fhir/params.check_params``) and the statement lists these.
"""

from __future__ import annotations

from typing import Any

from careflow.adapters.fhir.wire import CAREFLOW, FHIR_JSON, validated

__all__ = ["OPERATIONS", "SEARCH", "capability_statement"]

S, T, R, D, N = "string", "token", "reference", "date", "number"
SEARCH: dict[str, dict[str, tuple[str, str]]] = {
    "Schedule": {"_id": (T, "schedule id (= the resource's id)"), "actor": (R, "the resource or its site"),
                 "service-type": (T, "a service code or id it can serve"),
                 "specialty": (T, "clinician specialty"), "active": (T, "true or false")},
    "Slot": {"_id": (T, "slot id"), "schedule": (R, "Schedule/{resource id}"),
             "start": (D, "slot start: ge, gt, le, lt, eq (default: the next 7 days; at most 31 days)"),
             "status": (T, "free or busy"), "service-type": (T, "a service code or id")},
    "Appointment": {"_id": (T, "appointment id (= booking id)"), "patient": (R, "Patient/{id}"),
                    "status": (T, "proposed, pending, booked, arrived, fulfilled, cancelled, noshow"),
                    "date": (D, "start: ge, gt, le, lt, eq"), "location": (R, "Location/{site or room id}"),
                    "practitioner": (R, "Practitioner/{id}"), "actor": (R, "any participant resource")},
    "AppointmentResponse": {"appointment": (R, "Appointment/{id} (required)")},
    "Practitioner": {"_id": (T, "id"), "name": (S, "part of the name")},
    "PractitionerRole": {"_id": (T, "id"), "practitioner": (R, "Practitioner/{id}"),
                         "location": (R, "Location/{site id}"), "specialty": (T, "specialty code"),
                         "service": (R, "HealthcareService/{id}")},
    "Location": {"_id": (T, "id"), "name": (S, "part of the name"), "partof": (R, "Location/{site id}")},
    "HealthcareService": {"_id": (T, "id"), "name": (S, "part of the name"), "location": (R, "Location/{id}"),
                          "specialty": (T, "specialty"), "service-type": (T, "service code or id"),
                          "active": (T, "true or false")},
    "Device": {"_id": (T, "id"), "location": (R, "Location/{site or room id}"),
               "type": (T, "equipment type")},
    "Patient": {"_id": (T, "id"), "name": (S, "part of the name (or the id or MRN)")},
    "AuditEvent": {"_id": (T, "id"), "date": (D, "recorded: ge, gt, le, lt, eq"),
                   "agent": (R, "the actor's user id"), "entity": (R, "entity id (or Type/id)"),
                   "entity-type": (T, "careflow entity type (booking, patient, …)"),
                   "action": (T, "careflow action code (booking.book, patient.read, …)")},
}
OPERATIONS: list[tuple[str, str, str]] = [
    ("find", "Appointment", "proposed Appointments where every required person, room and unit is free"),
    ("hold", "Appointment", "hold a proposed Appointment: a pending Appointment that expires"),
    ("book", "Appointment", "book a hold or a proposed Appointment"),
    ("cancel", "Appointment", "cancel a pending or booked Appointment (careflow operation)"),
]
IHE = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition"


def _resource(kind: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": kind,
        "interaction": [{"code": "read"}, {"code": "search-type"}] if kind != "AppointmentResponse"
        else [{"code": "search-type"}, {"code": "read"}],
        "searchParam": [{"name": n, "type": t, "documentation": d} for n, (t, d) in SEARCH[kind].items()],
    }
    if kind == "Appointment":
        doc["operation"] = [{"name": n, "definition": f"{IHE}/appointment-{n}" if n != "cancel"
                             else f"{CAREFLOW}/OperationDefinition/appointment-cancel", "documentation": d}
                            for n, _, d in OPERATIONS]
    if kind == "Patient":
        doc["documentation"] = ("patient.read gives id, name, birthDate, gender and language; "
                                "patient.read_clinical adds the MRN and home position")
    return doc


def capability_statement(base: str, version: str, released: str, token_url: str) -> dict[str, Any]:
    """The statement for a server at ``base`` (``token_url``: where bearer tokens are issued)."""
    return validated({
        "resourceType": "CapabilityStatement", "id": "careflow", "url": f"{base}/metadata",
        "name": "Careflow", "title": "careflow FHIR R4 scheduling server", "status": "active",
        "date": released, "kind": "instance", "fhirVersion": "4.0.1", "format": [FHIR_JSON, "json"],
        "software": {"name": "careflow", "version": version},
        "implementation": {"description": "careflow scheduling engine", "url": base},
        "rest": [{
            "mode": "server",
            "documentation": "Unknown search parameters are refused; pages by _count (max 200) and "
                             "next links. $bulk-publish serves SMART Scheduling Links without "
                             "authentication.",
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "SMART-on-FHIR"}]}],
                "description": "OAuth2 bearer JWT; roles map to permissions and SMART-style scopes "
                               "(user/Appointment.read, system/*.write, …) narrow them",
                "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                               "extension": [{"url": "token", "valueUri": token_url}]}],
            },
            "resource": [_resource(k) for k in SEARCH],
            "operation": [{"name": "bulk-publish", "definition":
                           "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                           "documentation": "SMART Scheduling Links manifest (Location, Schedule, Slot)"}],
        }],
    })
