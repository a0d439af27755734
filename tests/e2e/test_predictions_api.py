"""Predictions through HTTP on the tiny demo: durations, demand, no-show risk, the overbooking
policy and advice, and the executable path that opens overbooks as bookable capacity.

The clinic (site-c1) has one clinician, clin-ortho-02, on Mondays 13:00-17:00 local: a
session of six 40-minute new-patient visits. The tests fill the session on Monday 1 June
through the ordinary booking API ten days ahead (the clock set back) and score it with the
deterministic fake predictor.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from careflow.adapters.db.tables import audit_log
from careflow.api.app import create_app
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.predict.fake import FakeNoShowPredictor
from careflow.services.dispatch import drain
from tests.auth import auth_headers
from tests.fakes import FixedClock

SESSION_DAY = "2026-06-01"
SESSION = {"earliest": "2026-06-01T13:00:00-04:00", "latest": "2026-06-01T17:00:00-04:00"}
CLINICIAN = "clin-ortho-02"
POLICY = "/api/v1/sites/site-c1/overbooking-policy"


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _options(client: TestClient, patient: str) -> list[dict[str, Any]]:
    body = {"service_id": "svc-ortho-new", "patient_id": patient, "site_ids": ["site-c1"], **SESSION}
    return list(_ok(client.post("/api/v1/availability/find", json=body))["options"])


def _fill_session(client: TestClient, clock: FixedClock) -> list[str]:
    """Book the Monday session full ten days ahead, one patient per slot; the booking ids."""
    now = clock()
    clock.set(now - timedelta(days=10))
    patients = [p["id"] for p in _ok(client.get("/api/v1/patients", params={"limit": 100}))["items"]]
    booked: list[str] = []
    for patient in patients:
        options = _options(client, patient)
        if not options:
            break
        booked.append(_ok(client.post("/api/v1/bookings", json={"option": options[0]}), 201)["id"])
    clock.set(now)
    assert len(booked) == 6, booked
    return booked


@pytest.fixture
def faked(app: App) -> App:
    """The app scoring no-shows with the fake predictor (the operator's model stands in), in the
    deps the routes and the engine's event handler share."""
    object.__setattr__(app.predictions, "noshow", FakeNoShowPredictor())
    return app


def _policy(client: TestClient, **value: Any) -> dict[str, Any]:
    body = {"mode": "advisory", "max_per_session": 2, "risk_tolerance": 0.3, "reason": "clinic committee",
            **value}
    return dict(_ok(client.put(POLICY, json=body)))


def test_a_full_session_gets_explained_overbooking_advice_capped_by_the_policy(
        client: TestClient, faked: App, clock: FixedClock) -> None:
    booked = _fill_session(client, clock)
    _policy(client)
    report = _ok(client.get("/api/v1/predictions/overbooking", params={"site_id": "site-c1",
                                                                       "date": SESSION_DAY}))
    assert report["mode"] == "advisory" and report["predictor"] == "noshow-fake-1"
    [session] = report["sessions"]
    assert (session["clinician_id"], session["capacity"], session["booked"]) == (CLINICIAN, 6, 6)
    assert session["extra"] >= 1 and session["bound"] in ("risk", "max_per_session")
    assert session["overflow_risk"] <= 0.3
    assert {d["booking_id"] for d in session["drivers"]} <= set(booked)
    assert session["drivers"][0]["booking_id"] in session["explanation"]
    _policy(client, max_per_session=0)
    capped = _ok(client.get("/api/v1/predictions/overbooking", params={"site_id": "site-c1",
                                                                       "date": SESSION_DAY}))["sessions"][0]
    assert (capped["extra"], capped["bound"]) == (0, "max_per_session")
    _policy(client, clinicians_opted_out=[CLINICIAN])
    opted = _ok(client.get("/api/v1/predictions/overbooking", params={"site_id": "site-c1",
                                                                      "date": SESSION_DAY}))["sessions"][0]
    assert (opted["extra"], opted["bound"]) == (0, "opted_out")


def test_advice_is_only_shown_at_an_advisory_site_and_applied_at_an_executable_one(
        client: TestClient, faked: App, clock: FixedClock) -> None:
    _fill_session(client, clock)
    assert faked.events is not None  # the engine sees these bookings while the site is advisory
    assert sum(r.failed for r in drain(faked.events.dispatcher, faked.events.outbox)) == 0
    assert _options(client, "pat-00020") == []  # full: nothing left in the session
    _policy(client)
    refused = client.post("/api/v1/predictions/overbooking/apply", json={"site_id": "site-c1",
                                                                         "date": SESSION_DAY})
    assert refused.status_code == 409 and "advisory" in refused.json()["detail"]
    assert _options(client, "pat-00020") == []
    policy = _policy(client, mode="executable", reason="pilot of executable overbooking")
    assert policy["mode"] == "executable" and policy["version"] == 2
    [applied] = _ok(client.post("/api/v1/predictions/overbooking/apply",
                                json={"site_id": "site-c1", "date": SESSION_DAY, "reason": "pilot"}))
    assert applied["clinician_id"] == CLINICIAN and applied["lanes_before"] == 0 and applied["lanes"] >= 1
    extra = [e for e in _ok(client.get(f"/api/v1/resources/{CLINICIAN}/availability/exceptions"))
             if e["kind"] == "extra"]
    assert len(extra) == 1 and applied["advice_id"] in extra[0]["reason"]
    # the overbook is then booked through the ordinary booking API, every check still applied
    [first, *_] = _options(client, "pat-00020")
    overbook = _ok(client.post("/api/v1/bookings", json={"option": first}), 201)
    assert any(a["resource_id"] == CLINICIAN for a in overbook["allocations"])
    again = _ok(client.post("/api/v1/predictions/overbooking/apply", json={"site_id": "site-c1",
                                                                           "date": SESSION_DAY}))
    assert all(a["lanes"] >= 1 for a in again)  # never below the overbook already booked
    with faked.engine.connect() as conn:
        audits = conn.execute(select(audit_log.c.reason)
                              .where(audit_log.c.action == "overbooking.apply")).all()
    assert applied["advice_id"] in audits[0][0]


def test_the_policy_is_versioned_refuses_bad_values_and_needs_predict_configure(
        client: TestClient, app: App) -> None:
    default = _ok(client.get(POLICY))
    assert (default["mode"], default["version"]) == ("advisory", 0)
    _policy(client)
    stale = client.put(POLICY, json={"mode": "executable", "reason": "x", "expected_version": 0})
    assert stale.status_code == 409
    for bad in ({"mode": "always"}, {"max_per_session": 99}, {"risk_tolerance": 2},
                {"clinicians_opted_out": ["exam-c1-01"]}, {"reason": ""}):
        resp = client.put(POLICY, json={"mode": "advisory", "reason": "r", **bad})
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert _ok(client.get(POLICY))["version"] == 1
    scheduler = auth_headers(app, "scheduler")
    assert client.get(POLICY, headers=scheduler).status_code == 200
    assert client.put(POLICY, json={"reason": "mine now"}, headers=scheduler).status_code == 403
    assert client.get("/api/v1/sites/nowhere/overbooking-policy").status_code == 404


def test_no_show_risk_is_explained_audited_and_hidden_from_other_sites(
        client: TestClient, faked: App, clock: FixedClock) -> None:
    booking = _fill_session(client, clock)[0]
    risk = _ok(client.get(f"/api/v1/bookings/{booking}/no-show-risk"))
    assert 0 < risk["probability"] < 1 and risk["predictor"] == "noshow-fake-1"
    assert any(name == "lead_days" for name, _ in risk["reasons"])
    with faked.engine.connect() as conn:
        read = conn.execute(select(audit_log.c.entity_id)
                            .where(audit_log.c.action == "prediction.no_show")).all()
    assert [r[0] for r in read] == [booking]
    elsewhere = auth_headers(faked, "scheduler", sites=["site-h1"])
    assert client.get(f"/api/v1/bookings/{booking}/no-show-risk", headers=elsewhere).status_code == 404
    viewer = auth_headers(faked, "operations_viewer")  # predict.read without patient.read
    assert client.get(f"/api/v1/bookings/{booking}/no-show-risk", headers=viewer).status_code == 403


def test_without_a_model_the_site_rate_is_used_and_too_little_history_declines(
        client: TestClient, clock: FixedClock) -> None:
    _fill_session(client, clock)
    report = _ok(client.get("/api/v1/predictions/overbooking", params={"site_id": "site-c1",
                                                                       "date": SESSION_DAY}))
    assert report["predictor"].startswith("observed-rate:site-c1:0/0")
    assert "finished appointments" in report["declined"]
    assert report["sessions"][0]["extra"] == 0 and report["sessions"][0]["bound"] == "predictor"


def test_durations_come_from_fulfilled_cases_and_fall_back_to_the_card(
        client: TestClient, app: App, clock: FixedClock) -> None:
    card = _ok(client.get("/api/v1/predictions/durations", params={"service_id": "svc-tka"}))
    [procedure] = card["estimates"]
    assert (procedure["basis"], procedure["p50_minutes"]) == ("card", 110)
    assert procedure["suggested_minutes"] == 110
    tka = [b for b in _ok(client.get("/api/v1/bookings", params={"limit": 100}))["items"]
           if b["service_id"] == "svc-tka"]
    clock.advance(days=12)
    for b in tka:
        _ok(client.post(f"/api/v1/bookings/{b['id']}/arrive"))
        _ok(client.post(f"/api/v1/bookings/{b['id']}/fulfil"))
    found = _ok(client.get("/api/v1/predictions/durations", params={"service_id": "svc-tka"}))["estimates"]
    assert found[0]["procedure_cases"] == len(tka) and found[0]["surgeon_id"] is None
    assert {e["surgeon_id"] for e in found[1:]} <= {"clin-ortho-01", "clin-ortho-02"}
    assert all(e["p80_minutes"] >= e["p50_minutes"] for e in found)
    one = _ok(client.get("/api/v1/predictions/durations", params={"service_id": "svc-tka",
                                                                  "surgeon_id": "clin-ortho-01"}))
    assert len(one["estimates"]) == 1 and "card books 110 min" in one["estimates"][0]["explanation"]
    advice = _ok(client.get(f"/api/v1/bookings/{tka[0]['id']}/duration-advice"))
    assert advice["booked_minutes"] == 110 and advice["covers_p80"] is True
    assert advice["estimate"]["surgeon_id"] in ("clin-ortho-01", "clin-ortho-02")
    assert client.get("/api/v1/predictions/durations", params={"service_id": "svc-nope"}).status_code == 404
    assert client.get("/api/v1/predictions/durations", params={"service_id": "svc-tka",
                                                               "surgeon_id": "exam-c1-01"}).status_code == 404


def test_demand_forecasts_the_demo_volume_with_staffing_per_shift(
        client: TestClient, clock: FixedClock) -> None:
    clock.advance(days=14)  # the demo's two weeks of bookings become history
    out = _ok(client.get("/api/v1/predictions/demand", params={"site_id": "site-h1",
                                                               "specialty": "general_surgery", "days": 7}))
    assert len(out["days"]) == 7 and all(d["lower"] <= d["upper"] for d in out["days"])
    assert out["method"] == "poisson" and out["service_mix"] == {"svc-lap-chole": 1.0}
    assert out["history_days"] == 14  # from the first booking: earlier days are no data, not no demand
    assert 0.5 < out["weekly_growth"] < 2
    roles = {r["role"] for r in out["staffing"]}
    assert "surgeon" in roles and "anesthesia" in roles
    assert all(r["hours_upper"] >= r["hours"] for r in out["staffing"])
    bad = client.get("/api/v1/predictions/demand", params={"site_id": "site-h1", "specialty": "astrology"})
    assert bad.status_code == 422 and bad.json()["field"] == "specialty"
    assert client.get("/api/v1/predictions/demand", params={"site_id": "site-h1", "specialty": "orthopedics",
                                                            "days": 0}).status_code == 422



def test_a_configured_model_that_cannot_be_loaded_is_named_and_overbooks_nothing(
        seeded_db: str, tmp_path: Path, clock: FixedClock) -> None:
    broken = tmp_path / "model.json"
    broken.write_text('{"format": "careflow.noshow/1", "integrity": "sha256:0"}')
    app = bootstrap(load_settings(database_url=seeded_db, environment="test", noshow_model=str(broken)),
                    clock=clock)
    try:
        with TestClient(create_app(app), raise_server_exceptions=False, headers=auth_headers(app)) as client:
            _fill_session(client, clock)
            report = _ok(client.get("/api/v1/predictions/overbooking", params={"site_id": "site-c1",
                                                                               "date": SESSION_DAY}))
    finally:
        app.dispose()
    assert report["predictor"].startswith("observed-rate:")
    assert "configured no-show model was not loaded" in report["declined"]
    assert "integrity" in report["declined"]
    assert report["sessions"][0]["extra"] == 0


@pytest.mark.slow  # trains a small LightGBM model (about 4 s)
def test_the_operators_model_file_scores_the_session_when_configured(
        seeded_db: str, tmp_path: Path, clock: FixedClock) -> None:
    from careflow.predict.noshow_data import prepare
    from careflow.predict.noshow_file import save_model
    from careflow.predict.noshow_governance import train
    from tests.noshow import synthetic_appointments

    path = tmp_path / "model.json"
    save_model(train(prepare(synthetic_appointments(rows=3000, days=10, seed=5)), "synthetic.csv", threads=1),
               path)
    app = bootstrap(load_settings(database_url=seeded_db, environment="test", noshow_model=str(path)),
                    clock=clock)
    try:
        with TestClient(create_app(app), raise_server_exceptions=False, headers=auth_headers(app)) as client:
            booking = _fill_session(client, clock)[0]
            report = _ok(client.get("/api/v1/predictions/overbooking", params={"site_id": "site-c1",
                                                                               "date": SESSION_DAY}))
            risk = _ok(client.get(f"/api/v1/bookings/{booking}/no-show-risk"))
    finally:
        app.dispose()
    assert report["predictor"].startswith("noshow-") and report["declined"] is None
    assert risk["predictor"] == report["predictor"] and 0 < risk["probability"] < 1
    assert risk["reasons"], "the model explains itself"
    session = report["sessions"][0]
    assert session["drivers"] and session["drivers"][0]["reasons"]


def test_at_an_executable_site_the_engine_applies_the_advice_as_clinic_bookings_are_confirmed(
        client: TestClient, faked: App, clock: FixedClock) -> None:
    _fill_session(client, clock)
    _policy(client, mode="executable", reason="the engine may overbook")
    assert faked.events is not None
    reports = list(drain(faked.events.dispatcher, faked.events.outbox))  # BookingConfirmed → the engine
    assert sum(r.failed for r in reports) == 0
    extra = [e for e in _ok(client.get(f"/api/v1/resources/{CLINICIAN}/availability/exceptions"))
             if e["kind"] == "extra"]
    assert len(extra) == 1 and extra[0]["reason"].startswith("overbooking ob_")
    assert "engine: booking" in extra[0]["reason"]
    assert _options(client, "pat-00020"), "the opened overbook is bookable"
