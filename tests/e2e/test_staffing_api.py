"""Staff reallocation through HTTP and the CLI, on the tiny demo: a hospital (site-h1) and
a clinic about 9 km away (site-c1), each with one Spanish interpreter on weekdays 07:00-18:00.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careflow.adapters.db.tables import audit_log
from careflow.bootstrap import App
from careflow.domain.access import SYSTEM
from careflow.domain.exceptions_queue import RaiseException
from careflow.services import reallocation
from careflow.services.exception_queue import raise_exception
from tests.auth import auth_headers

CLI = [sys.executable, "-m", "careflow.cli"]
DAY = "2026-06-02"  # a Tuesday; the clock stands at 06:00 New York time on Monday 1 June
H1_INTERP, C1_INTERP = "pool-h1-interp-es", "pool-c1-interp-es"
SURGE = {"site_id": "site-h1", "role": "interpreter", "language": "es", "start": f"{DAY}T10:00:00-04:00",
         "end": f"{DAY}T12:00:00-04:00", "units": 2, "reason": "mass-casualty drill"}


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _audits(app: App, action: str) -> int:
    assert app.engine is not None
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.action == action)).scalar_one())


def _exceptions(client: TestClient, pool: str) -> list[dict[str, Any]]:
    return list(_ok(client.get(f"/api/v1/resources/{pool}/availability/exceptions")))


def test_emergency_demand_is_covered_by_the_clinics_interpreter_and_apply_moves_her(
        client: TestClient, app: App) -> None:
    body = {"date": DAY, "site_id": "site-h1", "demands": [SURGE]}
    plan = _ok(client.post("/api/v1/staffing/emergency-demand", json=body))
    [proposal] = plan["proposals"]
    assert (proposal["source_pool_id"], proposal["target_pool_id"]) == (C1_INTERP, H1_INTERP)
    assert proposal["units"] == 1
    assert proposal["start"] == "2026-06-02T14:00:00+00:00" and proposal["end"] == "2026-06-02T16:00:00+00:00"
    assert 5 < proposal["travel_km"] < 15 and proposal["leave_at"] == "2026-06-02T13:45:00+00:00"
    assert any("emergency" in c and "mass-casualty drill" in c for c in plan["shortages"][0]["causes"])
    assert (plan["short_units"], plan["covered_units"]) == (1, 1)
    ten = next(r for r in plan["rows"]
               if r["pool_type"] == "interpreter:es" and r["hour"].startswith(f"{DAY}T14"))
    assert (ten["on_duty"], ten["demand"], ten["short"]) == (1, 2, 1)

    # Applying it: a closure on the clinic's pool from 09:45, an extra session at the hospital
    before = len(_exceptions(client, C1_INTERP))
    applied = _ok(client.post("/api/v1/staffing/reallocation/apply",
                              json={"proposal": proposal, "reason": "drill"}))
    assert applied["id"] == proposal["id"] and applied["units"] == 1
    closing = _exceptions(client, C1_INTERP)[-1]
    assert (closing["kind"], closing["capacity_delta"]) == ("closure", 1)
    assert closing["start"].startswith("2026-06-02T13:45") and proposal["id"] in closing["reason"]
    extra = _exceptions(client, H1_INTERP)[-1]
    assert (extra["kind"], extra["capacity_delta"]) == ("extra", 1)
    assert _ok(client.get(f"/api/v1/resources/{H1_INTERP}"))["capacity"] == 2  # the second lane exists
    assert _audits(app, "staffing.reallocate") == 2

    # The same move again: the clinic has nobody spare any more (409, nothing written)
    again = client.post("/api/v1/staffing/reallocation/apply", json={"proposal": proposal})
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert "no longer there" in again.json()["detail"]
    assert len(_exceptions(client, C1_INTERP)) == before + 1 and _audits(app, "staffing.reallocate") == 2

    # And the surge is now covered at the hospital itself
    after = _ok(client.post("/api/v1/staffing/emergency-demand", json=body))
    assert after["proposals"] == [] and after["short_units"] == 0


def test_a_call_out_after_booking_shows_as_short_coverage(client: TestClient) -> None:
    # bk-demo-000005 holds a pre-op nurse 07:20-08:35 on 2 June; both call out 07:00-09:00
    callout = {"start": f"{DAY}T11:00:00+00:00", "end": f"{DAY}T13:00:00+00:00", "kind": "call_out",
               "capacity_delta": 2, "reason": "both pre-op nurses out"}
    _ok(client.post("/api/v1/resources/pool-h1-preop/availability/exceptions", json=callout), 201)
    plan = _ok(client.get("/api/v1/staffing/reallocation", params={"date": DAY, "site_id": "site-h1"}))
    short = [s for s in plan["shortages"] if s["pool_id"] == "pool-h1-preop"]
    assert [(s["start"], s["end"], s["units"], s["covered"]) for s in short] == [
        ("2026-06-02T11:00:00Z", "2026-06-02T13:00:00Z", 1, 0)]  # whole hours; no other pre-op pool
    assert "more booked than on duty" in short[0]["causes"][0]
    seven = next(r for r in plan["rows"]
                 if r["pool_type"] == "preop-nurse" and r["hour"] == "2026-06-02T11:00:00Z")
    assert (seven["on_duty"], seven["booked"], seven["short"], seven["surplus"]) == (0, 1, 1, 0)
    assert {r["site_id"] for r in plan["rows"]} == {"site-h1"}


def test_a_cancellation_that_frees_an_interpreter_raises_one_staffing_exception(
        client: TestClient, app: App) -> None:
    find = {"service_id": "svc-ortho-new", "patient_id": "pat-00002", "site_ids": ["site-h1"],
            "earliest": f"{DAY}T10:00:00-04:00", "latest": f"{DAY}T15:00:00-04:00"}
    option = _ok(client.post("/api/v1/availability/find", json=find))["options"][0]
    interp = next(a for a in option["allocations"] if a["resource_id"] == H1_INTERP)
    booking = _ok(client.post("/api/v1/bookings", json={"option": option}), 201)["id"]
    # the clinic asks the queue for two interpreters while the visit is on (it has one)
    shortage = {"kind": "staff_shortage", "role": "interpreter", "language": "es", "units": 2,
                "start": interp["start"], "end": interp["end"]}
    _ok(client.post("/api/v1/exceptions", json={
        "category": "staffing", "owner_team": "clinic_ops", "summary": "walk-in surge needs interpreters",
        "case_id": "surge-1", "site_id": "site-c1", "alternatives": [shortage]}), 201)
    assert app.events is not None
    asyncio.run(app.events.tick())
    office = {"team": "staffing_office", "category": "staffing"}
    assert _ok(client.get("/api/v1/exceptions", params=office))["total"] == 0  # nobody spare yet

    _ok(client.post(f"/api/v1/bookings/{booking}/cancel", json={"reason": "patient asked"}))
    asyncio.run(app.events.tick())
    [item] = _ok(client.get("/api/v1/exceptions", params=office))["items"]
    assert item["booking_id"] == booking and item["site_id"] == "site-c1" and item["priority"] == "high"
    move = item["alternatives"][0]
    assert (move["source_pool_id"], move["target_pool_id"], move["freed_units"]) == (H1_INTERP, C1_INTERP, 1)
    # for the clock hours around the visit (staff move for whole hours)
    assert move["start"] <= interp["start"].replace("Z", "+00:00") < interp["end"].replace("Z", "+00:00") \
        <= move["end"]
    assert move["start"][14:19] == move["end"][14:19] == "00:00"

    # once per event: the handler run again (a redelivery past the inbox) adds nothing
    handler = reallocation.staffing_handler(
        reallocation.ReallocationDeps(app.deps.uow, app.deps.catalogs, app.deps.clock), "BookingCancelled")
    with app.deps.uow(write=True) as uow:
        handler({"aggregate_id": booking}, uow)
        uow.commit()
    assert _ok(client.get("/api/v1/exceptions", params=office))["total"] == 1


def test_bad_input_is_refused_naming_the_field(client: TestClient, app: App) -> None:
    backwards = {**SURGE, "end": SURGE["start"], "start": SURGE["end"]}
    resp = client.post("/api/v1/staffing/emergency-demand", json={"date": DAY, "demands": [backwards]})
    assert resp.status_code == 422 and "end" in resp.json()["field"]
    resp = client.post("/api/v1/staffing/emergency-demand",
                       json={"date": DAY, "demands": [{**SURGE, "site_id": "site-nowhere"}]})
    assert resp.status_code == 422 and resp.json()["field"] == "demands.0.site_id"
    resp = client.get("/api/v1/staffing/reallocation", params={"date": "2031-01-01"})
    assert resp.status_code == 422 and resp.json()["field"] == "date"
    assert client.get("/api/v1/staffing/reallocation", params={"date": "June"}).status_code == 422
    assert client.get("/api/v1/staffing/reallocation",
                      params={"date": DAY, "site_id": "site-nowhere"}).status_code == 404
    not_a_pool = {"source_pool_id": "or-h1-01", "target_pool_id": H1_INTERP, "units": 1,
                  "start": SURGE["start"], "end": SURGE["end"]}
    resp = client.post("/api/v1/staffing/reallocation/apply", json={"proposal": not_a_pool})
    assert resp.status_code in (404, 422) and resp.headers["content-type"].startswith("application/problem")
    wrong_role = {**not_a_pool, "source_pool_id": "pool-h1-anesthesia"}
    resp = client.post("/api/v1/staffing/reallocation/apply", json={"proposal": wrong_role})
    assert resp.status_code == 422 and resp.json()["field"] == "source_pool_id"
    # a scheduler may look but not move staff
    scheduler = auth_headers(app, "scheduler")
    looked = client.get("/api/v1/staffing/reallocation", params={"date": DAY}, headers=scheduler)
    assert looked.status_code == 200
    move = {**not_a_pool, "source_pool_id": C1_INTERP}
    assert client.post("/api/v1/staffing/reallocation/apply", json={"proposal": move},
                       headers=scheduler).status_code == 403
    assert _audits(app, "staffing.reallocate") == 0


def test_cli_prints_the_moves_and_refuses_a_bad_date(seeded_db: str, app: App) -> None:
    """The CLI runs on the real clock: the day is a Tuesday a week or two from today."""
    env = {**os.environ, "CAREFLOW_DATABASE_URL": seeded_db, "COLUMNS": "250"}  # no wrapped cells
    day = date.today() + timedelta(days=7)
    day += timedelta(days=(1 - day.weekday()) % 7)
    ny = ZoneInfo("America/New_York")
    start, end = (datetime.combine(day, time(h), tzinfo=ny) for h in (10, 12))
    ask = {"kind": "staff_shortage", "role": "interpreter", "language": "es", "units": 2,
           "start": start.isoformat(), "end": end.isoformat()}
    surge = RaiseException("staffing", "emergency", "urgent", "ED surge", case_id="ed-2", site_id="site-h1",
                           alternatives=(ask,))
    raise_exception(surge, SYSTEM, app.deps.uow, app.deps.clock)
    done = subprocess.run([*CLI, "staffing", "reallocation", "--date", day.isoformat(), "--site", "site-h1"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert C1_INTERP in done.stdout and "10:00-12:00" in done.stdout and "09:45" in done.stdout
    assert "1 move(s)" in done.stdout
    bad = subprocess.run([*CLI, "staffing", "reallocation", "--date", "tuesday"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "--date" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
