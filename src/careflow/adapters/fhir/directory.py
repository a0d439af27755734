"""Sites, resources and services as FHIR: Location, Practitioner, PractitionerRole,
Device, HealthcareService and Schedule.

| careflow | FHIR |
|---|---|
| site | ``Location`` (mode instance, physical type ``si``) |
| room, infusion chair, bed | ``Location`` (``ro`` / ``bd``), ``partOf`` its site |
| clinician | ``Practitioner`` and a ``PractitionerRole`` of the same id at its site |
| staff pool | ``PractitionerRole`` without a practitioner (the pool's role, its headcount) |
| equipment | ``Device`` at its site (or in its room, when fixed) |
| service | ``HealthcareService`` at the sites whose kind may perform it |
| any bookable resource | ``Schedule`` of the same id, whose actor is the resource |
"""

from __future__ import annotations

from datetime import date
from typing import Any

from careflow.adapters.fhir.ids import to_fhir_id
from careflow.adapters.fhir.wire import CAREFLOW, validated
from careflow.domain.catalog import Catalog
from careflow.domain.checks import suitability
from careflow.domain.ids import PatientId
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site

__all__ = [
    "ACTOR_TYPE",
    "ANYONE",
    "device",
    "healthcare_service",
    "location_of_resource",
    "location_of_site",
    "practitioner",
    "practitioner_role",
    "ref",
    "schedule",
    "service_concept",
    "services_served_by",
]

JsonDict = dict[str, Any]
ACTOR_TYPE = {
    ResourceKind.CLINICIAN: "Practitioner",
    ResourceKind.ROOM: "Location",
    ResourceKind.CHAIR: "Location",
    ResourceKind.BED: "Location",
    ResourceKind.EQUIPMENT: "Device",
    ResourceKind.STAFF_POOL: "PractitionerRole",
}
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
SERVICE_SYSTEM = f"{CAREFLOW}/CodeSystem/service"
SPECIALTY_SYSTEM = f"{CAREFLOW}/CodeSystem/specialty"
ROLE_SYSTEM = f"{CAREFLOW}/CodeSystem/role"
KIND_SYSTEM = f"{CAREFLOW}/CodeSystem/service-kind"
ID_SYSTEM = f"{CAREFLOW}/id"
# suitability() reads a patient only for beds (sex, isolation): "anyone" asks what a
# resource can serve at all.
ANYONE = Patient(PatientId("-"), "", "", date(2000, 1, 1))
_TIME_ASIDE = date(1970, 1, 1)


def ref(resource_type: str, ident: str, display: str | None = None) -> JsonDict:
    out: JsonDict = {"reference": f"{resource_type}/{to_fhir_id(ident)}"}
    if display:
        out["display"] = display
    return out


def _ident(ident: str) -> list[JsonDict]:
    return [{"system": ID_SYSTEM, "value": ident}]


def _concept(system: str, code: str, display: str | None = None) -> JsonDict:
    coding: JsonDict = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": display or code}


def service_concept(service: Service) -> JsonDict:
    """The CodeableConcept that names a service (``serviceType`` of slots and appointments)."""
    return _concept(SERVICE_SYSTEM, service.code, service.name)


def services_served_by(catalog: Catalog, resource: Resource) -> list[Service]:
    """The services whose preference card this resource can fill some role of (time aside:
    licences are judged as of 1970, when none had lapsed)."""
    site = catalog.sites.get(resource.site_id)
    if site is None:
        return []
    out = []
    for service in sorted(catalog.services.values(), key=lambda s: s.id):
        if not service.active or (service.site_kinds and site.kind not in service.site_kinds):
            continue
        if any(n.kind is resource.kind and not suitability(n, resource, site, ANYONE, _TIME_ASIDE)
               for n in service.needs(None)):
            out.append(service)
    return out


def location_of_site(site: Site) -> JsonDict:
    return validated({
        "resourceType": "Location", "id": to_fhir_id(site.id), "identifier": _ident(site.id),
        "status": "active", "name": site.name, "mode": "instance",
        "type": [_concept(f"{CAREFLOW}/CodeSystem/site-kind", site.kind.value)],
        "physicalType": _concept(PHYSICAL, "si", "Site"),
        "position": {"latitude": site.position.lat, "longitude": site.position.lon},
        "extension": [{"url": f"{CAREFLOW}/StructureDefinition/timezone",
                       "valueCode": site.timezone}],
    })


