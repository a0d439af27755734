"""Reported events through the API, and what careflow does about them: re-coordination
of the bookings a call-out, downtime, stock count or payer decision breaks, and freed
slots offered to the waitlist. The served app's own sweeper delivers the events."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careflow.adapters.db.tables import audit_log, outbox
from careflow.bootstrap import App
from tests.auth import auth_headers
from tests.e2e.conftest import NOW

ORTHO_VISIT = "svc-ortho-new"
SURGEON_1, SURGEON_2 = "clin-ortho-01", "clin-ortho-02"


def book_visit(client: TestClient, patient: str, clinician: str, start: datetime,
               service: str = ORTHO_VISIT) -> dict[str, Any]:
    """Book the first option with ``clinician`` starting at or after ``start``."""
    found = client.post("/api/v1/availability/find", json={
        "service_id": service, "patient_id": patient, "earliest": start.isoformat(),
        "latest": (start + timedelta(hours=10)).isoformat(), "preferred_clinician_ids": [clinician],
        "limit": 50}).json()
    option = next(o for o in found["options"]
                  if any(a["resource_id"] == clinician for a in o["allocations"]))
    booked = client.post("/api/v1/bookings", json={"option": option})
    assert booked.status_code == 201, booked.text
    return dict(booked.json())


def wait_for_run(client: TestClient, subject: str, count: int = 1, seconds: float = 15.0) -> dict[str, Any]:
    """The newest finished re-coordination run about ``subject`` (the server's sweeper,
    woken by the report, carries it out)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = client.get("/api/v1/recoordination/runs", params={"subject": subject}).json()
        done = [r for r in runs["items"] if r["finished_at"]]
        if len(done) >= count:
            return dict(client.get(f"/api/v1/recoordination/runs/{done[0]['event_id']}").json())
        time.sleep(0.05)
    raise AssertionError(f"no finished run about {subject} within {seconds} s")


def outcome_of(run: dict[str, Any], booking_id: str) -> dict[str, Any]:
    return dict(next(o for o in run["outcomes"] if o["booking_id"] == booking_id))


def allocated(client: TestClient, booking_id: str) -> set[str]:
    return {a["resource_id"] for a in client.get(f"/api/v1/bookings/{booking_id}").json()["allocations"]}


def test_a_call_out_moves_the_visit_to_the_other_surgeon_and_tells_the_patient(
        client: TestClient, app: App) -> None:
    day = NOW + timedelta(days=3)
    booking = book_visit(client, "pat-00007", SURGEON_1, day.replace(hour=9))
    start = datetime.fromisoformat(booking["start"])
    reported = client.post("/api/v1/events/ClinicianCalledOut", json={
        "resource_id": SURGEON_1, "start": (start - timedelta(hours=1)).isoformat(),
        "end": (start + timedelta(hours=8)).isoformat(), "reason": "sick", "source": "hr-test",
        "reference": "HR-1"})
    assert reported.status_code == 202, reported.text
    assert reported.json()["aggregate_id"] == SURGEON_1

    run = wait_for_run(client, SURGEON_1)
    mine = outcome_of(run, booking["id"])
    assert mine["result"] == "auto_resolved", mine
    assert mine["codes"], "the outcome names the violations that broke the booking"
    now_on = allocated(client, booking["id"])
    assert SURGEON_1 not in now_on and SURGEON_2 in now_on
    moved = client.get(f"/api/v1/bookings/{booking['id']}").json()
    assert moved["status"] == "booked"
    assert datetime.fromisoformat(moved["start"]).date() == start.date()  # same day, by policy
    notified = client.get("/api/v1/notifications", params={"booking_id": booking["id"]}).json()["items"]
    assert [n["topic"] for n in notified] in (["booking.changed"], ["booking.rescheduled"])
    # the call-out is part of the surgeon's availability now: find no longer offers that time
    found = client.post("/api/v1/availability/find", json={
        "service_id": ORTHO_VISIT, "patient_id": "pat-00008", "earliest": start.isoformat(),
        "latest": (start + timedelta(hours=1)).isoformat(), "limit": 50}).json()
    assert all(SURGEON_1 not in {a["resource_id"] for a in o["allocations"]} for o in found["options"])
    with app.engine.connect() as conn:
        audited = conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == "resource.event.ClinicianCalledOut")).scalar_one()
    assert audited == 1


