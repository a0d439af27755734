"""FHIR R4 read and search on the tiny demo: every type, paging, filters, errors, views."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from careflow.adapters.fhir.capability import SEARCH
from careflow.bootstrap import App
from tests.auth import auth_headers
from tests.e2e.conftest import NOW

FHIR = "/fhir/r4"
TYPES = ["Location", "Practitioner", "PractitionerRole", "Device", "HealthcareService", "Schedule",
         "Slot", "Appointment", "Patient", "AuditEvent"]


def get(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
    r = client.get(FHIR + path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = r.json()
    return body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_metadata_lists_exactly_what_is_served(client: TestClient, anonymous: TestClient) -> None:
    cs = get(anonymous, "/metadata")
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    served = {r["type"]: r for r in rest["resource"]}
    assert set(served) == set(SEARCH) | {"AppointmentResponse"} - set()
    for kind, resource in served.items():
        assert {p["name"] for p in resource["searchParam"]} == set(SEARCH[kind])
        if kind != "AppointmentResponse":
            # every declared type answers a search
            get(client, f"/{kind}?_count=1")
    assert {o["name"] for o in served["Appointment"]["operation"]} == {"find", "hold", "book", "cancel"}
    assert rest["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_searches_and_reads_back(client: TestClient, kind: str) -> None:
    if kind == "AuditEvent":
        get(client, "/Patient/pat-00001")  # a fresh database has no audit entries yet
    found = get(client, f"/{kind}?_count=2")
    assert found["resourceType"] == "Bundle"
    assert found["type"] == "searchset"
    assert found["total"] >= 1
    first = found["entry"][0]
    assert first["fullUrl"].endswith(f"/{kind}/{first['resource']['id']}")
    again = get(client, f"/{kind}/{first['resource']['id']}")
    assert again == first["resource"]


def test_paging_follows_next_links_to_every_match(client: TestClient) -> None:
    bundle = get(client, "/Schedule?_count=4")
    seen = ids(bundle)
    while (nxt := next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)):
        bundle = client.get(nxt).json()
        seen += ids(bundle)
    assert len(seen) == len(set(seen)) == bundle["total"] == 26  # one Schedule per tiny-demo resource


def test_directory_filters(client: TestClient) -> None:
    rooms = get(client, "/Location?partof=Location/site-c1")
    assert set(ids(rooms)) == {"exam-c1-01", "exam-c1-02", "exam-c1-03"}
    assert ids(get(client, "/Practitioner?name=brindlemoor")) == ["clin-gsurg-01"]
    ortho = get(client, "/PractitionerRole?specialty=orthopedics")
    assert set(ids(ortho)) == {"clin-ortho-01", "clin-ortho-02"}
    assert ids(get(client, "/HealthcareService?service-type=TKA")) == ["svc-tka"]
    assert ids(get(client, "/Device?type=c-arm")) == ["eq-h1-c-arm-1"]
    tka = set(ids(get(client, "/Schedule?service-type=TKA&_count=50")))
    assert {"clin-ortho-01", "or-h1-01", "eq-h1-knee-instrument-set-1"} <= tka
    assert "exam-c1-01" not in tka


def test_slots_are_free_or_busy_and_stable_across_windows(client: TestClient) -> None:
    day = NOW.date().isoformat()
    free = get(client, f"/Slot?schedule=Schedule/exam-c1-01&start={day}&status=free")
    assert free["total"] >= 1
    for entry in free["entry"]:
        slot = entry["resource"]
        assert slot["status"] == "free"
        assert slot["schedule"]["reference"] == "Schedule/exam-c1-01"
        assert slot["extension"][0]["valueInteger"] >= 1
        assert slot["start"].startswith(day)
    wider = get(client, f"/Slot?schedule=exam-c1-01&start=ge{day}&start=lt{day}T23:59:59Z&_count=200")
    assert set(ids(free)) <= set(ids(wider))
    busy = get(client, "/Slot?schedule=or-h1-01&status=busy&start=ge2026-06-01&start=lt2026-06-08")
    assert busy["total"] >= 1, "the demo books the operating room in its first week"
    one = busy["entry"][0]["resource"]
    assert get(client, f"/Slot/{one['id']}") == one
    get(client, "/Slot/or-h1-01-1-2", 404)
    get(client, "/Slot?start=ge2026-06-01&start=lt2026-08-01", 422)


def test_appointments_search_by_patient_status_date_location_practitioner(client: TestClient) -> None:
    every = get(client, "/Appointment?_count=200")
    sample = every["entry"][0]["resource"]
    patient = next(p["actor"]["reference"] for p in sample["participant"]
                   if p["actor"]["reference"].startswith("Patient/"))
    mine = get(client, f"/Appointment?patient={patient}")
    assert mine["total"] >= 1
    assert all(any(p["actor"]["reference"] == patient for p in e["resource"]["participant"])
               for e in mine["entry"])
    booked = get(client, "/Appointment?status=booked&_count=200")
    assert all(e["resource"]["status"] == "booked" for e in booked["entry"])
    assert get(client, "/Appointment?status=noshow")["total"] + booked["total"] <= every["total"]
    day = sample["start"][:10]
    on_day = get(client, f"/Appointment?date={day}&_count=200")
    assert sample["id"] in ids(on_day)
    assert all(e["resource"]["start"].startswith(day) for e in on_day["entry"])
    later = get(client, f"/Appointment?date=gt{sample['start']}&_count=200")
    assert sample["id"] not in ids(later)
    site = next(p["actor"]["reference"] for p in sample["participant"]
                if p["actor"]["reference"].startswith("Location/site-"))
    assert sample["id"] in ids(get(client, f"/Appointment?location={site}&_count=200"))
    doctor = next((p["actor"]["reference"] for p in sample["participant"]
                   if p["actor"]["reference"].startswith("Practitioner/")), None)
    if doctor:
        assert sample["id"] in ids(get(client, f"/Appointment?practitioner={doctor}&_count=200"))
        assert sample["id"] in ids(get(client, f"/Appointment?actor={doctor}&_count=200"))
    responses = get(client, f"/AppointmentResponse?appointment=Appointment/{sample['id']}")
    assert responses["total"] == len(sample["participant"])
    assert get(client, f"/AppointmentResponse/{ids(responses)[0]}")["appointment"]["reference"] == \
        f"Appointment/{sample['id']}"


def test_patient_view_follows_minimum_necessary(client: TestClient, app: App) -> None:
    scheduler = get(client, "/Patient/pat-00001", headers=auth_headers(app, "scheduler"))
    assert set(scheduler) <= {"resourceType", "id", "active", "name", "birthDate", "gender",
                              "communication", "extension"}
    clinical = get(client, "/Patient/pat-00001", headers=auth_headers(app, "perioperative_coordinator"))
    assert clinical["identifier"][0]["value"].startswith("MRN")
    assert "address" in clinical
    page = get(client, "/Patient?_count=5", headers=auth_headers(app, "scheduler"))
    assert all("identifier" not in e["resource"] for e in page["entry"])


def test_patient_linked_reads_are_audited_with_ids_only(client: TestClient, app: App) -> None:
    get(client, "/Patient/pat-00002", headers=auth_headers(app, "scheduler"))
    get(client, "/Appointment?patient=Patient/pat-00002")
    trail = get(client, "/AuditEvent?entity=pat-00002&_count=50")
    actions = [e["resource"]["subtype"][0]["code"] for e in trail["entry"]]
    assert "patient.read" in actions
    assert "appointment.search" in actions
    assert "Ada" not in str(trail) and "MRN" not in str(trail)
    by_agent = get(client, "/AuditEvent?agent=u-scheduler&action=patient.read")
    assert by_agent["total"] >= 1
    assert get(client, "/AuditEvent?date=ge2000-01-01&_count=1")["total"] >= 2


def test_every_failure_is_an_operation_outcome(client: TestClient, anonymous: TestClient,
                                               app: App) -> None:
    def outcome(body: dict[str, Any]) -> str:
        assert body["resourceType"] == "OperationOutcome"
        return str(body["issue"][0]["code"])

    assert outcome(get(anonymous, "/Patient/pat-00001", 401)) == "login"
    assert outcome(get(client, "/Patient/pat-00001", 403, headers=auth_headers(app, "operations_viewer"))) \
        == "forbidden"
    assert outcome(get(client, "/AuditEvent", 403, headers=auth_headers(app, "scheduler"))) == "forbidden"
    assert outcome(get(client, "/Location/nowhere", 404)) == "not-found"
    assert outcome(get(client, "/Unknown/1", 404)) == "not-found"
    assert outcome(get(client, "/Location?color=red", 422)) == "processing"
    assert outcome(get(client, "/Appointment?date=yesterday", 422)) == "processing"
    assert outcome(get(client, "/Slot?_count=0", 422)) == "processing"
    r = client.delete(FHIR + "/Patient/pat-00001")
    assert r.status_code == 405
    assert r.json()["resourceType"] == "OperationOutcome"
    r = client.post(FHIR + "/Appointment/$find", content=b"{",
                    headers={"content-type": "application/fhir+json"})
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


def test_a_site_limited_actor_sees_its_site_only(client: TestClient, app: App) -> None:
    headers = auth_headers(app, "clinic_manager", sites=["site-c1"])
    locations = get(client, "/Location", headers=headers)
    assert set(ids(locations)) == {"site-c1", "exam-c1-01", "exam-c1-02", "exam-c1-03"}
    get(client, "/Location/site-h1", 404, headers=headers)
    appts = get(client, "/Appointment?_count=200", headers=headers)
    assert all(any(p["actor"]["reference"] == "Location/site-c1" for p in e["resource"]["participant"])
               for e in appts.get("entry", []))
