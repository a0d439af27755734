"""The exception queue through HTTP and the CLI: raise → list → claim → comment → resolve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient

from careflow.bootstrap import App
from tests.auth import auth_headers

CLI = [sys.executable, "-m", "careflow.cli"]
RAISE = {"category": "implant_short", "owner_team": "procurement", "priority": "high",
         "summary": "mesh short for the case", "booking_id": "bk_e2e", "patient_id": "p_e2e",
         "alternatives": [{"rank": 1, "site_id": "s1"}, {"rank": 2, "site_id": "s2"}]}


def _raise(client: TestClient, **extra: Any) -> dict[str, Any]:
    resp = client.post("/api/v1/exceptions", json={**RAISE, **extra})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_raise_list_claim_comment_resolve(client: TestClient, app: App) -> None:
    item = _raise(client)
    assert item["status"] == "open" and item["alternatives"][0]["rank"] == 1
    listed = client.get("/api/v1/exceptions", params={"status": "open", "team": "procurement"}).json()
    assert [i["id"] for i in listed["items"]] == [item["id"]]
    scheduler = auth_headers(app, "scheduler", subject="sam")
    claimed = client.post(f"/api/v1/exceptions/{item['id']}/claim", headers=scheduler).json()
    assert (claimed["status"], claimed["assignee"]) == ("claimed", "sam")
    commented = client.post(f"/api/v1/exceptions/{item['id']}/comments", headers=scheduler,
                            json={"text": "vendor ships tomorrow"}).json()
    assert commented["comments"][0]["text"] == "vendor ships tomorrow"
    resp = client.post(f"/api/v1/exceptions/{item['id']}/resolve", headers=scheduler,
                       json={"outcome": "fixed_upstream", "note": "stock arrived"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["resolution"]["by"] == "sam"
    figures = client.get("/api/v1/exceptions/figures").json()
    assert figures["resolved"] == 1 and figures["share_within_sla"] == 1.0


def test_an_invalid_transition_is_a_409_problem(client: TestClient) -> None:
    item = _raise(client)
    assert client.post(f"/api/v1/exceptions/{item['id']}/claim").status_code == 200
    resp = client.post(f"/api/v1/exceptions/{item['id']}/claim")
    assert resp.status_code == 409
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_bad_input_names_the_field_and_unknown_ids_are_404(client: TestClient) -> None:
    resp = client.post("/api/v1/exceptions", json={**RAISE, "priority": "whenever"})
    assert resp.status_code == 422 and "priority" in resp.text
    item = _raise(client)
    resp = client.post(f"/api/v1/exceptions/{item['id']}/resolve", json={"outcome": "shrug"})
    assert resp.status_code == 422 and "outcome" in resp.text
    assert client.get("/api/v1/exceptions/ex_nope").status_code == 404


def test_only_the_assignee_or_a_manager_may_resolve(client: TestClient, app: App) -> None:
    item = _raise(client)
    url = f"/api/v1/exceptions/{item['id']}"
    client.post(f"{url}/claim", headers=auth_headers(app, "scheduler", subject="sam"))
    other = auth_headers(app, "bed_manager", subject="bea")
    assert client.post(f"{url}/resolve", headers=other, json={"outcome": "duplicate"}).status_code == 403
    manager = auth_headers(app, "clinic_manager", subject="meg")
    assert client.post(f"{url}/resolve", headers=manager, json={"outcome": "duplicate"}).status_code == 200


def test_viewers_read_but_do_not_work_and_integrations_raise(client: TestClient, app: App) -> None:
    item = _raise(client)
    viewer = auth_headers(app, "operations_viewer")
    assert client.get("/api/v1/exceptions", headers=viewer).status_code == 200
    assert client.post(f"/api/v1/exceptions/{item['id']}/claim", headers=viewer).status_code == 403
    integration = auth_headers(app, "integration_client")
    assert client.post("/api/v1/exceptions", headers=integration, json=RAISE).status_code == 201
    assert client.get("/api/v1/exceptions", headers=integration).status_code == 403


def _careflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=env)


def test_cli_lists_claims_and_resolves(client: TestClient, seeded_db: str) -> None:
    item = _raise(client)
    listed = _careflow("exceptions", "list", "--db", seeded_db, "--json")
    assert listed.returncode == 0, listed.stderr
    assert item["id"] in [i["id"] for i in json.loads(listed.stdout)["items"]]
    table = _careflow("exceptions", "list", "--db", seeded_db)
    assert table.returncode == 0 and item["id"] in table.stdout
    claimed = _careflow("exceptions", "claim", item["id"], "--actor", "cli-sam", "--db", seeded_db, "--json")
    assert claimed.returncode == 0 and json.loads(claimed.stdout)["assignee"] == "cli-sam"
    done = _careflow("exceptions", "resolve", item["id"], "--outcome", "rescheduled", "--actor", "cli-sam",
                     "--db", seeded_db, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "resolved"
    shown = _careflow("exceptions", "show", item["id"], "--db", seeded_db)
    assert shown.returncode == 0 and "rescheduled" in shown.stdout


def test_cli_bad_input_is_one_line_and_exit_2(seeded_db: str) -> None:
    for args in (("exceptions", "show", "ex_nope"), ("exceptions", "list", "--status", "later"),
                 ("exceptions", "resolve", "ex_nope", "--outcome", "shrug")):
        out = _careflow(*args, "--db", seeded_db)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_alternatives_with_a_nul_character_are_refused_naming_the_field(client: TestClient) -> None:
    resp = client.post("/api/v1/exceptions", json={**RAISE, "alternatives": [{"note": "a\u0000b"}]})
    assert resp.status_code == 422 and "alternatives" in resp.text
