"""The notification listing through HTTP: what the bootstrapped notifier sent (the file
channel by default, beside the database), filtered and paged; message bodies only for
callers with patient.read; site limits; stuck 'sending' rows flagged; reads audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from careflow.adapters.db.tables import audit_log
from careflow.bootstrap import App
from careflow.services.ports import Notification
from tests.auth import auth_headers
from tests.e2e.conftest import NOW
from tests.fakes import FixedClock

DEMO_BOOKING = "bk-demo-000001"  # the tiny demo's bookings are all at site-h1


def send(app: App, key: str, booking_id: str | None, topic: str = "booking.rescheduled",
         audience: str = "patient", recipient: str = "pt-demo") -> None:
    assert app.notifier.notify(Notification(key, audience, recipient, topic, f"Subject {key}",
                                            f"Synthetic body {key}", booking_id=booking_id,
                                            data={"booking_id": booking_id})) is True


def seed(app: App, clock: FixedClock) -> None:
    send(app, "n1", DEMO_BOOKING)
    clock.advance(minutes=1)
    send(app, "n2", None, "case.implant_short", "team", "procurement")
    clock.advance(minutes=1)
    send(app, "n3", "bk-elsewhere", "waitlist.offer")


def keys(resp_json: dict[str, object]) -> list[str]:
    return [item["key"] for item in resp_json["items"]]  # type: ignore[attr-defined, index]


def test_the_default_notifier_writes_json_lines_beside_the_database(app: App, clock: FixedClock,
                                                                    seeded_db: str) -> None:
    seed(app, clock)
    path = Path(seeded_db.removeprefix("sqlite:///")).with_name("notifications.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(d["key"], d["subject"]) for d in lines] == [("n1", "Subject n1"), ("n2", "Subject n2"),
                                                           ("n3", "Subject n3")]
    again = Notification("n1", "patient", "pt-demo", "booking.rescheduled", "s", "b")
    assert app.notifier.notify(again) is False
    assert len(path.read_text().splitlines()) == 3


def test_an_admin_lists_newest_first_with_filters_and_messages(client: TestClient, app: App,
                                                              clock: FixedClock) -> None:
    seed(app, clock)
    page = client.get("/api/v1/notifications").json()
    assert keys(page) == ["n3", "n2", "n1"] and page["total"] == 3
    first = page["items"][2]
    assert (first["status"], first["channels"], first["attempts"], first["stuck"]) == (
        "sent", {"file": "sent"}, 1, False)
    assert (first["subject"], first["body"], first["data"]) == (
        "Subject n1", "Synthetic body n1", {"booking_id": DEMO_BOOKING})
    assert keys(client.get("/api/v1/notifications", params={"booking_id": DEMO_BOOKING}).json()) == ["n1"]
    assert keys(client.get("/api/v1/notifications", params={"topic": "waitlist.offer"}).json()) == ["n3"]
    assert keys(client.get("/api/v1/notifications", params={"status": "failed"}).json()) == []
    paged = client.get("/api/v1/notifications", params={"offset": 1, "limit": 1}).json()
    assert (keys(paged), paged["total"], paged["offset"], paged["limit"]) == (["n2"], 3, 1, 1)


def test_a_caller_without_patient_read_sees_no_message(client: TestClient, app: App,
                                                       clock: FixedClock) -> None:
    seed(app, clock)
    resp = client.get("/api/v1/notifications", headers=auth_headers(app, "operations_viewer"))
    assert resp.status_code == 200
    items = resp.json()["items"]
    assert len(items) == 3
    assert all(i["subject"] is None and i["body"] is None and i["data"] is None for i in items)
    assert "Synthetic body" not in resp.text
    assert client.get("/api/v1/notifications", headers=auth_headers(app, "rule_author")).status_code == 403


def test_a_site_limited_caller_sees_their_sites_bookings_and_none_else(client: TestClient, app: App,
                                                                      clock: FixedClock) -> None:
    seed(app, clock)
    h1 = auth_headers(app, "scheduler", sites=["site-h1"])
    c1 = auth_headers(app, "scheduler", sites=["site-c1"])
    assert keys(client.get("/api/v1/notifications", headers=h1).json()) == ["n2", "n1"]
    assert keys(client.get("/api/v1/notifications", headers=c1).json()) == ["n2"]


def test_a_row_left_sending_long_ago_is_flagged_stuck(client: TestClient, app: App) -> None:
    log = app.notification_log
    log.claim(Notification("crashed", "patient", "pt-demo", "booking.cancelled", "s", "b"),
              NOW - timedelta(hours=1))
    log.claim(Notification("in-flight", "patient", "pt-demo", "booking.cancelled", "s", "b"), NOW)
    items = client.get("/api/v1/notifications", params={"status": "sending"}).json()["items"]
    assert {i["key"]: i["stuck"] for i in items} == {"crashed": True, "in-flight": False}


def test_bad_filters_are_422_problems_naming_the_field(client: TestClient) -> None:
    for params, field in (({"status": "lost"}, "status"), ({"topic": "a b"}, "topic"),
                          ({"limit": 0}, "limit"), ({"booking_id": "x\x01"}, "booking_id")):
        resp = client.get("/api/v1/notifications", params=params)
        assert resp.status_code == 422, params
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert field in resp.text


def test_the_listing_is_audited_with_ids_only(client: TestClient, app: App, clock: FixedClock) -> None:
    seed(app, clock)
    client.get("/api/v1/notifications", params={"booking_id": DEMO_BOOKING})
    with app.engine.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.action == "notification.search")).one()
    assert (row.entity_type, row.entity_id, row.detail["keys"]) == ("booking", DEMO_BOOKING, ["n1"])
    assert "Synthetic" not in json.dumps(row.detail)
