"""Bookings and find's options as FHIR ``Appointment`` (and ``AppointmentResponse``).

| booking status | Appointment.status |
|---|---|
| (an option ``$find`` proposes) | proposed |
| held | pending (``hold-expires`` extension) |
| booked, arrived, fulfilled | booked, arrived, fulfilled |
| cancelled, expired (a hold that lapsed) | cancelled (``cancelationReason``) |
| no_show | noshow |

Participants: the patient, the site (a Location) and one per allocation, the resource
as what it is (Practitioner, Location, Device or a staff pool's PractitionerRole) with
careflow's role in ``participant.type``.

A proposed Appointment carries the option exactly as careflow's ``find`` returned it,
as JSON in the ``option`` extension (``OPTION_URL``). ``$hold`` and ``$book`` read that
extension back and nothing else, so a client round-trips the Appointment unchanged; a
client that edits ``start`` or the patient gets a 422 (find again instead), and as on
the REST API the booking trusts only the option's choices and re-derives its intervals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from careflow.adapters.fhir.directory import ACTOR_TYPE, ref, service_concept
from careflow.adapters.fhir.ids import to_fhir_id
from careflow.adapters.fhir.wire import CAREFLOW, instant, validated
from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.catalog import Catalog
from careflow.domain.errors import InvalidRequest
from careflow.domain.options import Option

__all__ = ["OPTION_URL", "STATUS", "appointment", "appointment_responses", "option_of", "proposed"]

JsonDict = dict[str, Any]
OPTION_URL = f"{CAREFLOW}/StructureDefinition/option"
HOLD_EXPIRES_URL = f"{CAREFLOW}/StructureDefinition/hold-expires"
ROLE_SYSTEM = f"{CAREFLOW}/CodeSystem/role"
STATUS = {
    BookingStatus.HELD: "pending",
    BookingStatus.BOOKED: "booked",
    BookingStatus.ARRIVED: "arrived",
    BookingStatus.FULFILLED: "fulfilled",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.EXPIRED: "cancelled",
    BookingStatus.NO_SHOW: "noshow",
}
_PARTICIPATION = {"pending": "tentative", "cancelled": "declined", "proposed": "needs-action"}


def _participants(catalog: Catalog, patient_id: str, site_id: str,
                  allocations: Sequence[tuple[str, str]], status: str) -> list[JsonDict]:
    state = _PARTICIPATION.get(status, "accepted")
    site = catalog.sites.get(site_id)  # type: ignore[call-overload]
    out: list[JsonDict] = [{"actor": ref("Patient", patient_id), "required": "required", "status": state},
           {"actor": ref("Location", site_id, site.name if site else None), "required": "required",
            "status": state}]
    for role, rid in allocations:
        resource = catalog.resources.get(rid)  # type: ignore[call-overload]
        kind = ACTOR_TYPE[resource.kind] if resource is not None else "Location"
        out.append({"type": [{"coding": [{"system": ROLE_SYSTEM, "code": role}], "text": role}],
                    "actor": ref(kind, rid, resource.name if resource else None),
                    "required": "required", "status": state})
    return out


def _common(catalog: Catalog, service_id: str, start: datetime, end: datetime) -> JsonDict:
    service = catalog.services.get(service_id)  # type: ignore[call-overload]
    doc: JsonDict = {"start": instant(start), "end": instant(end),
                     "minutesDuration": max(1, round((end - start).total_seconds() / 60))}
    if service is not None:
        doc["serviceType"] = [service_concept(service)]
        doc["description"] = service.name
        if service.specialty:
            doc["specialty"] = [{"coding": [{"system": f"{CAREFLOW}/CodeSystem/specialty",
                                             "code": service.specialty}]}]
    return doc


def appointment(booking: Booking, catalog: Catalog) -> JsonDict:
    """A booking as an Appointment (its id is the booking's)."""
    status = STATUS[booking.status]
    doc: JsonDict = {
        "resourceType": "Appointment", "id": to_fhir_id(booking.id), "status": status,
        "identifier": [{"system": f"{CAREFLOW}/booking", "value": booking.id}],
        **_common(catalog, booking.service_id, booking.start, booking.end),
        "participant": _participants(catalog, booking.patient_id, booking.site_id,
                                     [(a.role, a.resource_id) for a in booking.allocations], status),
    }
    if booking.created_at is not None:
        doc["created"] = instant(booking.created_at)
    if booking.status is BookingStatus.HELD and booking.expires_at is not None:
        doc["extension"] = [{"url": HOLD_EXPIRES_URL, "valueInstant": instant(booking.expires_at)}]
    if booking.status is BookingStatus.EXPIRED:
        doc["cancelationReason"] = {"text": "the hold expired"}
    elif booking.status is BookingStatus.CANCELLED and booking.reason:
        doc["cancelationReason"] = {"text": booking.reason}
    return validated(doc)


def proposed(option: Option, catalog: Catalog, rank: int, option_json: str) -> JsonDict:
    """An option ``$find`` proposes: a proposed Appointment carrying ``option_json``, the
    option as careflow's API writes it (``find``'s own format)."""
    allocations = [(a.role, a.resource_id) for a in option.allocations]
    return validated({
        "resourceType": "Appointment", "id": f"proposed-{rank}", "status": "proposed",
        "extension": [{"url": OPTION_URL, "valueString": option_json}],
        **_common(catalog, option.service_id, option.start, option.end),
        "priority": rank,
        "participant": _participants(catalog, option.patient_id, option.site_id, allocations, "proposed"),
    })


def option_of(resource: JsonDict, read: Callable[[Any], Option]) -> Option:
    """The option a proposed Appointment carries, read by ``read`` from its JSON
    (``InvalidRequest`` naming what is wrong)."""
    found = [e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == OPTION_URL]
    if len(found) != 1 or not isinstance(found[0].get("valueString"), str):
        raise InvalidRequest("the Appointment carries no careflow option extension: pass a proposed "
                             "Appointment from $find unchanged", "appointment-resource.extension")
    try:
        data = json.loads(found[0]["valueString"])
    except ValueError as exc:
        raise InvalidRequest("the option extension is not JSON", "appointment-resource.extension") from exc
    option = read(data)
    start = resource.get("start")
    if isinstance(start, str) and _instant_or_none(start) != option.start:
        raise InvalidRequest("the Appointment's start differs from the option it carries; an edited "
                             "proposal cannot be booked (use $find again)", "appointment-resource.start")
    return option


def _instant_or_none(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def appointment_responses(booking: Booking, catalog: Catalog) -> list[JsonDict]:
    """Each resource's acceptance of the booking (``{appointment id}-{n}``)."""
    status = STATUS[booking.status]
    answer = {"pending": "tentative", "cancelled": "declined"}.get(status, "accepted")
    out = []
    for n, part in enumerate(_participants(catalog, booking.patient_id, booking.site_id,
                                           [(a.role, a.resource_id) for a in booking.allocations],
                                           status), start=1):
        out.append(validated({
            "resourceType": "AppointmentResponse", "id": f"{to_fhir_id(booking.id)}-{n}",
            "appointment": {"reference": f"Appointment/{to_fhir_id(booking.id)}"},
            "start": instant(booking.start), "end": instant(booking.end),
            "actor": part["actor"], "participantStatus": answer,
            **({"participantType": part["type"]} if "type" in part else {}),
        }))
    return out
