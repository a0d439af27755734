"""Bed placement through HTTP and the CLI on the tiny demo (site-h1 has two surgical beds in
4 West, one of them isolation-capable): request → placed → board; refusals; cleaned."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient

from careflow.api.routes.manage_common import deps_of
from careflow.bootstrap import App
from careflow.domain.access import Actor
from careflow.domain.events import PatientDischarged
from careflow.services import ingest
from tests.auth import auth_headers
from tests.fakes import FixedClock

CLI = [sys.executable, "-m", "careflow.cli"]
ASK = {"patient_id": "pat-00003", "site_id": "site-h1", "bed_type": "surgical", "expected_los_hours": 24,
       "urgency": "urgent", "source": "pacu"}


def _admit(client: TestClient, **extra: Any) -> dict[str, Any]:
    resp = client.post("/api/v1/admissions", json={**ASK, **extra})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_admission_placed_board_discharge_cleaned_next_placement(client: TestClient, app: App,
                                                                 clock: FixedClock) -> None:
    manager = auth_headers(app, "bed_manager", subject="bm-1")
    placed = client.post("/api/v1/admissions", json=ASK, headers=manager)
    assert placed.status_code == 201, placed.text
    adm = placed.json()
    # a man without isolation needs: the plain bed, not the isolation one
    assert (adm["status"], adm["bed_id"], adm["requested_by"]) == ("placed", "bed-h1-surg-002", "bm-1")
    assert client.get(f"/api/v1/admissions/{adm['id']}", headers=manager).json() == adm
    listed = client.get("/api/v1/admissions", params={"site_id": "site-h1"}, headers=manager).json()
    assert [a["id"] for a in listed["items"]] == [adm["id"]] and listed["total"] == 1
    booking = client.get(f"/api/v1/bookings/{adm['booking_id']}").json()
    assert booking["status"] == "booked" and booking["patient_id"] == "pat-00003"
    board = client.get("/api/v1/beds/board", params={"site_id": "site-h1"}, headers=manager).json()
    beds = {b["bed_id"]: b for u in board["units"] for b in u["beds"]}
    assert beds["bed-h1-surg-002"]["status"] == "occupied"
    assert beds["bed-h1-surg-002"]["booking_id"] == adm["booking_id"]
    # the isolation bed is taken by a surgical case's post-operative stay: the next man waits
    second = _admit(client, patient_id="pat-00005")
    assert (second["status"], second["bed_id"]) == ("waiting", None)
    board = client.get("/api/v1/beds/board", params={"site_id": "site-h1"}).json()
    assert [a["id"] for a in board["waiting"]] == [second["id"]]
    assert board["units"][0]["waiting"] == [second["id"]]
    # the first is discharged: the bed turns dirty and housekeeping gets a task
    clock.advance(hours=2)
    with app.deps.uow(write=True) as uow:
        uow.publish([PatientDischarged("bed-h1-surg-002", "pat-00003", adm["booking_id"], clock.now,
                                       "ehr", "a1")])
        uow.commit()
    asyncio.run(app.events.tick())
    board = client.get("/api/v1/beds/board", params={"site_id": "site-h1"}).json()
    bed = {b["bed_id"]: b for u in board["units"] for b in u["beds"]}["bed-h1-surg-002"]
    tasks = client.get("/api/v1/exceptions", params={"category": "housekeeping"}).json()["items"]
    assert bed["status"] == "dirty" and [t["id"] for t in tasks] == [bed["task_id"]]
    assert tasks[0]["owner_team"] == "housekeeping" and tasks[0]["priority"] == "high"
    # housekeeping reports it clean: the waiting admission gets it
    clock.advance(minutes=40)
    housekeeping = auth_headers(app, "integration_client")
    cleaned = client.post("/api/v1/beds/bed-h1-surg-002/cleaned", headers=housekeeping)
    assert cleaned.status_code == 200, cleaned.text
    assert [(a["id"], a["bed_id"]) for a in cleaned.json()["placed"]] == [(second["id"], "bed-h1-surg-002")]
    assert client.get(f"/api/v1/exceptions/{tasks[0]['id']}").json()["status"] == "resolved"
    assert client.get(f"/api/v1/bookings/{adm['booking_id']}").json()["status"] == "fulfilled"

def test_bad_requests_are_refused_naming_the_field_and_write_nothing(client: TestClient) -> None:
    for body, field in (({**ASK, "bed_type": None}, "unit"),
                        ({**ASK, "expected_los_hours": 0}, "expected_los_hours"),
                        ({**ASK, "expected_los_hours": "24"}, "expected_los_hours"),
                        ({**ASK, "wanted_from": "2026-06-01T08:00:00"}, "wanted_from"),
                        ({**ASK, "source": "helicopter"}, "source"),
                        ({**ASK, "bed": "x"}, "bed"),
                        ({**ASK, "unit": "4W\x00"}, "unit")):
        resp = client.post("/api/v1/admissions", json=body)
        assert resp.status_code == 422, (field, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert field in json.dumps(resp.json()), (field, resp.json())
    for body in ({**ASK, "patient_id": "pat-99999"}, {**ASK, "site_id": "site-zz"}):
        resp = client.post("/api/v1/admissions", json=body)
        assert resp.status_code == 404, resp.text
    assert client.get("/api/v1/admissions").json()["total"] == 0
    assert client.get("/api/v1/admissions/adm_nope").status_code == 404
    assert client.get("/api/v1/beds/board", params={"site_id": "site-zz"}).status_code == 404
    assert client.get("/api/v1/beds/board").status_code == 422


def test_who_may_do_what_and_cleaned_on_a_clean_bed_changes_nothing(client: TestClient, app: App) -> None:
    scheduler = auth_headers(app, "scheduler")
    assert client.post("/api/v1/admissions", json=ASK, headers=scheduler).status_code == 403
    h1 = {"site_id": "site-h1"}
    assert client.get("/api/v1/beds/board", params=h1, headers=scheduler).status_code == 403
    viewer = auth_headers(app, "operations_viewer")
    assert client.get("/api/v1/beds/board", params=h1, headers=viewer).status_code == 200
    elsewhere = auth_headers(app, "bed_manager", sites=["site-c1"])
    assert client.get("/api/v1/beds/board", params=h1, headers=elsewhere).status_code == 404
    assert client.post("/api/v1/beds/bed-h1-surg-001/cleaned", headers=elsewhere).status_code == 404
    housekeeping = auth_headers(app, "integration_client")
    resp = client.post("/api/v1/beds/bed-h1-surg-001/cleaned", headers=housekeeping)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["status"], resp.json()["placed"]) == ("clean", [])
    assert client.post("/api/v1/beds/no-such-bed/cleaned").status_code == 404
    assert client.post("/api/v1/beds/exam-c1-01/cleaned").status_code == 404  # not a bed
    future = client.post("/api/v1/beds/bed-h1-surg-001/cleaned", json={"at": "2026-06-02T09:00:00+00:00"})
    assert future.status_code == 422 and future.json()["field"] == "at"


def test_a_bed_out_of_service_is_not_offered_until_reported_clean(client: TestClient) -> None:
    resp = client.post("/api/v1/beds/bed-h1-surg-002/out-of-service", json={"reason": "call light broken"})
    assert resp.status_code == 200 and resp.json()["status"] == "out_of_service", resp.text
    assert client.post("/api/v1/beds/bed-h1-surg-002/out-of-service", json={"reason": " "}).status_code == 422
    waiting = _admit(client)
    assert waiting["status"] == "waiting"  # the only other bed is taken by a post-operative stay
    board = client.get("/api/v1/beds/board", params={"site_id": "site-h1"}).json()
    bed = {b["bed_id"]: b for u in board["units"] for b in u["beds"]}["bed-h1-surg-002"]
    assert bed["status"] == "out_of_service"
    back = client.post("/api/v1/beds/bed-h1-surg-002/cleaned").json()
    assert back["status"] == "clean" and [a["id"] for a in back["placed"]] == [waiting["id"]]


def test_discharge_and_cleaning_reported_through_the_ingest_use_cases(client: TestClient, app: App,
                                                                      clock: FixedClock) -> None:
    first = _admit(client)
    # 12 hours: the bed has a surgical case's post-operative stay from the next afternoon
    second = _admit(client, patient_id="pat-00005", expected_los_hours=12)
    assert (first["status"], second["status"]) == ("placed", "waiting")
    deps = ingest.IngestDeps(deps_of(app), app.deps)
    ehr = Actor("ehr", frozenset({"integration_client"}))
    clock.advance(hours=5)
    adt = ingest.Report(ehr, "adt", "A03-1")
    ingest.patient_discharged(first["bed_id"], "pat-00003", clock.now, adt, deps)
    asyncio.run(app.events.tick())
    assert client.get(f"/api/v1/bookings/{first['booking_id']}").json()["status"] == "fulfilled"
    clock.advance(minutes=25)
    ingest.bed_cleaned(first["bed_id"], clock.now, ingest.Report(ehr, "evs", "C-1"), deps)
    asyncio.run(app.events.tick())
    placed = client.get(f"/api/v1/admissions/{second['id']}").json()
    assert (placed["status"], placed["bed_id"]) == ("placed", first["bed_id"])


def test_a_placed_admission_cancelled_before_arrival_frees_its_bed(client: TestClient) -> None:
    placed = _admit(client)
    waiting = _admit(client, patient_id="pat-00005", expected_los_hours=12)
    resp = client.post(f"/api/v1/admissions/{placed['id']}/cancel", json={"reason": "went home"})
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled", resp.text
    assert client.get(f"/api/v1/bookings/{placed['booking_id']}").json()["status"] == "cancelled"
    assert client.get(f"/api/v1/admissions/{waiting['id']}").json()["bed_id"] == placed["bed_id"]
    again = client.post(f"/api/v1/admissions/{placed['id']}/cancel", json={"reason": "again"})
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert client.post(f"/api/v1/admissions/{waiting['id']}/cancel", json={}).status_code == 422


def test_the_cli_prints_the_board_and_refuses_a_bad_site_in_one_line(seeded_db: str) -> None:
    ok = subprocess.run([*CLI, "beds", "board", "--site", "site-h1", "--db", seeded_db, "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    board = json.loads(ok.stdout)
    assert [u["unit"] for u in board["units"]] == ["4 West Surgical"]
    assert sorted(b["bed_id"] for b in board["units"][0]["beds"]) == ["bed-h1-surg-001", "bed-h1-surg-002"]
    table = subprocess.run([*CLI, "beds", "board", "--site", "site-h1", "--db", seeded_db],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert table.returncode == 0 and "bed-h1-surg-001" in table.stdout
    for args in (["--site", "site-zz"], ["--site", ""]):
        bad = subprocess.run([*CLI, "beds", "board", *args, "--db", seeded_db], capture_output=True,
                             text=True, timeout=120)
        assert bad.returncode == 2, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and "site" in bad.stderr
