"""The patient's e-mail contact through the management API: stored and shown only with the
clinical view, kept when someone without it replaces the patient, malformed addresses
refused with a 422 naming the field; and the e-mail channel finds it by patient id."""

from __future__ import annotations

from fastapi.testclient import TestClient

from careflow.adapters.notify.build import patient_email_lookup
from careflow.bootstrap import App
from tests.auth import auth_headers

API = "/api/v1/patients"
PATIENT = {"id": "pat-mail", "mrn": "MRN-MAIL", "name": "Synthetic Mail", "birth_date": "1980-02-03",
           "email": "synthetic.mail@example.org"}


def test_the_email_is_stored_and_shown_only_with_the_clinical_view(client: TestClient, app: App) -> None:
    created = client.post(API, json=PATIENT)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "synthetic.mail@example.org"
    clinical = client.get(f"{API}/pat-mail", headers=auth_headers(app, "perioperative_coordinator")).json()
    assert clinical["email"] == "synthetic.mail@example.org"
    scheduler = client.get(f"{API}/pat-mail", headers=auth_headers(app, "scheduler"))
    assert "email" not in scheduler.json() and "synthetic.mail" not in scheduler.text
    assert patient_email_lookup(app.deps.uow)("pat-mail") == "synthetic.mail@example.org"
    assert patient_email_lookup(app.deps.uow)("pat-00001") is None  # the demo's patients have none
    assert patient_email_lookup(app.deps.uow)("pat-nobody") is None


def test_a_replacement_without_the_clinical_view_keeps_the_email(client: TestClient, app: App) -> None:
    etag = client.post(API, json=PATIENT).headers["etag"]
    body = {k: v for k, v in PATIENT.items() if k not in ("mrn", "email")} | {"language": "fr"}
    writer = auth_headers(app, "integration_client")  # patient.write without the clinical view
    replaced = client.put(f"{API}/pat-mail", json=body, headers={**writer, "If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    assert client.get(f"{API}/pat-mail").json()["email"] == "synthetic.mail@example.org"


def test_an_admin_can_clear_the_email(client: TestClient) -> None:
    etag = client.post(API, json=PATIENT).headers["etag"]
    cleared = client.put(f"{API}/pat-mail", json={**PATIENT, "email": None}, headers={"If-Match": etag})
    assert cleared.status_code == 200, cleared.text
    assert client.get(f"{API}/pat-mail").json()["email"] is None


def test_a_malformed_email_is_refused_naming_the_field(client: TestClient) -> None:
    for bad in ("not-an-address", "two@@example.org", "a b@example.org", "x@localhost", 42, "a@b.c\n"):
        resp = client.post(API, json={**PATIENT, "email": bad})
        assert resp.status_code == 422, bad
        assert resp.json()["field"].endswith("email")
        assert client.get(f"{API}/pat-mail").status_code == 404  # nothing written
