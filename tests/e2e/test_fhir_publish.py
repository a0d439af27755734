"""SMART Scheduling Links: the $bulk-publish manifest and its NDJSON files."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from careflow.adapters.fhir.publish import BOOKING_DEEP_LINK
from careflow.adapters.fhir.slots import SLOT_CAPACITY
from careflow.adapters.fhir.wire import parse
from tests.e2e.test_fhir_operations import find, parameters, post


def ndjson(client: TestClient, url: str) -> list[dict[str, Any]]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+ndjson")
    rows = [json.loads(line) for line in r.text.splitlines() if line]
    for row in rows:
        parse(row)
    return rows


def test_manifest_and_files_publish_public_visits_only(anonymous: TestClient) -> None:
    r = anonymous.get("/fhir/r4/$bulk-publish")
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["transactionTime"]
    assert manifest["request"].endswith("/fhir/r4/$bulk-publish")
    files = {o["type"]: o["url"] for o in manifest["output"]}
    assert set(files) == {"Location", "Schedule", "Slot"}
    locations = ndjson(anonymous, files["Location"])
    schedules = ndjson(anonymous, files["Schedule"])
    slots = ndjson(anonymous, files["Slot"])
    assert {loc["id"] for loc in locations} == {"site-c1", "site-h1"}
    assert {s["serviceType"][0]["coding"][0]["code"] for s in schedules} == {"ORTHO-NEW"}
    assert all(s["actor"][0]["reference"].startswith("Location/") for s in schedules)
    assert slots, "the demo's clinics have free orthopedic visits"
    schedule_ids = {s["id"] for s in schedules}
    for slot in slots:
        assert slot["status"] == "free"
        assert slot["schedule"]["reference"].removeprefix("Schedule/") in schedule_ids
        ext = {e["url"]: e for e in slot["extension"]}
        assert ext[BOOKING_DEEP_LINK]["valueUrl"].startswith("http")
        assert ext[SLOT_CAPACITY]["valueInteger"] >= 1


def test_since_narrows_slots_to_sites_with_changes(client: TestClient, anonymous: TestClient) -> None:
    files = {o["type"]: o["url"] for o in
             anonymous.get("/fhir/r4/$bulk-publish?_since=2100-01-01T00:00:00Z").json()["output"]}
    assert "_since=" in files["Slot"]
    assert ndjson(anonymous, files["Slot"]) == []
    assert ndjson(anonymous, files["Location"]), "Location and Schedule files are always complete"
    proposal = next(e["resource"] for e in find(client, patient="pat-00003")["entry"]
                    if e["resource"]["resourceType"] == "Appointment")
    post(client, "/Appointment/$book", parameters(appointment_resource=proposal))
    recent = ndjson(anonymous, "/fhir/r4/$bulk-publish/Slot.ndjson?_since=2000-01-01")
    assert recent
    bad = anonymous.get("/fhir/r4/$bulk-publish?_since=soon")
    assert bad.status_code == 422
    assert bad.json()["resourceType"] == "OperationOutcome"
    assert anonymous.get("/fhir/r4/$bulk-publish/Patient.ndjson").status_code == 404
