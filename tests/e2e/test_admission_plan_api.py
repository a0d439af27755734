"""The admission plan and the planning weights through HTTP and the command line, on the tiny
demo: site-h1 has two operating rooms (one with laminar flow), two surgical beds and a
ward-nurse pool; knee replacements (svc-tka) need laminar flow and a surgical bed for 48 h."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from careflow.adapters.db.case_store import cases_of
from careflow.bootstrap import App
from careflow.domain.bookings import Urgency
from careflow.domain.surgical_cases import CaseRequest, CaseStatus, SurgicalCase
from tests.auth import auth_headers
from tests.e2e.conftest import NOW
from tests.e2e.test_cli import assert_one_line_exit_2, in_process

WEIGHTS = "/api/v1/sites/site-h1/planning-weights"
PLAN = "/api/v1/planning/admission-plan"
START = (NOW + timedelta(days=7)).date()  # the demo's bookings thin out after its first week


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    return body


def _cases(app: App, *patients: str, urgency: Urgency = Urgency.ROUTINE) -> None:
    earliest = datetime.combine(START, datetime.min.time(), tzinfo=UTC)
    with app.deps.uow(write=True) as uow:
        store = cases_of(uow)
        for i, patient in enumerate(patients):
            request = CaseRequest(f"clin-ortho-0{1 + i % 2}", "svc-tka", patient, earliest,
                                  earliest + timedelta(days=12), urgency, ("site-h1",))
            store.add(SurgicalCase(f"case-{patient}", request, CaseStatus.REQUESTED, "coordinator", NOW, NOW))
        uow.commit()


def test_weights_start_at_the_defaults_change_with_a_reason_and_refuse_a_stale_version(
        client: TestClient) -> None:
    first = _ok(client.get(WEIGHTS))
    assert (first["version"], first["reason"]) == (0, None)
    assert first["weights"]["ElectiveUnscheduledPatients"] == 350
    body = {"weights": {"PatientDelay": 20}, "reason": "the waiting list is long", "expected_version": 0}
    changed = _ok(client.put(WEIGHTS, json=body))
    assert (changed["version"], changed["weights"]["PatientDelay"], changed["reason"]) == (
        1, 20, "the waiting list is long")
    stale = _problem(client.put(WEIGHTS, json={**body, "weights": {"PatientDelay": 1}}), 409)
    assert "version 1, not 0" in stale["detail"]
    assert _ok(client.get(WEIGHTS))["weights"]["PatientDelay"] == 20


BAD_WEIGHTS = [({"weights": {"Delay": 3}, "reason": "typo"}, "weights.Delay"),
               ({"weights": {"PatientDelay": -3}, "reason": "negative"}, "weights.PatientDelay"),
               ({"weights": {"PatientDelay": 3}}, "reason"),
               ({"weights": {"PatientDelay": 3}, "reason": "x", "extra": 1}, "extra")]


def test_bad_weights_are_refused_as_problem_json_naming_the_field_and_nothing_changes(
        client: TestClient) -> None:
    for body, field in BAD_WEIGHTS:
        assert _problem(client.put(WEIGHTS, json=body), 422)["field"] == field
    assert _ok(client.get(WEIGHTS))["version"] == 0


def test_weights_of_an_unknown_site_are_not_found(client: TestClient) -> None:
    _problem(client.get("/api/v1/sites/nowhere/planning-weights"), 404)
    _problem(client.put("/api/v1/sites/nowhere/planning-weights",
                        json={"weights": {"PatientDelay": 3}, "reason": "x"}), 404)


def test_a_bed_manager_reads_the_weights_but_may_not_change_them(client: TestClient, app: App) -> None:
    headers = auth_headers(app, "bed_manager")
    _ok(client.get(WEIGHTS, headers=headers))
    refused = _problem(client.put(WEIGHTS, json={"weights": {}, "reason": "x"}, headers=headers), 403)
    assert refused["permission"] == "plan.configure"


@pytest.mark.serial
def test_the_plan_of_the_tiny_demo_books_nothing_and_has_no_hard_violation(client: TestClient,
                                                                            app: App) -> None:
    _cases(app, "pat-00001", "pat-00002", "pat-00003")
    _ok(client.put(WEIGHTS, json={"weights": {"PatientDelay": 40}, "reason": "operate soon"}))
    plan = _ok(client.post(PLAN, json={"site_id": "site-h1", "start": START.isoformat(), "days": 7,
                                       "time_limit": 1}))
    assert plan["hard_violations"] == 0 and plan["weights"]["PatientDelay"] == 40
    planned = {c["case_id"]: c for c in plan["planned"]}
    assert set(planned) | {u["case_id"] for u in plan["unplanned"]} == {
        "case-pat-00001", "case-pat-00002", "case-pat-00003"}
    assert planned, plan["unplanned"]
    assert all(c["operating_room_id"] == "or-h1-01" for c in planned.values())  # the laminar-flow room
    assert all(c["bed_id"] in ("bed-h1-surg-001", "bed-h1-surg-002") for c in planned.values())
    assert plan["coverage"] and all(n["nurse_id"].startswith("pool-h1-ward-surg/") for n in plan["coverage"])
    assert plan["total_cost"] == sum(plan["costs"].values())
    assert plan["repeatable"]  # a tiny plan in deterministic mode: the second request gives the same
    again = _ok(client.post(PLAN, json={"site_id": "site-h1", "start": START.isoformat(), "days": 7,
                                        "time_limit": 1}))
    assert again["planned"] == plan["planned"] and again["coverage"] == plan["coverage"]
    with app.deps.uow() as uow:
        assert all(c.status == CaseStatus.REQUESTED for c in cases_of(uow).find(None, None, 0, 10)[0])


BAD_PLANS = [({"site_id": "site-h1", "start": "2026-06-08", "days": 0}, 422, "days"),
             ({"site_id": "site-h1", "start": "next monday"}, 422, "start"),
             ({"site_id": "site-h1", "start": "2026-06-08", "time_limit": 9999}, 422, "time_limit"),
             ({"site_id": "nowhere", "start": "2026-06-08", "time_limit": 0.5}, 404, None)]


def test_a_bad_plan_request_is_problem_json(client: TestClient) -> None:
    for body, status, field in BAD_PLANS:
        assert _problem(client.post(PLAN, json=body), status).get("field") == field


def test_the_command_line_shows_sets_and_plans(seeded_db: str, app: App,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _cases(app, "pat-00004", urgency=Urgency.URGENT)
    changed = in_process(capsys, "plan", "weights", "set", "--site", "site-h1", "SurgeonTransfer=3",
                         "PatientDelay=12", "--reason", "committee", "--db", seeded_db)
    assert changed.returncode == 0 and "SurgeonTransfer" in changed.stdout
    shown = in_process(capsys, "plan", "weights", "show", "--site", "site-h1", "--json", "--db", seeded_db)
    assert '"SurgeonTransfer": 3' in shown.stdout and '"version": 1' in shown.stdout
    horizon = ("--site", "site-h1", "--start", START.isoformat(), "--days", "5", "--time-limit", "1")
    table = in_process(capsys, "plan", "admissions", *horizon, "--db", seeded_db)
    assert table.returncode == 0, table.stderr
    assert "1 case(s) planned" in table.stdout and "hard violations: 0" in table.stdout
    assert "PatientDelay" in table.stdout and "SurgeonTransfer" in table.stdout
    doc = json.loads(in_process(capsys, "plan", "admissions", *horizon, "--json", "--db", seeded_db).stdout)
    assert [c["case_id"] for c in doc["planned"]] == ["case-pat-00004"]
    assert (doc["hard_violations"], doc["weights"]["SurgeonTransfer"]) == (0, 3)


PLAN_CMD = ("plan", "admissions", "--site")
SET_CMD = ("plan", "weights", "set", "--site", "site-h1")
BAD_COMMANDS = [((*PLAN_CMD, "site-h1", "--start", "soon"), "--start"),
                ((*PLAN_CMD, "site-h1", "--start", "2026-06-08", "--days", "40"), "days"),
                ((*PLAN_CMD, "nowhere", "--start", "2026-06-08"), "nowhere"),
                ((*SET_CMD, "Delay=3", "--reason", "typo"), "Delay"),
                ((*SET_CMD, "PatientDelay=x", "--reason", "typo"), "PatientDelay"),
                ((*SET_CMD, "PatientDelay=3"), "--reason")]


def test_bad_command_line_input_is_one_line_and_exit_2(seeded_db: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in BAD_COMMANDS:
        assert_one_line_exit_2(in_process(capsys, *args, "--db", seeded_db), message)
