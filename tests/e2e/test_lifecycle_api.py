"""The booking lifecycle over HTTP: expiry, reschedule, arrival, fulfilment and no-show."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from careflow.api.app import create_app
from careflow.bootstrap import bootstrap
from careflow.config import load_settings
from tests.auth import auth_headers
from tests.e2e.conftest import NOW
from tests.e2e.test_booking_api import first_bookable
from tests.fakes import FixedClock


def book_first(client: TestClient, index: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    _, found = first_bookable(client)
    option = found["options"][index]
    booked = client.post("/api/v1/bookings", json={"option": option})
    assert booked.status_code == 201, booked.text
    return option, booked.json()


def test_booking_an_expired_hold_is_refused_with_hold_expired(client: TestClient, clock: FixedClock) -> None:
    _, found = first_bookable(client)
    hold = client.post("/api/v1/holds", json={"option": found["options"][0], "hold_minutes": 5}).json()
    clock.advance(minutes=6)
    refused = client.post("/api/v1/bookings", json={"hold_id": hold["id"]})
    assert refused.status_code == 409
    assert [v["code"] for v in refused.json()["violations"]] == ["HOLD_EXPIRED"]
    assert client.get(f"/api/v1/bookings/{hold['id']}").json()["status"] == "expired"
    again = client.post("/api/v1/bookings", json={"option": found["options"][0]})
    assert again.status_code == 201, "the expired hold's resources are free"


def test_reschedule_moves_the_booking_to_another_option(client: TestClient) -> None:
    _, found = first_bookable(client)
    first, second = found["options"][0], found["options"][1]
    booking = client.post("/api/v1/bookings", json={"option": first}).json()
    moved = client.post(f"/api/v1/bookings/{booking['id']}/reschedule",
                        json={"option": second, "reason": "patient prefers later"})
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["start"]) == datetime.fromisoformat(second["start"])
    assert moved.json()["id"] == booking["id"]
    assert client.post("/api/v1/bookings", json={"option": first}).status_code == 201, "old slot released"


def test_arrive_fulfil_and_no_show_follow_the_lifecycle(client: TestClient, clock: FixedClock) -> None:
    option, booking = book_first(client)
    early = client.post(f"/api/v1/bookings/{booking['id']}/no-show")
    assert early.status_code == 409, "no-show before the start is refused"
    assert client.post(f"/api/v1/bookings/{booking['id']}/fulfil").status_code == 409
    arrived = client.post(f"/api/v1/bookings/{booking['id']}/arrive")
    assert arrived.json()["status"] == "arrived"
    assert client.post(f"/api/v1/bookings/{booking['id']}/fulfil").json()["status"] == "fulfilled"
    _, other = book_first(client)
    clock.set(datetime.fromisoformat(other["start"]) + timedelta(minutes=15))
    assert client.post(f"/api/v1/bookings/{other['id']}/no-show").json()["status"] == "no_show"
    assert option


@pytest.fixture
def fast_sweeper(seeded_db: str, clock: FixedClock) -> Iterator[TestClient]:
    settings = load_settings(database_url=seeded_db, environment="test", sweep_seconds=0.05)
    app = bootstrap(settings, clock=clock)
    with TestClient(create_app(app), raise_server_exceptions=False, headers=auth_headers(app)) as c:
        yield c
    app.dispose()


def test_the_server_releases_expired_holds_by_itself(fast_sweeper: TestClient, clock: FixedClock) -> None:
    _, found = first_bookable(fast_sweeper)
    hold = fast_sweeper.post("/api/v1/holds", json={"option": found["options"][0]}).json()
    clock.set(NOW + timedelta(minutes=11))
    deadline = time.monotonic() + 5
    status = "held"
    while status == "held" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = fast_sweeper.get(f"/api/v1/bookings/{hold['id']}").json()["status"]
    assert status == "expired"
