"""Day-of-surgery sequencing through HTTP on the tiny demo: site-h1's two operating rooms on
Tuesday 2 June (the clock stands at 06:00 New York time on Monday 1 June)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from careflow import demo
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.tables import audit_log
from careflow.bootstrap import App
from careflow.cli.main import app as cli_app
from careflow.domain.resources import ResourceKind
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


def test_applying_what_was_reviewed_goes_through_and_a_stale_token_is_refused_writing_nothing(
        client: TestClient, app: App) -> None:
    reviewed = _post(client, app, "perioperative_coordinator", PROPOSE).json()
    assert [c for c in reviewed["cases"] if c["moved"]]  # there is something to apply
    applying = {**PROPOSE, "apply": True, "reason": "morning huddle"}
    stale = _post(client, app, "perioperative_coordinator", {**applying, "proposal_token": "0" * 16})
    assert stale.status_code == 409, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert _audits(app, "reschedule") == 0 and _audits(app, "plan.sequence.apply") == 0
    token = reviewed["proposal_token"]
    same = _post(client, app, "perioperative_coordinator", {**applying, "proposal_token": token})
    assert same.status_code == 200, same.text
    assert same.json()["proposal_token"] == token
    assert same.json()["applied"]["refused"] == []


def test_bad_input_is_a_problem_and_writes_nothing(client: TestClient, app: App) -> None:
    for body, status in (({**PROPOSE, "date": "2026-13-01"}, 422), ({**PROPOSE, "time_limit": 0}, 422),
                         ({**PROPOSE, "site_id": "site-nowhere"}, 404), ({**PROPOSE, "surprise": 1}, 422),
                         ({**PROPOSE, "apply": True, "reason": "huddle", "anesthesia_ratio": 2}, 422)):
        resp = _post(client, app, "perioperative_coordinator", body)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert _audits(app, "plan.sequence") == 0


def test_the_command_line_prints_the_plan_as_json_and_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    """The CLI runs on the real clock: the tiny demo anchored today, its first day with cases
    in site-h1's operating rooms at least two days ahead (beyond the surgeries' notice)."""
    hs = demo.build("tiny", seed=7)
    url = f"sqlite:///{tmp_path / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, hs, replace=True)
    engine.dispose()
    ors = {r.id for r in hs.resources if r.kind is ResourceKind.ROOM and r.room.room_type == "operating"}
    zone = ZoneInfo("America/New_York")
    soon = datetime.now(zone).date() + timedelta(days=2)
    days = sorted(b.start.astimezone(zone).date() for b in hs.bookings if b.site_id == "site-h1"
                  and b.active and any(a.role == "room" and a.resource_id in ors for a in b.allocations))
    day = next(d for d in days if d >= soon)
    runner = CliRunner()
    done = runner.invoke(cli_app, ["plan", "sequence", "--site", "site-h1", "--date", day.isoformat(),
                                    "--json", "--time-limit", "5", "--db", url])
    assert done.exit_code == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["status"] in ("optimal", "feasible") and plan["date"] == day.isoformat()
    assert len(plan["cases"]) == days.count(day)
    bad = runner.invoke(cli_app, ["plan", "sequence", "--site", "site-h1", "--date", "tuesday", "--db", url])
    assert bad.exit_code == 2 and "--date" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