def location_of_resource(resource: Resource, site: Site) -> JsonDict:
    """A room, infusion chair or bed as a Location inside its site."""
    if resource.kind is ResourceKind.BED:
        physical, kind = _concept(PHYSICAL, "bd", "Bed"), resource.bed.bed_type
        unit = resource.bed.unit
    else:
        physical, kind = _concept(PHYSICAL, "ro", "Room"), resource.room.room_type
        unit = resource.room.unit
    doc: JsonDict = {
        "resourceType": "Location", "id": to_fhir_id(resource.id), "identifier": _ident(resource.id),
        "status": "active" if resource.active else "inactive", "name": resource.name,
        "mode": "instance", "type": [_concept(f"{CAREFLOW}/CodeSystem/room-type", kind)],
        "physicalType": physical, "partOf": ref("Location", site.id, site.name),
    }
    if unit:
        doc["alias"] = [unit]
    return validated(doc)


def practitioner(resource: Resource) -> JsonDict:
    prof = resource.clinician
    return validated({
        "resourceType": "Practitioner", "id": to_fhir_id(resource.id), "identifier": _ident(resource.id),
        "active": resource.active, "name": [{"text": resource.name}],
        "qualification": [{"code": {"text": c.code}, "period": {"end": c.expires_on.isoformat()}}
                          for c in prof.credentials],
        "communication": [{"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]}
                          for lang in sorted(prof.languages)],
    })


def practitioner_role(resource: Resource, site: Site, services: list[Service]) -> JsonDict:
    """A clinician's role at its site, or a staff pool (a role without a practitioner)."""
    doc: JsonDict = {
        "resourceType": "PractitionerRole", "id": to_fhir_id(resource.id), "identifier": _ident(resource.id),
        "active": resource.active, "location": [ref("Location", site.id, site.name)],
        "healthcareService": [ref("HealthcareService", s.id, s.name) for s in services],
    }
    if resource.kind is ResourceKind.CLINICIAN:
        prof = resource.clinician
        doc["practitioner"] = ref("Practitioner", resource.id, resource.name)
        doc["code"] = [_concept(ROLE_SYSTEM, prof.profession)]
        doc["specialty"] = [_concept(SPECIALTY_SYSTEM, s) for s in sorted(prof.specialties)]
    else:
        pool = resource.pool
        doc["code"] = [_concept(ROLE_SYSTEM, pool.role, resource.name)]
        doc["extension"] = [{"url": f"{CAREFLOW}/StructureDefinition/pool-headcount",
                             "valueInteger": resource.capacity}]
        if pool.languages:
            doc["extension"].append({"url": f"{CAREFLOW}/StructureDefinition/pool-languages",
                                     "valueString": " ".join(sorted(pool.languages))})
    return validated(doc)


def device(resource: Resource, site: Site) -> JsonDict:
    eq = resource.equipment
    fixed = eq.room_id is not None and not eq.mobile
    where = ref("Location", eq.room_id) if eq.room_id and fixed else ref("Location", site.id, site.name)
    return validated({
        "resourceType": "Device", "id": to_fhir_id(resource.id), "identifier": _ident(resource.id),
        "status": "active" if resource.active else "inactive",
        "deviceName": [{"name": resource.name, "type": "user-friendly-name"}],
        "type": _concept(f"{CAREFLOW}/CodeSystem/equipment-type", eq.equipment_type),
        "location": where,
    })


def healthcare_service(service: Service, sites: list[Site]) -> JsonDict:
    doc: JsonDict = {
        "resourceType": "HealthcareService", "id": to_fhir_id(service.id),
        "identifier": [*_ident(service.id), {"system": SERVICE_SYSTEM, "value": service.code}],
        "active": service.active, "name": service.name,
        "category": [_concept(KIND_SYSTEM, service.kind.value)],
        "type": [service_concept(service)],
        "location": [ref("Location", s.id, s.name) for s in sites],
        "extension": [{"url": f"{CAREFLOW}/StructureDefinition/duration-minutes",
                       "valueInteger": service.duration_minutes}],
    }
    if service.specialty:
        doc["specialty"] = [_concept(SPECIALTY_SYSTEM, service.specialty)]
    return validated(doc)


def schedule(resource: Resource, site: Site, services: list[Service]) -> JsonDict:
    """The resource's Schedule: its slots are computed from availability and bookings."""
    actors = [ref(ACTOR_TYPE[resource.kind], resource.id, resource.name)]
    if resource.kind is ResourceKind.CLINICIAN:
        actors.append(ref("PractitionerRole", resource.id))
    if resource.kind is not ResourceKind.ROOM and resource.kind is not ResourceKind.CHAIR:
        actors.append(ref("Location", site.id, site.name))
    doc: JsonDict = {
        "resourceType": "Schedule", "id": to_fhir_id(resource.id), "identifier": _ident(resource.id),
        "active": resource.active, "actor": actors,
        "serviceType": [service_concept(s) for s in services],
        "comment": f"{resource.kind.value} at {site.id}; capacity {resource.capacity}",
    }
    if resource.kind is ResourceKind.CLINICIAN and resource.clinician.specialties:
        doc["specialty"] = [_concept(SPECIALTY_SYSTEM, s) for s in sorted(resource.clinician.specialties)]
    return validated(doc)
