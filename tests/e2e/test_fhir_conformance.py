"""careflow's FHIR is real R4: the official examples parse with the models careflow uses
(fhir.resources.R4B), and every resource careflow serves validates with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from careflow.adapters.fhir.wire import parse
from tests.e2e.conftest import NOW

DATA = Path("/work/shared/data/fhir")
FOLDERS = ("r4-examples", "ihe-iti-scheduling")
EXAMPLES = sorted(p for folder in FOLDERS for p in (DATA / folder).glob("*.json") if p.name != "package.json")
SERVED = {"Schedule", "Slot", "Appointment", "AppointmentResponse", "Practitioner", "PractitionerRole",
          "Location", "HealthcareService", "Device", "Patient", "Bundle", "CapabilityStatement"}

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="the shared FHIR examples are not present")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_official_examples_parse_with_the_models_careflow_uses(path: Path) -> None:
    doc = json.loads(path.read_text())
    if doc.get("resourceType") not in SERVED:
        pytest.skip(f"careflow does not serve {doc.get('resourceType')}")
    model = parse(doc)
    assert model.get_resource_type() == doc["resourceType"]
    again = json.loads(model.model_dump_json())
    assert again["resourceType"] == doc["resourceType"]
    assert again.get("id") == doc.get("id")


def test_the_examples_cover_every_scheduling_type() -> None:
    kinds = {json.loads(p.read_text()).get("resourceType") for p in EXAMPLES}
    assert {"Schedule", "Slot", "Appointment", "AppointmentResponse"} <= kinds


def _all(client: TestClient, path: str) -> list[dict[str, Any]]:
    r = client.get(f"/fhir/r4/{path}")
    assert r.status_code == 200, r.text
    bundle = r.json()
    parse(bundle, "Bundle")
    return [e["resource"] for e in bundle.get("entry", [])]


def test_every_resource_careflow_serves_validates(client: TestClient) -> None:
    client.get("/fhir/r4/Patient/pat-00001")  # leaves an audit entry to export
    day = NOW.date().isoformat()
    seen: dict[str, int] = {}
    for path in ["Location?_count=200", "Practitioner", "PractitionerRole", "Device", "HealthcareService",
                 "Schedule?_count=200", f"Slot?start={day}&_count=200", "Appointment?_count=200",
                 "Patient?_count=200", "AuditEvent?_count=200"]:
        for resource in _all(client, path):
            parse(resource)
            seen[resource["resourceType"]] = seen.get(resource["resourceType"], 0) + 1
    appointment = _all(client, "Appointment?_count=1")[0]
    for resource in _all(client, f"AppointmentResponse?appointment={appointment['id']}"):
        parse(resource, "AppointmentResponse")
        seen["AppointmentResponse"] = seen.get("AppointmentResponse", 0) + 1
    parse(client.get("/fhir/r4/metadata").json(), "CapabilityStatement")
    parse(client.get("/fhir/r4/Nowhere").json(), "OperationOutcome")
    assert set(seen) == {"Location", "Practitioner", "PractitionerRole", "Device", "HealthcareService",
                         "Schedule", "Slot", "Appointment", "AppointmentResponse", "Patient", "AuditEvent"}
