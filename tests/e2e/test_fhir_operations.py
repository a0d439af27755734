"""$find → $hold → $book (IHE ITI Scheduling) and $cancel through /fhir/r4."""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi.testclient import TestClient

from careflow.adapters.fhir.appointments import OPTION_URL
from careflow.adapters.fhir.wire import parse
from careflow.bootstrap import App
from tests.auth import auth_headers
from tests.e2e.conftest import NOW

FHIR = "/fhir/r4"
HEADERS = {"content-type": "application/fhir+json"}


def parameters(**values: Any) -> dict[str, Any]:
    out = []
    for name, value in values.items():
        name = name.replace("_", "-") if not name.startswith("_") else name
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict) and "resourceType" in v:
                out.append({"name": name, "resource": v})
            elif isinstance(v, dict):
                out.append({"name": name, "valueReference": v})
            elif isinstance(v, int):
                out.append({"name": name, "valueInteger": v})
            else:
                out.append({"name": name, "valueString": v} if name not in ("start", "end")
                           else {"name": name, "valueDateTime": v})
    return {"resourceType": "Parameters", "parameter": out}


def post(client: TestClient, path: str, body: dict[str, Any], status: int = 200,
         **kwargs: Any) -> dict[str, Any]:
    r = client.post(FHIR + path, content=json.dumps(body), headers={**HEADERS, **kwargs.pop("headers", {})},
                    **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    doc: dict[str, Any] = r.json()
    return doc


def find(client: TestClient, patient: str = "pat-00003", service: str = "ORTHO-NEW", days: int = 7,
         **extra: Any) -> dict[str, Any]:
    end = NOW.replace(day=NOW.day + days)
    return post(client, "/Appointment/$find", parameters(
        start=NOW.isoformat(), end=end.isoformat(), visit_type=service,
        patient_reference={"reference": f"Patient/{patient}"}, **extra))


def test_find_proposes_appointments_where_everyone_is_free(client: TestClient) -> None:
    bundle = find(client, _count=3)
    parse(bundle, "Bundle")
    assert bundle["type"] == "searchset"
    assert 1 <= bundle["total"] <= 3
    first = bundle["entry"][0]["resource"]
    assert first["status"] == "proposed"
    refs = {p["actor"]["reference"].split("/")[0] for p in first["participant"]}
    assert {"Patient", "Location", "Practitioner"} <= refs
    option = json.loads(next(e["valueString"] for e in first["extension"] if e["url"] == OPTION_URL))
    assert option["patient_id"] == "pat-00003"
    assert option["service_id"] == "svc-ortho-new"


def test_find_hold_book_then_search_finds_it(client: TestClient) -> None:
    proposal = find(client)["entry"][0]["resource"]
    held = post(client, "/Appointment/$hold", parameters(appointment_resource=proposal))
    pending = held["entry"][0]["resource"]
    assert pending["status"] == "pending"
    assert any(e["url"].endswith("hold-expires") for e in pending["extension"])
    booked = post(client, "/Appointment/$book", parameters(
        appointment_reference={"reference": f"Appointment/{pending['id']}"}))["entry"][0]["resource"]
    assert booked["id"] == pending["id"]
    assert booked["status"] == "booked"
    found = client.get(f"{FHIR}/Appointment?patient=Patient/pat-00003&status=booked&_count=200").json()
    assert booked["id"] in [e["resource"]["id"] for e in found["entry"]]
    assert client.get(f"{FHIR}/Appointment/{booked['id']}").json()["start"] == proposal["start"]
    # the slot of the exam room is now busy at that time
    room = next(p["actor"]["reference"] for p in booked["participant"]
                if p.get("type", [{}])[0].get("text") == "room")
    busy = client.get(f"{FHIR}/Slot?schedule={room.replace('Location', 'Schedule')}&status=busy"
                      f"&start=ge{proposal['start']}&start=le{proposal['start']}").json()
    assert busy["total"] >= 1


def test_book_straight_from_a_proposal_and_refuse_it_twice(client: TestClient) -> None:
    proposal = find(client, patient="pat-00005")["entry"][0]["resource"]
    booked = post(client, "/Appointment/$book", parameters(appointment_resource=proposal))
    assert booked["entry"][0]["resource"]["status"] == "booked"
    again = post(client, "/Appointment/$book", parameters(appointment_resource=proposal), 409)
    assert again["resourceType"] == "OperationOutcome"
    codes = {c["code"] for issue in again["issue"] for c in issue.get("details", {}).get("coding", [])}
    assert codes & {"RESOURCE_BOOKED", "PATIENT_DOUBLE_BOOKED"}


def test_an_edited_or_foreign_proposal_is_refused(client: TestClient) -> None:
    proposal = find(client, patient="pat-00006")["entry"][0]["resource"]
    edited = copy.deepcopy(proposal)
    edited["start"] = "2026-06-01T03:00:00Z"
    bad = post(client, "/Appointment/$hold", parameters(appointment_resource=edited), 422)
    assert "start" in bad["issue"][-1]["expression"][0]
    bare = {k: v for k, v in proposal.items() if k != "extension"}
    post(client, "/Appointment/$book", parameters(appointment_resource=bare), 422)
    post(client, "/Appointment/$hold", {"resourceType": "Patient"}, 422)
    post(client, "/Appointment/$find", parameters(start=NOW.isoformat()), 422)
    post(client, "/Appointment/$book", parameters(
        appointment_reference={"reference": "Appointment/nope"}), 404)


def test_cancel_releases_the_appointment(client: TestClient) -> None:
    proposal = find(client, patient="pat-00007")["entry"][0]["resource"]
    booked = post(client, "/Appointment/$book",
                  parameters(appointment_resource=proposal))["entry"][0]["resource"]
    cancelled = post(client, f"/Appointment/{booked['id']}/$cancel", parameters(reason="patient asked"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"]["text"] == "patient asked"
    post(client, f"/Appointment/{booked['id']}/$cancel", parameters(reason="again"), 409)
    rebooked = post(client, "/Appointment/$book", parameters(appointment_resource=proposal))
    assert rebooked["entry"][0]["resource"]["status"] == "booked"


def test_writes_need_booking_write(client: TestClient, app: App) -> None:
    proposal = find(client, patient="pat-00009")["entry"][0]["resource"]
    denied = post(client, "/Appointment/$hold", parameters(appointment_resource=proposal), 403,
                  headers=auth_headers(app, "operations_viewer"))
    assert denied["issue"][0]["code"] == "forbidden"
    post(client, "/Appointment/$hold", parameters(appointment_resource=proposal),
         headers=auth_headers(app, "scheduler"))
