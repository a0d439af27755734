"""Patients as FHIR ``Patient``, by the minimum-necessary rule.

``patient.read`` gives the scheduling view: id, name, birth date, gender and language
(with whether an interpreter is needed). ``patient.read_clinical`` adds the MRN
(an identifier) and the home position (an address with a geolocation extension);
careflow keeps no street address. The view is chosen by the caller from the actor's
permissions, never by this module.
"""

from __future__ import annotations

from typing import Any

from careflow.adapters.fhir.ids import to_fhir_id
from careflow.adapters.fhir.wire import CAREFLOW, validated
from careflow.domain.patients import Patient

__all__ = ["MRN_SYSTEM", "patient"]

MRN_SYSTEM = f"{CAREFLOW}/mrn"
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"
_GENDER = {"female": "female", "male": "male", "other": "other"}


def _name(text: str) -> dict[str, Any]:
    given, _, family = text.rpartition(" ")
    name: dict[str, Any] = {"use": "official", "text": text}
    if family:
        name["family"] = family
    if given:
        name["given"] = given.split()
    return name


def patient(p: Patient, *, clinical: bool) -> dict[str, Any]:
    """The Patient resource: the scheduling view, plus MRN and home when ``clinical``."""
    doc: dict[str, Any] = {
        "resourceType": "Patient", "id": to_fhir_id(p.id), "active": True,
        "name": [_name(p.name)], "birthDate": p.birth_date.isoformat(),
        "gender": _GENDER.get(p.sex, "unknown"),
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": p.language}]},
                           "preferred": True}],
        "extension": [{"url": f"{CAREFLOW}/StructureDefinition/needs-interpreter",
                       "valueBoolean": p.needs_interpreter}],
    }
    if clinical:
        doc["identifier"] = [{"use": "usual", "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": MRN_SYSTEM, "value": p.mrn}]
        if p.home is not None:
            doc["address"] = [{"use": "home", "extension": [{"url": GEOLOCATION, "extension": [
                {"url": "latitude", "valueDecimal": p.home.lat},
                {"url": "longitude", "valueDecimal": p.home.lon}]}]}]
    return validated(doc)
