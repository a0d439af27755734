"""Real FHIR clients against a real server: ``careflow serve`` in a subprocess, driven by
fhirclient (SMART on FHIR's Python client) and fhirpy's sync client with a bearer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhirclient import client as smart_client
from fhirclient.models.appointment import Appointment
from fhirclient.models.bundle import Bundle
from fhirclient.models.location import Location
from fhirclient.models.slot import Slot
from fhirpy import SyncFHIRClient

from careflow.config import Settings
from tests.auth import token_for
from tests.e2e.test_server import server  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def token(live_db: str) -> str:
    return token_for(Settings(database_url=live_db), "scheduler")


@pytest.fixture(scope="module")
def smart(server: str, token: str) -> Any:  # noqa: F811
    fhir = smart_client.FHIRClient(settings={"app_id": "careflow-tests", "api_base": f"{server}/fhir/r4/"})
    fhir.server.session.headers["Authorization"] = f"Bearer {token}"
    return fhir


@pytest.fixture(scope="module")
def fhirpy(server: str, token: str) -> SyncFHIRClient:  # noqa: F811
    return SyncFHIRClient(f"{server}/fhir/r4", authorization=f"Bearer {token}")


def _find_parameters(patient: str, days: int = 14) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(hours=1)
    return {"resourceType": "Parameters", "parameter": [
        {"name": "start", "valueDateTime": start.isoformat()},
        {"name": "end", "valueDateTime": (start + timedelta(days=days)).isoformat()},
        {"name": "visit-type", "valueString": "ORTHO-NEW"},
        {"name": "patient-reference", "valueReference": {"reference": f"Patient/{patient}"}},
        {"name": "_count", "valueInteger": 3}]}


def test_fhirclient_reads_metadata_searches_and_books(smart: Any) -> None:
    smart.prepare()  # fetches and parses the CapabilityStatement
    statement = smart.server.capabilityStatement
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} >= {"Slot", "Appointment", "Schedule"}
    site = Location.read("site-h1", smart.server)
    assert site.name == "Tiny General Hospital"
    slots = list(Slot.where(struct={"schedule": "Schedule/exam-c1-01", "status": "free"})
                 .perform_resources_iter(smart.server))
    assert slots
    assert all(s.status == "free" for s in slots)
    found = Bundle(smart.server.post_json("Appointment/$find", _find_parameters("pat-00010")).json())
    proposal = found.entry[0].resource
    assert proposal.status == "proposed"
    held = Bundle(smart.server.post_json("Appointment/$hold", {"resourceType": "Parameters", "parameter": [
        {"name": "appointment-resource", "resource": proposal.as_json()}]}).json())
    pending = held.entry[0].resource
    assert pending.status == "pending"
    reference = {"reference": f"Appointment/{pending.id}"}
    booked = Bundle(smart.server.post_json("Appointment/$book", {"resourceType": "Parameters", "parameter": [
        {"name": "appointment-reference", "valueReference": reference}]}).json())
    assert booked.entry[0].resource.status == "booked"
    mine = list(Appointment.where(struct={"patient": "Patient/pat-00010", "status": "booked"})
                .perform_resources_iter(smart.server))
    assert pending.id in [a.id for a in mine]
    assert Appointment.read(pending.id, smart.server).status == "booked"


def test_fhirpy_searches_pages_and_books(fhirpy: SyncFHIRClient) -> None:
    schedules = fhirpy.resources("Schedule").search(**{"service-type": "ORTHO-NEW"}).limit(2).fetch_all()
    assert len(schedules) >= 3, "fetch_all follows the next links"
    practitioners = fhirpy.resources("Practitioner").fetch()
    assert {p["id"] for p in practitioners} >= {"clin-ortho-01"}
    found = fhirpy.execute("Appointment/$find", method="post", data=_find_parameters("pat-00012"))
    proposal = next(e["resource"] for e in found["entry"] if e["search"]["mode"] == "match")
    held = fhirpy.execute("Appointment/$hold", method="post", data={
        "resourceType": "Parameters", "parameter": [{"name": "appointment-resource", "resource": proposal}]})
    pending = held["entry"][0]["resource"]
    booked = fhirpy.execute("Appointment/$book", method="post", data={
        "resourceType": "Parameters", "parameter": [{"name": "appointment-resource", "resource": pending}]})
    assert booked["entry"][0]["resource"]["status"] == "booked"
    mine = fhirpy.resources("Appointment").search(patient="Patient/pat-00012", status="booked").fetch_all()
    assert pending["id"] in [a["id"] for a in mine]
    again = fhirpy.reference("Appointment", pending["id"]).to_resource()
    assert again["status"] == "booked"
    assert again["start"] == proposal["start"]
