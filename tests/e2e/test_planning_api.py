"""Day-of-surgery sequencing through HTTP on the tiny demo: site-h1's two operating rooms on
Tuesday 2 June (the clock stands at 06:00 New York time on Monday 1 June)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careflow.adapters.db.tables import audit_log
from careflow.bootstrap import App
from tests.auth import auth_headers

DAY = "2026-06-02"
PROPOSE = {"site_id": "site-h1", "date": DAY, "time_limit": 5, "seed": 1}


def _audits(app: App, action: str) -> int:
    assert app.engine is not None
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.action == action)).scalar_one())


def _post(client: TestClient, app: App, role: str, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/planning/sequence", json=body, headers=auth_headers(app, role))


def test_a_scheduler_without_plan_read_is_refused_with_problem_json(client: TestClient, app: App) -> None:
    resp = _post(client, app, "scheduler", PROPOSE)
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["permission"] == "plan.read"


def test_the_coordinator_gets_the_days_order_per_room_with_penalties(client: TestClient, app: App) -> None:
    resp = _post(client, app, "perioperative_coordinator", PROPOSE)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] in ("optimal", "feasible") and body["timezone"] == "America/New_York"
    assert len(body["cases"]) == 3
    assert {p["name"] for p in body["penalties"]} >= {"overtime", "surgeon_idle", "room_idle", "moved_case"}
    for room in {c["room_id"] for c in body["cases"]}:
        orders = sorted(c["order"] for c in body["cases"] if c["room_id"] == room)
        assert orders == list(range(1, len(orders) + 1))
    assert _audits(app, "plan.sequence") == 1


def test_applying_needs_plan_write_and_a_reason_and_is_audited(client: TestClient, app: App) -> None:
    applying = {**PROPOSE, "apply": True, "reason": "morning huddle"}
    assert _post(client, app, "operations_viewer", applying).status_code == 403
    no_reason = _post(client, app, "perioperative_coordinator", {**PROPOSE, "apply": True})
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    resp = _post(client, app, "perioperative_coordinator", applying)
    assert resp.status_code == 200, resp.text
    assert resp.json()["applied"]["refused"] == []
    assert _audits(app, "plan.sequence.apply") == 1
    again = _post(client, app, "perioperative_coordinator", PROPOSE).json()
    assert [c for c in again["cases"] if c["moved"]] == []


def test_bad_input_is_a_problem_and_writes_nothing(client: TestClient, app: App) -> None:
    for body, status in (({**PROPOSE, "date": "2026-13-01"}, 422), ({**PROPOSE, "time_limit": 0}, 422),
                         ({**PROPOSE, "site_id": "site-nowhere"}, 404), ({**PROPOSE, "surprise": 1}, 422)):
        resp = _post(client, app, "perioperative_coordinator", body)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert _audits(app, "plan.sequence") == 0
