"""Imaging readiness through the outbox and the management API: the confirmed booking's
event starts the workflow, and prep recorded with a PATCH of the patient keeps the slot."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dbos import DBOS
from fastapi.testclient import TestClient

from careflow.api.app import create_app
from careflow.domain.readiness import ReadinessPolicy
from careflow.services.dispatch import drain
from careflow.services.workflows import imaging, runtime
from tests.auth import auth_headers
from tests.care_paths import Harness, book_ct, running, seed

POLICY = ReadinessPolicy((timedelta(seconds=7), timedelta(seconds=4)), timedelta(seconds=2))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Harness, TestClient]]:
    with running(seed(tmp_path), tmp_path, readiness_policy=POLICY) as h, TestClient(
            create_app(h.app), raise_server_exceptions=False, headers=auth_headers(h.app)) as c:
        yield h, c


def test_prep_recorded_through_the_patient_api_keeps_the_booking(served: tuple[Harness, TestClient]) -> None:
    h, client = served
    booking_id = book_ct(h.app, "p1", seconds_ahead=10)
    assert h.app.events is not None
    for _ in drain(h.app.events.dispatcher, h.app.events.outbox):  # BookingConfirmed → its handlers
        pass
    start = client.get(f"/api/v1/bookings/{booking_id}").json()["start"]
    with h.app.deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    assert booking is not None
    wid = imaging.workflow_id(booking_id, booking.start.isoformat())
    assert runtime.workflow_status(wid) is not None, f"no readiness workflow for the booking at {start}"
    patient = client.get("/api/v1/patients/p1")
    resp = client.patch("/api/v1/patients/p1", json={"completed_prep": {
        "contrast-labs": "2030-01-01", "prep-instructions": "2030-01-01"}},
        headers={"If-Match": patient.headers["etag"], "content-type": "application/merge-patch+json"})
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 60
    while runtime.workflow_status(wid) not in ("SUCCESS", "ERROR") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert DBOS.retrieve_workflow(wid).get_result() == "ready"
    assert client.get(f"/api/v1/bookings/{booking_id}").json()["status"] == "booked"
    assert [n.topic for n in h.notifier.sent] in ([], ["imaging.readiness_reminder"])