def test_short_notice_goes_to_the_queue_with_ranked_alternatives(client: TestClient) -> None:
    booking = book_visit(client, "pat-00009", SURGEON_1, NOW + timedelta(hours=4))
    start = datetime.fromisoformat(booking["start"])
    assert client.post("/api/v1/events/ClinicianCalledOut", json={
        "resource_id": SURGEON_1, "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat()}).status_code == 202
    mine = outcome_of(wait_for_run(client, SURGEON_1), booking["id"])
    assert mine["result"] == "queued", mine
    item = client.get(f"/api/v1/exceptions/{mine['exception_id']}").json()
    assert (item["category"], item["owner_team"], item["priority"]) == (
        "recoordination", "scheduling", "urgent")
    assert item["booking_id"] == booking["id"]
    assert item["alternatives"], "the person working the item gets ranked alternatives"
    assert [a["rank"] for a in item["alternatives"]] == list(range(1, len(item["alternatives"]) + 1))
    # an alternative is an option the API takes back unchanged
    best = {k: v for k, v in item["alternatives"][0].items() if k != "why"}
    moved = client.post(f"/api/v1/bookings/{booking['id']}/reschedule",
                        json={"option": best, "reason": "taken from the queue"})
    assert moved.status_code == 200, moved.text
    assert client.get(f"/api/v1/bookings/{booking['id']}").json()["status"] == "booked"


def test_redelivery_changes_nothing(client: TestClient, app: App) -> None:
    booking = book_visit(client, "pat-00010", SURGEON_1, NOW + timedelta(days=2, hours=3))
    start = datetime.fromisoformat(booking["start"])
    client.post("/api/v1/events/ClinicianCalledOut", json={
        "resource_id": SURGEON_1, "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat()})
    first = wait_for_run(client, SURGEON_1)
    with app.engine.connect() as conn:
        event_id = conn.execute(select(outbox.c.id).where(outbox.c.type == "ClinicianCalledOut")).scalar_one()
    events = app.events.outbox.load([event_id])
    report = app.events.dispatcher.deliver(events[0])
    assert report.done == 0 and report.skipped >= 1
    runs = client.get("/api/v1/recoordination/runs", params={"subject": SURGEON_1}).json()
    assert runs["total"] == 1
    assert client.get(f"/api/v1/recoordination/runs/{first['event_id']}").json() == first


def test_bad_reports_are_refused_and_nothing_is_written(client: TestClient, app: App) -> None:
    etag = client.get(f"/api/v1/resources/{SURGEON_1}").headers["ETag"]
    with app.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    start = NOW + timedelta(days=1)
    cases: list[tuple[str, dict[str, Any], int, str | None]] = [
        ("ClinicianCalledOut", {"resource_id": "nobody", "start": start.isoformat(),
                                "end": (start + timedelta(hours=1)).isoformat()}, 404, None),
        ("ClinicianCalledOut", {"resource_id": SURGEON_1, "start": start.isoformat(),
                                "end": start.isoformat()}, 422, "end"),
        ("ClinicianCalledOut", {"resource_id": "or-h1-01", "start": start.isoformat(),
                                "end": (start + timedelta(hours=1)).isoformat()}, 422, "resource_id"),
        ("ClinicianCalledOut", {"resource_id": SURGEON_1, "start": "2026-06-02T10:00:00",
                                "end": "2026-06-02T11:00:00"}, 422, None),
        ("EquipmentWentDown", {"resource_id": SURGEON_1, "start": start.isoformat()}, 422, "resource_id"),
        ("EquipmentCameBack", {"resource_id": "eq-h1-c-arm-1", "at": start.isoformat()}, 409, None),
        ("StockChanged", {"site_id": "site-h1", "sku": "IMP-KNEE-TOTAL", "on_hand": -1}, 422, None),
        ("StockChanged", {"site_id": "site-h1", "sku": "NOPE", "on_hand": 1}, 404, None),
        ("AuthorizationChanged", {"authorization_id": "auth-00001", "status": "maybe"}, 422, None),
        ("BookingCancelled", {"booking_id": "bk_nope", "reason": "x"}, 404, None),
        ("PatientDischarged", {"bed_id": "or-h1-01", "patient_id": "pat-00001",
                               "at": start.isoformat()}, 422, "bed_id"),
        ("ReferralReceived", {"patient_id": "pat-00001", "service_id": "svc-none"}, 404, None),
        ("ClinicianCalledOut", {"resource_id": SURGEON_1, "start": start.isoformat(),
                                "end": (start + timedelta(hours=1)).isoformat(), "extra": 1}, 422, None),
    ]
    for name, body, code, field in cases:
        answer = client.post(f"/api/v1/events/{name}", json=body)
        assert answer.status_code == code, (name, body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert field in (answer.json().get("field") or str(answer.json().get("errors"))), answer.json()
    assert client.get(f"/api/v1/resources/{SURGEON_1}").headers["ETag"] == etag
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == before


def test_reporting_needs_event_ingest(app: App, client: TestClient) -> None:
    body = {"resource_id": SURGEON_1, "start": (NOW + timedelta(days=1)).isoformat(),
            "end": (NOW + timedelta(days=1, hours=1)).isoformat()}
    for role, code in (("scheduler", 403), ("auditor", 403), ("integration_client", 202)):
        answer = client.post("/api/v1/events/ClinicianCalledOut", json=body, headers=auth_headers(app, role))
        assert answer.status_code == code, (role, answer.text)


def test_equipment_down_then_back(client: TestClient) -> None:
    start = NOW + timedelta(days=1)
    down = client.post("/api/v1/events/EquipmentWentDown", json={
        "resource_id": "eq-h1-c-arm-1", "start": start.isoformat(), "reason": "tube failure"})
    assert down.status_code == 202, down.text
    assert datetime.fromisoformat(down.json()["detail"]["end"]) == start + timedelta(hours=24)
    back_at = start + timedelta(hours=5)
    back = client.post("/api/v1/events/EquipmentCameBack", json={"resource_id": "eq-h1-c-arm-1",
                                                                 "at": back_at.isoformat()})
    assert back.status_code == 202, back.text
    exceptions = client.get("/api/v1/resources/eq-h1-c-arm-1/availability").json()["exceptions"]
    mine = [e for e in exceptions if "EquipmentWentDown" in e.get("reason", "")]
    assert len(mine) == 1 and datetime.fromisoformat(mine[0]["end"]) == back_at


def test_a_stock_count_below_need_queues_the_cases_it_breaks(client: TestClient) -> None:
    tka = client.get("/api/v1/bookings", params={"status": "booked", "limit": 200}).json()["items"]
    future_tka = [b for b in tka if b["service_id"] == "svc-tka" and datetime.fromisoformat(b["start"]) > NOW]
    assert future_tka
    held = client.get("/api/v1/stock/site-h1/IMP-KNEE-TOTAL").json()
    assert held["reserved"] >= 2, held
    counted = client.post("/api/v1/events/StockChanged", json={
        "site_id": "site-h1", "sku": "IMP-KNEE-TOTAL", "on_hand": held["reserved"] - 2, "source": "erp"})
    assert counted.status_code == 202, counted.text
    assert counted.json()["detail"]["shortfall"] == 2
    # nothing new can be booked against the item; the cases already booked keep theirs
    after = client.get("/api/v1/stock/site-h1/IMP-KNEE-TOTAL").json()
    assert after["on_hand"] == after["reserved"] == held["reserved"]
    run = wait_for_run(client, "site-h1/IMP-KNEE-TOTAL")
    latest = sorted(future_tka, key=lambda b: b["start"], reverse=True)[:2]
    assert {o["booking_id"] for o in run["outcomes"]} == {b["id"] for b in latest}, run["outcomes"]
    assert {o["result"] for o in run["outcomes"]} == {"queued"}
    item = client.get(f"/api/v1/exceptions/{run['outcomes'][0]['exception_id']}").json()
    assert item["category"] == "implant_short"
    assert all(a["site_id"] != "site-h1" or datetime.fromisoformat(a["start"]) >= NOW + timedelta(days=7)
               for a in item["alternatives"])


def test_a_denied_authorization_queues_the_patients_cases(client: TestClient) -> None:
    mine = [b for b in client.get("/api/v1/bookings", params={"patient_id": "pat-00001", "status": "booked"})
            .json()["items"] if b["service_id"] == "svc-tka"]
    decided = client.post("/api/v1/events/AuthorizationChanged", json={
        "authorization_id": "auth-00001", "status": "denied", "source": "payer-gw"})
    assert decided.status_code == 202, decided.text
    run = wait_for_run(client, "auth-00001")
    assert {o["booking_id"] for o in run["outcomes"]} == {b["id"] for b in mine
                                                         if datetime.fromisoformat(b["start"]) > NOW}
    assert all(o["result"] == "queued" for o in run["outcomes"])


def test_a_cancelled_slot_is_offered_to_the_waitlist_by_priority(client: TestClient, app: App) -> None:
    booking = book_visit(client, "pat-00011", SURGEON_1, NOW + timedelta(days=3, hours=2))
    start = datetime.fromisoformat(booking["start"])
    window = {"earliest": NOW.isoformat(), "latest": (NOW + timedelta(days=10)).isoformat()}
    normal = client.post("/api/v1/waitlist", json={"patient_id": "pat-00012", "service_id": ORTHO_VISIT,
                                                   "site_ids": ["site-h1"], "priority": "normal", **window})
    urgent = client.post("/api/v1/waitlist", json={"patient_id": "pat-00013", "service_id": ORTHO_VISIT,
                                                   "priority": "urgent", **window})
    assert normal.status_code == urgent.status_code == 201, normal.text
    cancelled = client.post("/api/v1/events/BookingCancelled", json={"booking_id": booking["id"],
                                                                     "reason": "patient called the EHR"})
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"

    def entry(entry_id: str) -> dict[str, Any]:
        return dict(client.get(f"/api/v1/waitlist/{entry_id}").json())

    deadline = time.monotonic() + 15
    while entry(urgent.json()["id"])["status"] != "offered" and time.monotonic() < deadline:
        time.sleep(0.05)
    offered = entry(urgent.json()["id"])
    assert offered["status"] == "offered", offered
    assert entry(normal.json()["id"])["status"] == "waiting"
    hold = client.get(f"/api/v1/bookings/{offered['offer_booking_id']}").json()
    assert hold["status"] == "held"
    assert start <= datetime.fromisoformat(hold["start"]) < start + timedelta(hours=1)
    topics = [n["topic"] for n in client.get("/api/v1/notifications",
                                             params={"booking_id": hold["id"]}).json()["items"]]
    assert topics == ["waitlist.offer"]

    declined = client.post(f"/api/v1/waitlist/{offered['id']}/decline")
    assert declined.status_code == 200 and declined.json()["status"] == "waiting"
    deadline = time.monotonic() + 15
    while entry(normal.json()["id"])["status"] != "offered" and time.monotonic() < deadline:
        time.sleep(0.05)
    second = entry(normal.json()["id"])
    assert second["status"] == "offered", "the slot went to the next entry"
    assert entry(urgent.json()["id"])["status"] == "waiting", "never offered back to whoever declined it"
    accepted = client.post(f"/api/v1/waitlist/{second['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert client.get(f"/api/v1/bookings/{accepted.json()['booking_id']}").json()["status"] == "booked"
    assert entry(second["id"])["status"] == "booked"
    assert client.post(f"/api/v1/waitlist/{second['id']}/accept").status_code == 409


def test_waitlist_input_is_checked(client: TestClient) -> None:
    base = {"patient_id": "pat-00012", "service_id": ORTHO_VISIT, "earliest": NOW.isoformat(),
            "latest": (NOW + timedelta(days=3)).isoformat()}
    for change, code in (({"patient_id": "nobody"}, 404), ({"service_id": "svc-none"}, 404),
                         ({"latest": NOW.isoformat()}, 422), ({"priority": "asap"}, 422),
                         ({"site_ids": ["site-nowhere"]}, 404)):
        answer = client.post("/api/v1/waitlist", json=base | change)
        assert answer.status_code == code, (change, answer.text)
    assert client.get("/api/v1/waitlist").json()["total"] == 0
    assert client.get("/api/v1/waitlist/wl_nope").status_code == 404
