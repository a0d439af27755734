"""Surgical cases through HTTP and the CLI, with the workflows running in the server's
lifespan: request → booked; a pending authorization waits with a revenue-cycle task;
bad input is a 422 naming the field with nothing written; who may do what."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from careflow.api.app import create_app
from careflow.bootstrap import App
from tests.auth import auth_headers
from tests.e2e.conftest import NOW

CLI = [sys.executable, "-m", "careflow.cli"]


@pytest.fixture
def served(app: App) -> Iterator[TestClient]:
    """The API with the DBOS workflows launched by its lifespan."""
    with TestClient(
        create_app(app, workflows=True), raise_server_exceptions=False, headers=auth_headers(app)
    ) as c:
        yield c


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "surgeon_id": "clin-ortho-01",
        "service_id": "svc-tka",
        "patient_id": "pat-00001",
        "earliest": (NOW + timedelta(days=1)).isoformat(),
        "latest": (NOW + timedelta(days=14)).isoformat(),
        "site_ids": ["site-h1"],
        **extra,
    }


def _until(client: TestClient, case_id: str, *statuses: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        doc = client.get(f"/api/v1/cases/{case_id}").json()
        if doc["status"] in statuses and (doc["status"] != "booked" or doc["workflow_status"] == "SUCCESS"):
            return dict(doc)
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)


def test_a_requested_case_is_held_and_booked_and_listed(served: TestClient, app: App) -> None:
    resp = served.post("/api/v1/cases", json=_body())
    assert resp.status_code == 201, resp.text
    case = resp.json()
    assert resp.headers["location"] == f"/api/v1/cases/{case['id']}" and case["status"] == "requested"
    done = _until(served, case["id"], "booked")
    assert [s["step"] for s in done["steps"]] == ["card", "hold.0", "book", "notify"]
    booking = served.get(f"/api/v1/bookings/{done['booking_id']}").json()
    assert (booking["status"], booking["patient_id"], booking["site_id"]) == (
        "booked",
        "pat-00001",
        "site-h1",
    )
    assert any(a["resource_id"] == "clin-ortho-01" for a in booking["allocations"])
    listed = served.get("/api/v1/cases", params={"status": "booked"}).json()
    assert [c["id"] for c in listed["items"]] == [case["id"]]
    out = subprocess.run(
        [*CLI, "cases", "show", case["id"], "--db", app.settings.database_url, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["booking_id"] == done["booking_id"]
    resp = served.post(f"/api/v1/cases/{case['id']}/signals/prep_done")
    assert resp.status_code == 409 and resp.headers["content-type"].startswith("application/problem+json")


def test_a_pending_authorization_waits_with_a_task_for_revenue_cycle(served: TestClient) -> None:
    case = served.post("/api/v1/cases", json=_body(patient_id="pat-00004")).json()
    deadline = time.monotonic() + 30
    while True:
        doc = served.get(f"/api/v1/cases/{case['id']}").json()
        if doc["tasks"]:
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert doc["status"] == "waiting" and doc["waiting_for"] == ["authorization"]
    assert [(t["category"], t["owner_team"]) for t in doc["tasks"]] == [
        ("authorization_pending", "revenue_cycle")
    ]
    assert doc["booking_id"] is None and doc["hold_id"] is None
    queue = served.get("/api/v1/exceptions", params={"team": "revenue_cycle"}).json()
    assert [i["case_id"] for i in queue["items"]] == [case["id"]]
    resp = served.post(f"/api/v1/cases/{case['id']}/signals/authorization_changed")
    assert resp.status_code == 200, resp.text


BAD = [
    ({"surgeon_id": "or-h1-01"}, "surgeon_id"),
    ({"service_id": "svc-nope"}, "service_id"),
    ({"patient_id": "pat-99999"}, "patient_id"),
    ({"site_ids": ["site-zz"]}, "site_ids"),
    ({"latest": NOW.isoformat()}, "latest"),
    ({"earliest": "2026-06-02T08:00:00"}, "earliest"),
    ({"urgency": "whenever"}, "urgency"),
    ({"surprise": 1}, "surprise"),
]


def test_bad_requests_name_the_field_and_write_nothing(served: TestClient) -> None:
    for change, field in BAD:
        resp = served.post("/api/v1/cases", json=_body(**change))
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["field"] == field, (change, resp.json())
    assert served.get("/api/v1/cases").json()["total"] == 0


def test_who_may_request_read_and_signal(served: TestClient, app: App) -> None:
    viewer = auth_headers(app, "operations_viewer")
    assert served.post("/api/v1/cases", json=_body(), headers=viewer).status_code == 403
    assert served.get("/api/v1/cases", headers=viewer).status_code == 200
    assert served.get("/api/v1/cases/case_nope").status_code == 404
    assert served.post("/api/v1/cases/case_nope/signals/prep_done").status_code == 404
    assert served.post("/api/v1/cases/case_nope/signals/reboot").status_code == 422


def test_the_cli_refuses_bad_input_with_one_line_and_exit_2(app: App) -> None:
    db = app.settings.database_url
    start = ["cases", "start", "--surgeon", "clin-ortho-01", "--service", "svc-tka", "--patient", "pat-00001"]
    runs = [
        [*start, "--earliest", "2026-06-02T08:00:00", "--latest", "2026-06-09T08:00:00+00:00", "--db", db],
        ["cases", "list", "--status", "sleeping", "--db", db],
        ["cases", "show", "case_nope", "--db", db],
    ]
    procs = [
        subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in runs
    ]  # at once: each pays the interpreter's start-up
    for args, proc in zip(runs, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 2, (args, stdout, stderr)
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error:"), stderr
