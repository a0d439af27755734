"""Idempotency-Key through the real app: replays, reuse with another body, per-caller
scopes, 5xx not stored, a key in progress, and one effect from concurrent retries on
SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient

from careflow import demo
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.api.app import create_app
from careflow.api.idempotency import Idempotency
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from tests.auth import auth_headers
from tests.concurrency import at_once
from tests.e2e.conftest import ANCHOR
from tests.e2e.test_booking_api import first_bookable
from tests.fakes import FixedClock

PROBLEM = "application/problem+json"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def bookings_of(client: TestClient, patient_id: str) -> int:
    return int(client.get("/api/v1/bookings", params={"patient_id": patient_id, "limit": 1}).json()["total"])


def test_the_same_key_and_body_replays_the_first_response_with_one_effect(client: TestClient) -> None:
    _, found = first_bookable(client)
    option = found["options"][0]
    before = bookings_of(client, option["patient_id"])

    first = client.post("/api/v1/holds", json={"option": option}, headers=key("hold-1"))
    again = client.post("/api/v1/holds", json={"option": option}, headers=key("hold-1"))

    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert bookings_of(client, option["patient_id"]) == before + 1


def test_a_refusal_is_replayed_too(client: TestClient) -> None:
    _, found = first_bookable(client)
    option = found["options"][0]
    assert client.post("/api/v1/bookings", json={"option": option}).status_code == 201

    first = client.post("/api/v1/bookings", json={"option": option}, headers=key("taken"))
    again = client.post("/api/v1/bookings", json={"option": option}, headers=key("taken"))

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_a_422_naming_the_header(client: TestClient) -> None:
    _, found = first_bookable(client)
    option = found["options"][0]
    assert client.post("/api/v1/holds", json={"option": option}, headers=key("k")).status_code == 201
    before = bookings_of(client, option["patient_id"])

    reused = client.post("/api/v1/holds", json={"option": option, "hold_minutes": 5}, headers=key("k"))
    elsewhere = client.post("/api/v1/bookings", json={"option": option}, headers=key("k"))

    for response in (reused, elsewhere):
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["field"] == "Idempotency-Key"
        assert "another request" in response.json()["detail"]
    assert bookings_of(client, option["patient_id"]) == before


@pytest.mark.parametrize("bad", ["", "x" * 256, "tab\there", "bell\x07"])
def test_a_malformed_key_is_a_422_naming_the_header(client: TestClient, bad: str) -> None:
    response = client.post("/api/v1/bookings/check", json={}, headers=key(bad))

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == "Idempotency-Key"


def test_keys_are_scoped_per_caller(client: TestClient, app: App) -> None:
    _, found = first_bookable(client)
    option = found["options"][0]
    mine = client.post("/api/v1/bookings/check", json={"option": option}, headers=key("shared"))
    other = {**auth_headers(app, "scheduler"), **key("shared")}

    theirs = client.post("/api/v1/bookings/check", json={"option": {**option, "urgency": "urgent"}},
                         headers=other)

    assert mine.status_code == theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers


def test_a_renewed_token_of_the_same_user_keeps_its_keys_and_a_forged_one_does_not(
        client: TestClient, app: App) -> None:
    _, found = first_bookable(client)
    option = found["options"][0]
    first_token = auth_headers(app, "scheduler", subject="sam")
    renewed = auth_headers(app, "scheduler", subject="sam", scopes="user/*.* user/Appointment.read")
    assert renewed != first_token
    first = client.post("/api/v1/holds", json={"option": option}, headers={**first_token, **key("k-sam")})
    again = client.post("/api/v1/holds", json={"option": option}, headers={**renewed, **key("k-sam")})
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content

    forged = {"Authorization": first_token["Authorization"][:-4] + "AAAA", **key("k-sam")}
    refused = client.post("/api/v1/holds", json={"option": option}, headers=forged)
    assert refused.status_code == 401
    assert "idempotent-replayed" not in refused.headers


@pytest.fixture
def extra(app: App) -> Iterator[tuple[TestClient, FastAPI, dict[str, Any]]]:
    """The app with two routes added after the fact (as another engineer's would be): one
    answering 201 with Location and ETag (a 500 while ``failing``), one that blocks until
    released; the key-in-progress wait is shortened."""
    api = create_app(app)
    state: dict[str, Any] = {"calls": 0, "started": threading.Event(), "release": threading.Event()}

    @api.post("/api/v1/widgets", status_code=201)
    def create_widget(response: Response) -> dict[str, Any]:
        state["calls"] += 1
        response.headers["Location"] = f"/api/v1/widgets/w{state['calls']}"
        response.headers["ETag"] = f'"v{state["calls"]}"'
        if state.get("failing"):
            raise RuntimeError("boom")
        return {"id": f"w{state['calls']}"}

    @api.post("/api/v1/slow")
    def slow() -> dict[str, str]:
        state["started"].set()
        state["release"].wait(10)
        return {"done": "yes"}

    for middleware in api.user_middleware:
        if middleware.cls is Idempotency:
            middleware.kwargs["wait_seconds"] = 0.3
    with TestClient(api, raise_server_exceptions=False, headers=auth_headers(app)) as c:
        yield c, api, state


def test_a_later_route_replays_location_and_etag(extra: tuple[TestClient, FastAPI, dict[str, Any]]) -> None:
    client, _, state = extra
    first = client.post("/api/v1/widgets", json={"n": 1}, headers=key("w"))
    again = client.post("/api/v1/widgets", json={"n": 1}, headers=key("w"))

    assert first.status_code == again.status_code == 201
    assert (again.headers["location"], again.headers["etag"]) == ("/api/v1/widgets/w1", '"v1"')
    assert again.json() == {"id": "w1"}
    assert state["calls"] == 1


def test_a_5xx_is_not_stored_so_a_retry_runs_again(extra: tuple[TestClient, FastAPI, dict[str, Any]]) -> None:
    client, _, state = extra
    state["failing"] = True
    failed = client.post("/api/v1/widgets", json={"n": 1}, headers=key("retry-me"))
    state["failing"] = False
    retried = client.post("/api/v1/widgets", json={"n": 1}, headers=key("retry-me"))

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert state["calls"] == 2


def test_a_key_still_in_progress_is_a_409_after_a_bounded_wait(
        extra: tuple[TestClient, FastAPI, dict[str, Any]]) -> None:
    client, _, state = extra
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(
        client.post("/api/v1/slow", json={}, headers=key("slow")).status_code))
    first.start()
    try:
        assert state["started"].wait(10)  # the first request holds the key and runs
        busy = client.post("/api/v1/slow", json={}, headers=key("slow"))
        assert busy.status_code == 409
        assert busy.headers["content-type"] == PROBLEM
        assert "in progress" in busy.json()["detail"]
        assert busy.json()["field"] == "Idempotency-Key"
    finally:
        state["release"].set()
        first.join(10)
    assert results == [200]
    replay = client.post("/api/v1/slow", json={}, headers=key("slow"))
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (200, "true")


def concurrent_retries(client: TestClient, threads: int = 8) -> None:
    """``threads`` clients send one booking with one key at once: every one gets the same
    201 (one ran, the others waited and replayed it) and the patient gains one booking."""
    _, found = first_bookable(client)
    option = found["options"][0]
    before = bookings_of(client, option["patient_id"])
    def send() -> Any:
        return client.post("/api/v1/bookings", json={"option": option}, headers=key("same-click"))

    responses, errors = at_once([send] * threads, timeout=60)
    assert errors == []
    assert [r.status_code for r in responses] == [201] * threads, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == threads - 1
    assert bookings_of(client, option["patient_id"]) == before + 1


def test_concurrent_requests_with_one_key_have_one_effect_on_sqlite(client: TestClient) -> None:
    concurrent_retries(client)


@pytest.mark.postgres
def test_concurrent_requests_with_one_key_have_one_effect_on_postgres(
        postgres_url: str, clock: FixedClock) -> None:
    migrate(postgres_url)
    engine = make_engine(postgres_url)
    load_health_system(engine, demo.build("tiny", seed=7, anchor=ANCHOR), replace=True)
    engine.dispose()
    application = bootstrap(load_settings(database_url=postgres_url, environment="test"), clock=clock)
    try:
        with TestClient(create_app(application), raise_server_exceptions=False,
                        headers=auth_headers(application)) as client:
            concurrent_retries(client)
    finally:
        application.dispose()
