"""The served API on PostgreSQL, end to end: FHIR $find → $hold → $book → search, the REST
booking flow, a management update under ETags, and an intact audit chain afterwards.

The rest of the end-to-end suite runs on SQLite (the embedded default); this module runs
the same paths on the database a hospital runs at scale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from careflow import demo
from careflow.adapters.db.audit import verify
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.api.app import create_app
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from tests.auth import auth_headers
from tests.e2e.conftest import ANCHOR, NOW
from tests.e2e.test_booking_api import first_bookable
from tests.e2e.test_fhir_operations import FHIR, find, parameters, post
from tests.fakes import FixedClock

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: object) -> Iterator[App]:
    migrate(postgres_url)
    engine = make_engine(postgres_url)
    load_health_system(engine, demo.build("tiny", seed=7, anchor=ANCHOR), replace=True)
    engine.dispose()
    settings = load_settings(database_url=postgres_url, environment="test",
                             auth_secret_file=f"{tmp_path}/jwt-secret")
    application = bootstrap(settings, clock=FixedClock(NOW))
    yield application
    application.dispose()


@pytest.fixture
def pg_client(pg_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(pg_app), raise_server_exceptions=False,
                    headers=auth_headers(pg_app, "scheduler")) as c:
        yield c


def test_fhir_find_hold_book_then_search_on_postgres(pg_client: TestClient) -> None:
    proposal = find(pg_client)["entry"][0]["resource"]
    pending = post(pg_client, "/Appointment/$hold",
                   parameters(appointment_resource=proposal))["entry"][0]["resource"]
    booked = post(pg_client, "/Appointment/$book", parameters(
        appointment_reference={"reference": f"Appointment/{pending['id']}"}))["entry"][0]["resource"]
    assert booked["status"] == "booked"
    found = pg_client.get(f"{FHIR}/Appointment?patient=Patient/pat-00003&status=booked&_count=200").json()
    assert booked["id"] in [e["resource"]["id"] for e in found["entry"]]
    again = pg_client.post(FHIR + "/Appointment/$book", json=parameters(appointment_resource=proposal),
                           headers={"content-type": "application/fhir+json"})
    assert again.status_code == 409
    assert again.json()["resourceType"] == "OperationOutcome"


def test_rest_booking_and_a_management_update_on_postgres(pg_app: App, pg_client: TestClient) -> None:
    _, found = first_bookable(pg_client)
    hold = pg_client.post("/api/v1/holds", json={"option": found["options"][0]},
                          headers={"Idempotency-Key": "pg-hold-1"})
    assert hold.status_code == 201, hold.text
    replay = pg_client.post("/api/v1/holds", json={"option": found["options"][0]},
                            headers={"Idempotency-Key": "pg-hold-1"})
    assert replay.headers["idempotent-replayed"] == "true" and replay.json()["id"] == hold.json()["id"]
    booked = pg_client.post("/api/v1/bookings", json={"hold_id": hold.json()["id"]})
    assert booked.status_code == 201, booked.text

    admin = auth_headers(pg_app, "admin")
    site = pg_client.get("/api/v1/sites", headers=admin).json()["items"][0]
    current = pg_client.get(f"/api/v1/sites/{site['id']}", headers=admin)
    etag = current.headers["etag"]
    changed = pg_client.patch(f"/api/v1/sites/{site['id']}", json={"name": "Renamed clinic"},
                              headers={**admin, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    stale = pg_client.patch(f"/api/v1/sites/{site['id']}", json={"name": "Again"},
                            headers={**admin, "If-Match": etag})
    assert stale.status_code == 412

    denied = pg_client.get("/api/v1/users")  # a scheduler may not list users: audited
    assert denied.status_code == 403
    assert pg_app.engine is not None
    report = verify(pg_app.engine)
    assert report.ok, report
    assert report.entries >= 6  # reads, holds, the booking, the site update, the denial
