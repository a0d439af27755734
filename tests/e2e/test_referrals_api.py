"""Referrals through HTTP and the command line: received, triaged and booked or offered
by the workflow (started by the ``ReferralReceived`` outbox event), chosen through the
API; bad input is a problem+json answer or a one-line CLI error, and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from careflow.api.app import create_app
from careflow.services.dispatch import drain
from tests.auth import auth_headers
from tests.care_paths import Harness, running, seed

PROBLEM = "application/problem+json"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Harness, TestClient]]:
    with running(seed(tmp_path), tmp_path) as h, TestClient(
            create_app(h.app), raise_server_exceptions=False, headers=auth_headers(h.app, "scheduler")) as c:
        yield h, c


def _pump(h: Harness) -> None:
    """Deliver the outbox to its handlers, as the server's event loop does every tick."""
    assert h.app.events is not None
    for _ in drain(h.app.events.dispatcher, h.app.events.outbox):
        pass


def _until(client: TestClient, referral_id: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        doc: dict[str, Any] = client.get(f"/api/v1/referrals/{referral_id}").json()
        if check(doc):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"referral {referral_id} never got there: {doc}")


def test_an_urgent_referral_is_received_triaged_and_booked(served: tuple[Harness, TestClient]) -> None:
    h, client = served
    resp = client.post("/api/v1/referrals", json={"patient_id": "p2", "service_id": "CARDIO-NEW",
                                                  "urgency": "urgent", "referring": "dr-ref-1"})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["status"] == "received" and created["service_id"] == "svc_cardio"
    assert resp.headers["location"] == f"/api/v1/referrals/{created['id']}"
    _pump(h)
    done = _until(client, created["id"], lambda d: d["status"] in ("booked", "queued"))
    assert done["status"] == "booked" and done["decision"] == "auto_book"
    assert done["recommendations"][0]["site_id"] == "south"
    assert {r["factor"] for r in done["recommendations"][0]["reasons"]} == {"wait", "travel", "specialty"}
    booking = client.get(f"/api/v1/bookings/{done['booking_id']}")
    assert booking.status_code == 200 and booking.json()["site_id"] == "south"
    listed = client.get("/api/v1/referrals", params={"status": "booked", "patient_id": "p2"}).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]


def test_a_routine_referral_is_chosen_through_the_api(served: tuple[Harness, TestClient]) -> None:
    h, client = served
    created = client.post("/api/v1/referrals", json={"patient_id": "p1", "service_id": "svc_cardio"}).json()
    _pump(h)
    offered = _until(client, created["id"], lambda d: d["status"] == "awaiting_choice")
    assert [r["rank"] for r in offered["recommendations"]] == [1, 2]
    bad = client.post(f"/api/v1/referrals/{created['id']}/choose", json={"rank": 9})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    chosen = client.post(f"/api/v1/referrals/{created['id']}/choose", json={"rank": 1})
    assert chosen.status_code == 202, chosen.text
    assert chosen.json()["status"] == "chosen" and chosen.json()["chosen_by"] == "u-scheduler"
    done = _until(client, created["id"], lambda d: d["status"] == "booked")
    assert done["chosen_rank"] == 1
    again = client.post(f"/api/v1/referrals/{created['id']}/choose", json={"rank": 2})
    assert again.status_code == 409 and again.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"patient_id": "nobody", "service_id": "svc_cardio"}, 404, None),
    ({"patient_id": "p1", "service_id": "svc_nothing"}, 404, None),
    ({"patient_id": "p1", "service_id": "svc_cardio", "site_ids": ["nowhere"]}, 404, None),
    ({"patient_id": "p1", "service_id": "svc_cardio", "urgency": "whenever"}, 422, "urgency"),
    ({"patient_id": "p1", "service_id": "svc_cardio", "earliest": "2030-01-02T00:00:00+00:00",
      "latest": "2030-01-01T00:00:00+00:00"}, 422, None),
    ({"patient_id": "p1", "service_id": "svc_cardio", "earliest": "2030-01-02T00:00:00"}, 422, "earliest"),
    ({"patient_id": "p1", "service_id": "svc_cardio", "earliest": "2030-01-01T00:00:00+00:00",
      "latest": "2032-01-01T00:00:00+00:00"}, 422, "latest"),
    ({"patient_id": "p\u0000", "service_id": "svc_cardio"}, 422, "patient_id"),
    ({"patient_id": "p1", "service_id": "svc_cardio", "extra": 1}, 422, None),
])
def test_bad_referrals_are_refused_and_nothing_is_written(
        served: tuple[Harness, TestClient], body: dict[str, Any], status: int, field: str | None) -> None:
    _, client = served
    resp = client.post("/api/v1/referrals", json=body)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    if field is not None:
        assert field in json.dumps(resp.json())
    assert client.get("/api/v1/referrals").json()["total"] == 0
    assert client.get("/api/v1/referrals/rf_unknown").status_code == 404


def test_the_cli_lists_and_explains_referrals(served: tuple[Harness, TestClient]) -> None:
    h, client = served
    created = client.post("/api/v1/referrals", json={"patient_id": "p2", "service_id": "svc_cardio",
                                                     "urgency": "urgent"}).json()
    _pump(h)
    _until(client, created["id"], lambda d: d["status"] == "booked")
    env = {**os.environ, "COLUMNS": "200"}

    def careflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "careflow.cli", "referrals", *args, "--db", h.url],
                              capture_output=True, text=True, timeout=120, env=env)

    listed = careflow("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)["items"]] == [created["id"]]
    shown = careflow("show", created["id"])
    assert shown.returncode == 0, shown.stderr
    assert "travel" in shown.stdout and "km from the patient's home" in shown.stdout
    bad = careflow("list", "--status", "lost")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--status" in bad.stderr
    missing = careflow("show", "rf_missing")
    assert missing.returncode == 2 and "rf_missing" in missing.stderr


def test_a_site_limited_scheduler_refers_within_its_own_sites(served: tuple[Harness, TestClient]) -> None:
    h, client = served
    north = auth_headers(h.app, "scheduler", subject="sched-north", sites=["north"])
    mine = client.post("/api/v1/referrals", json={"patient_id": "p2", "service_id": "svc_cardio"},
                       headers=north)
    assert mine.status_code == 201 and mine.json()["site_ids"] == ["north"]
    other = client.post("/api/v1/referrals", json={"patient_id": "p2", "service_id": "svc_cardio",
                                                   "site_ids": ["south"]}, headers=north)
    assert other.status_code == 403 and other.headers["content-type"].startswith(PROBLEM)
    south = client.post("/api/v1/referrals", json={"patient_id": "p2", "service_id": "svc_cardio",
                                                   "site_ids": ["south"]}).json()  # by an unlimited scheduler
    assert client.get("/api/v1/referrals").json()["total"] == 2
    seen = client.get("/api/v1/referrals", headers=north).json()
    assert [r["id"] for r in seen["items"]] == [mine.json()["id"]] and seen["total"] == 1
    assert client.get(f"/api/v1/referrals/{south['id']}", headers=north).status_code == 404
