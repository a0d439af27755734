"""The management API over HTTP on the tiny demo: CRUD for every kind of master data,
ETags, deletes that bookings block, site limits, the patient projection, audit, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from careflow.adapters.db.tables import audit_log
from careflow.bootstrap import App
from careflow.domain.access import Actor
from careflow.services.management import etag_matches, project_patient
from tests.auth import auth_headers
from tests.e2e.conftest import window
from tests.e2e.test_booking_api import first_bookable

PROBLEM = "application/problem+json"
API = "/api/v1"

SITE = {"id": "site-x1", "name": "Test Clinic", "kind": "clinic", "timezone": "America/Chicago",
        "position": {"lat": 41.88, "lon": -87.63}, "languages": ["en"]}
ROOM = {"id": "room-x1", "site_id": "site-h1", "kind": "room", "name": "Exam 99", "capacity": 1,
        "profile": {"room_type": "exam", "capabilities": ["ultrasound"]},
        "availability": {"blocks": [{"days": "mon-fri", "start": "08:00", "end": "17:00"}]}}
SERVICE = {"id": "svc-x1", "code": "X-1", "name": "Test visit", "kind": "visit", "duration_minutes": 30,
           "room": {"room_type": "exam"}, "roles": [{"role": "provider", "profession": "physician"}]}
STOCK = {"site_id": "site-h1", "sku": "SUP-X1", "name": "Test supply", "on_hand": 10,
         "reorder_threshold": 2, "lead_time_days": 1}
PATIENT = {"id": "pat-x1", "mrn": "MRN-X1", "name": "Test Person", "birth_date": "1980-02-03",
           "sex": "female", "language": "es", "needs_interpreter": True,
           "completed_prep": {"consent": "2026-05-20"}, "home": {"lat": 35.9, "lon": -83.9}}
AUTH = {"id": "auth-x1", "patient_id": "pat-00001", "service_id": "svc-mri-knee", "payer": "Test payer",
        "status": "approved", "valid_from": "2026-05-01", "valid_to": "2026-12-31"}

# collection, new item, its path, a patch and the field it changes
KINDS = [
    ("sites", SITE, "sites/site-x1", {"name": "Renamed"}),
    ("resources", ROOM, "resources/room-x1", {"name": "Exam 100"}),
    ("services", SERVICE, "services/svc-x1", {"duration_minutes": 45}),
    ("stock", STOCK, "stock/site-h1/SUP-X1", {"on_hand": 20}),
    ("patients", PATIENT, "patients/pat-x1", {"language": "fr"}),
    ("authorizations", AUTH, "authorizations/auth-x1", {"status": "denied"}),
]


def headers_for(app: App, role: str, **kwargs: Any) -> dict[str, str]:
    return auth_headers(app, role, **kwargs)


def audit_rows(app: App, action: str) -> list[Any]:
    with app.engine.connect() as conn:
        return list(conn.execute(select(audit_log).where(audit_log.c.action == action)).mappings())


@pytest.mark.parametrize(("collection", "body", "path", "patch"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_round_trips_create_read_patch_replace_delete(
        client: TestClient, collection: str, body: dict[str, Any], path: str, patch: dict[str, Any]) -> None:
    created = client.post(f"{API}/{collection}", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{API}/{path}"
    etag = created.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    read = client.get(f"{API}/{path}")
    assert read.status_code == 200 and read.headers["etag"] == etag
    assert client.post(f"{API}/{collection}", json=body).status_code == 409  # the id is taken

    (field, value), = patch.items()
    patched = client.patch(f"{API}/{path}", json=patch, headers={"If-Match": etag})
    assert patched.status_code == 200, patched.text
    assert patched.json()[field] == value and patched.headers["etag"] != etag
    replaced = client.put(f"{API}/{path}", json={**body, field: value},
                          headers={"If-Match": patched.headers["etag"]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == client.get(f"{API}/{path}").json()

    deleted = client.delete(f"{API}/{path}", headers={"If-Match": replaced.headers["etag"]})
    assert deleted.status_code == 204, deleted.text
    assert client.get(f"{API}/{path}").status_code == 404


def test_changes_need_the_current_etag(client: TestClient) -> None:
    site = client.get(f"{API}/sites/site-c1")
    etag = site.headers["etag"]
    body = {**site.json(), "name": "Changed"}
    missing = client.put(f"{API}/sites/site-c1", json=body)
    assert missing.status_code == 428 and missing.headers["content-type"] == PROBLEM
    assert missing.json()["field"] == "If-Match"
    assert client.patch(f"{API}/sites/site-c1", json={"name": "x"}).status_code == 428
    assert client.delete(f"{API}/sites/site-c1").status_code == 428
    first = client.put(f"{API}/sites/site-c1", json=body, headers={"If-Match": etag})
    assert first.status_code == 200
    stale = client.put(f"{API}/sites/site-c1", json={**body, "name": "Again"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    assert client.get(f"{API}/sites/site-c1").json()["name"] == "Changed"
    weak = client.patch(f"{API}/sites/site-c1", json={"name": "w"},
                        headers={"If-Match": f"W/{first.headers['etag']}"})
    assert weak.status_code == 412
    assert etag_matches('"a", "b"', '"b"') and etag_matches("*", '"b"') and not etag_matches('W/"b"', '"b"')


def test_lists_are_paged_and_filtered(client: TestClient) -> None:
    page = client.get(f"{API}/resources", params={"site_id": "site-h1", "kind": "room", "limit": 2}).json()
    assert page["total"] > 2 and len(page["items"]) == 2
    assert all(r["site_id"] == "site-h1" and r["kind"] == "room" for r in page["items"])
    second = client.get(f"{API}/resources", params={"site_id": "site-h1", "kind": "room", "offset": 2,
                                                    "limit": 2}).json()
    assert {r["id"] for r in second["items"]}.isdisjoint(r["id"] for r in page["items"])
    auths = client.get(f"{API}/authorizations", params={"patient_id": "pat-00001"}).json()
    assert auths["total"] >= 1 and all(a["patient_id"] == "pat-00001" for a in auths["items"])
    pending = client.get(f"{API}/authorizations", params={"status": "pending"}).json()["items"]
    assert pending and all(a["status"] == "pending" for a in pending)
    stock = client.get(f"{API}/stock", params={"site_id": "site-h1"}).json()["items"]
    low = client.get(f"{API}/stock", params={"below_threshold": True}).json()["items"]
    assert stock and all(s["on_hand"] - s["reserved"] < s["reorder_threshold"] for s in low)
    assert client.get(f"{API}/services", params={"active": False}).json()["total"] == 0
    assert client.get(f"{API}/sites", params={"kind": "clinic"}).json()["items"][0]["id"] == "site-c1"


def _booked(client: TestClient) -> dict[str, Any]:
    bookings = client.get(f"{API}/bookings", params={"status": "booked", "limit": 50}).json()["items"]
    return next(b for b in bookings if b["allocations"])


def test_deleting_what_future_bookings_use_is_a_conflict_naming_them(client: TestClient) -> None:
    booking = _booked(client)
    resource_id = booking["allocations"][0]["resource_id"]
    for path in (f"resources/{resource_id}", f"services/{booking['service_id']}",
                 f"patients/{booking['patient_id']}", f"sites/{booking['site_id']}"):
        etag = client.get(f"{API}/{path}").headers["etag"]
        refused = client.delete(f"{API}/{path}", headers={"If-Match": etag})
        assert refused.status_code == 409, (path, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        uses = {u["what"]: u for u in refused.json()["in_use"]}
        assert uses["booking"]["count"] >= 1 and uses["booking"]["ids"]
        assert booking["id"] in uses["booking"]["ids"] or uses["booking"]["count"] > 5
        assert client.get(f"{API}/{path}").status_code == 200  # nothing changed


def test_a_resource_only_past_bookings_used_is_retired_not_deleted(client: TestClient) -> None:
    booking = _booked(client)
    resource_id = booking["allocations"][0]["resource_id"]
    used_by = client.get(f"{API}/bookings", params={"resource_id": resource_id, "limit": 500}).json()["items"]
    for b in used_by:
        if b["status"] in ("booked", "held"):
            assert client.post(f"{API}/bookings/{b['id']}/cancel", json={"reason": "test"}).status_code == 200
    etag = client.get(f"{API}/resources/{resource_id}").headers["etag"]
    retired = client.delete(f"{API}/resources/{resource_id}", headers={"If-Match": etag})
    assert retired.status_code == 200, retired.text
    assert retired.json()["active"] is False
    assert client.get(f"{API}/resources/{resource_id}").json()["active"] is False
    assert audit_rows(client.app.state.careflow, "resource.retire")  # type: ignore[attr-defined]


def test_find_sees_a_changed_resource_at_once(client: TestClient) -> None:
    request, found = first_bookable(client)
    option = found["options"][0]
    resource_id = option["allocations"][0]["resource_id"]
    etag = client.get(f"{API}/resources/{resource_id}").headers["etag"]
    closure = {"start": request["earliest"], "end": window(60)["latest"], "kind": "closure",
               "reason": "renovation"}
    added = client.post(f"{API}/resources/{resource_id}/availability/exceptions", json=closure)
    assert added.status_code == 201, added.text
    assert added.headers["etag"] != etag
    assert added.headers["location"].endswith(f"/resources/{resource_id}/availability/exceptions/0")
    again = client.post(f"{API}/availability/find", json=request).json()
    assert all(a["resource_id"] != resource_id for o in again["options"] for a in o["allocations"])


def test_availability_blocks_and_exceptions_hang_off_the_resource(client: TestClient) -> None:
    assert client.post(f"{API}/resources", json=ROOM).status_code == 201
    base = f"{API}/resources/room-x1/availability"
    blocks = client.get(f"{base}/blocks")
    assert len(blocks.json()) == 1
    added = client.post(f"{base}/blocks", json={"days": "sat", "start": "09:00", "end": "12:00"})
    assert added.status_code == 201 and added.headers["location"].endswith("/blocks/1")
    one = client.get(f"{base}/blocks/1")
    assert one.json()["days"] == "sat" and one.headers["etag"] == added.headers["etag"]
    stale = client.put(f"{base}/blocks/1", json={"days": "sun", "start": "09:00", "end": "12:00"},
                       headers={"If-Match": blocks.headers["etag"]})
    assert stale.status_code == 412
    changed = client.put(f"{base}/blocks/1", json={"days": "sun", "start": "09:00", "end": "12:00"},
                         headers={"If-Match": one.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["days"] == "sun"
    gone = client.delete(f"{base}/blocks/0", headers={"If-Match": changed.headers["etag"]})
    assert gone.status_code == 204
    whole = client.get(base).json()
    assert [b["days"] for b in whole["blocks"]] == ["sun"]
    assert client.get(f"{base}/blocks/5").status_code == 404
    bad = client.post(f"{base}/exceptions", json={"start": "2026-06-02T08:00:00Z",
                                                  "end": "2026-06-01T08:00:00Z", "kind": "closure"})
    assert bad.status_code == 422 and bad.json()["field"] == "end"


def test_a_site_limited_actor_sees_and_changes_only_its_sites(client: TestClient, app: App) -> None:
    limited = headers_for(app, "clinic_manager", sites=["site-c1"])
    sites = client.get(f"{API}/sites", headers=limited).json()
    assert [s["id"] for s in sites["items"]] == ["site-c1"] and sites["total"] == 1
    assert client.get(f"{API}/sites/site-h1", headers=limited).status_code == 404
    resources = client.get(f"{API}/resources", params={"limit": 500}, headers=limited).json()["items"]
    assert resources and {r["site_id"] for r in resources} == {"site-c1"}
    other = client.get(f"{API}/resources", params={"site_id": "site-h1", "limit": 1}).json()["items"][0]
    assert client.get(f"{API}/resources/{other['id']}", headers=limited).status_code == 404
    hidden = client.patch(f"{API}/resources/{other['id']}", json={"name": "x"},
                          headers={**limited, "If-Match": "*"})
    assert hidden.status_code == 404
    assert client.post(f"{API}/resources", json=ROOM, headers=limited).status_code == 403
    mine = client.post(f"{API}/resources", json={**ROOM, "site_id": "site-c1"}, headers=limited)
    assert mine.status_code == 201
    assert client.get(f"{API}/stock", headers=limited).json()["total"] == len(
        client.get(f"{API}/stock", params={"site_id": "site-c1"}).json()["items"])
    assert client.post(f"{API}/services", json=SERVICE, headers=limited).status_code == 403


def test_roles_without_the_permission_are_refused(client: TestClient, app: App) -> None:
    viewer = headers_for(app, "operations_viewer")
    assert client.get(f"{API}/sites", headers=viewer).status_code == 200
    assert client.post(f"{API}/sites", json=SITE, headers=viewer).status_code == 403
    assert client.get(f"{API}/patients/pat-00001", headers=viewer).status_code == 403
    assert client.get(f"{API}/authorizations", headers=viewer).status_code == 403
    scheduler = headers_for(app, "scheduler")
    etag = client.get(f"{API}/stock/site-h1/IMP-KNEE-TOTAL").headers["etag"]
    refused = client.patch(f"{API}/stock/site-h1/IMP-KNEE-TOTAL", json={"on_hand": 1},
                           headers={**scheduler, "If-Match": etag})
    assert refused.status_code == 403 and refused.json()["permission"] == "stock.write"
    assert client.get(f"{API}/stock/site-h1/IMP-KNEE-TOTAL").headers["etag"] == etag


def test_patients_show_clinical_fields_only_to_those_allowed(client: TestClient, app: App) -> None:
    scheduler = client.get(f"{API}/patients/pat-00001", headers=headers_for(app, "scheduler")).json()
    assert set(scheduler) == {"id", "name", "birth_date", "sex", "language", "needs_interpreter",
                              "preferences", "readiness"}
    assert scheduler["readiness"] == ["pre-anesthesia-clearance", "surgical-consent"]
    listed = client.get(f"{API}/patients", headers=headers_for(app, "scheduler")).json()["items"]
    assert all("mrn" not in p and "home" not in p for p in listed)
    clinical = client.get(f"{API}/patients/pat-00001", headers=headers_for(app, "perioperative_coordinator"))
    assert clinical.json()["mrn"] and clinical.json()["completed_prep"]


def test_the_patient_projection_keeps_only_what_scheduling_needs() -> None:
    data = {"id": "p", "mrn": "M", "name": "N", "birth_date": "2000-01-01", "sex": "male", "language": "en",
            "needs_interpreter": False, "home": {"lat": 1, "lon": 2}, "preferences": {},
            "isolation_required": True, "completed_prep": {"b": "2026-01-01", "a": "2026-01-02"},
            "usual_clinicians": ["dr"]}
    plain = project_patient(data, Actor("u", frozenset({"scheduler"})))
    assert plain == {"id": "p", "name": "N", "birth_date": "2000-01-01", "sex": "male", "language": "en",
                     "needs_interpreter": False, "preferences": {}, "readiness": ["a", "b"]}
    full = project_patient(data, Actor("u", frozenset({"bed_manager"})))
    assert full == {**data, "readiness": ["a", "b"]}


def test_writes_and_patient_reads_are_audited_without_phi(client: TestClient, app: App) -> None:
    client.get(f"{API}/patients/pat-00001")
    client.get(f"{API}/authorizations", params={"patient_id": "pat-00001"})
    etag = client.get(f"{API}/sites/site-c1").headers["etag"]
    client.patch(f"{API}/sites/site-c1", json={"name": "Audited"}, headers={"If-Match": etag})
    read = audit_rows(app, "patient.read")
    assert [r["entity_id"] for r in read] == ["pat-00001"] and read[0]["actor"] == "u-admin"
    listed = audit_rows(app, "authorization.read")
    assert listed and "auth-00001" in listed[0]["detail"]["ids"]
    update = audit_rows(app, "site.update")
    assert [(r["entity_type"], r["entity_id"], r["outcome"]) for r in update] == [("site", "site-c1", "ok")]
    patient = client.get(f"{API}/patients/pat-00001").json()
    for row in read:
        assert patient["name"] not in str(dict(row)) and patient["mrn"] not in str(dict(row))


@pytest.mark.parametrize(("path", "body", "field"), [
    ("sites", {**SITE, "timezone": "Mars/Olympus"}, "timezone"),
    ("sites", {**SITE, "colour": "red"}, "colour"),
    ("sites", {**SITE, "position": {"lat": "north", "lon": 1.0}}, "position"),
    ("sites", {**SITE, "id": "a/b"}, "id"),
    ("sites", {**SITE, "name": "x" * 300}, "name"),
    ("resources", {**ROOM, "availability": {"blocks": [{"days": "mon", "start": "08:00", "end": 1020}]}},
     "availability.blocks.0.end"),
    ("resources", {**ROOM, "site_id": "nowhere"}, "site_id"),
    ("resources", {**ROOM, "capacity": 10**9}, "capacity"),
    ("resources", {**ROOM, "profile": {"room_type": "exam", "extra": 1}}, "profile.extra"),
    ("services", {**SERVICE, "duration_minutes": "30"}, "duration_minutes"),
    ("stock", {**STOCK, "on_hand": -1}, "on_hand"),
    ("patients", {**PATIENT, "birth_date": "yesterday"}, "birth_date"),
    ("authorizations", {**AUTH, "status": "maybe"}, "status"),
    ("authorizations", {**AUTH, "patient_id": "pat-nobody"}, "patient_id"),
])
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
        client: TestClient, path: str, body: dict[str, Any], field: str) -> None:
    before = client.get(f"{API}/{path}").json()["total"]
    refused = client.post(f"{API}/{path}", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["field"] == field, refused.json()
    assert client.get(f"{API}/{path}").json()["total"] == before
