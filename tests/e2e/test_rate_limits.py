"""Per-client rate limits through the real app: 429 problem+json with Retry-After, one
budget per client, a tighter one for the token endpoint, /health exempt, an
OperationOutcome under /fhir/, and counters shared through Redis."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from careflow.api.app import create_app
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from tests.auth import auth_headers
from tests.fakes import FixedClock

LIMIT = 5
TOKEN_LIMIT = 2


def limited(seeded_db: str, clock: FixedClock, **settings: object) -> App:
    return bootstrap(load_settings(database_url=seeded_db, environment="test", rate_limit_per_minute=LIMIT,
                                   rate_limit_token_per_minute=TOKEN_LIMIT, **settings), clock=clock)


@pytest.fixture
def small(seeded_db: str, clock: FixedClock) -> Iterator[App]:
    application = limited(seeded_db, clock)
    yield application
    application.dispose()


@pytest.fixture
def api(small: App) -> Iterator[TestClient]:
    with TestClient(create_app(small), raise_server_exceptions=False, headers=auth_headers(small)) as c:
        yield c


def test_a_client_over_its_budget_gets_429_with_retry_after(api: TestClient) -> None:
    answered = [api.get("/api/v1/sites") for _ in range(LIMIT)]
    assert [r.status_code for r in answered] == [200] * LIMIT
    assert [r.headers["ratelimit-remaining"] for r in answered] == ["4", "3", "2", "1", "0"]
    assert answered[0].headers["ratelimit-limit"] == str(LIMIT)

    refused = api.get("/api/v1/sites")

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["type"].endswith("/too-many-requests")
    assert f"more than {LIMIT} requests a minute" in refused.json()["detail"]


def test_each_client_has_its_own_budget_and_health_is_exempt(api: TestClient, small: App) -> None:
    for _ in range(LIMIT + 1):
        api.get("/api/v1/sites")
    assert api.get("/api/v1/sites").status_code == 429
    assert api.get("/health").status_code == 200
    assert "ratelimit-limit" not in api.get("/health").headers

    other = api.get("/api/v1/sites", headers=auth_headers(small, "scheduler"))
    anonymous = api.get("/api/v1/sites", headers={"Authorization": ""})

    assert other.status_code == 200
    assert anonymous.status_code == 401  # counted by address, and not over budget


def test_the_token_endpoint_has_a_tighter_budget(api: TestClient) -> None:
    guesses = [api.post("/api/v1/token", json={"username": "admin", "password": f"guess-{i}"},
                        headers={"Authorization": ""}) for i in range(TOKEN_LIMIT + 1)]

    assert all(r.status_code != 429 for r in guesses[:TOKEN_LIMIT])
    assert guesses[-1].status_code == 429
    assert guesses[-1].headers["ratelimit-limit"] == str(TOKEN_LIMIT)
    assert api.get("/api/v1/sites", headers={"Authorization": ""}).status_code == 401  # other budget


def test_fhir_refusals_are_operation_outcomes(api: TestClient) -> None:
    for _ in range(LIMIT):
        api.get("/fhir/r4/metadata")

    refused = api.get("/fhir/r4/metadata")

    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/fhir+json")
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert refused.json()["issue"][0]["code"] == "throttled"
    assert "retry-after" in refused.headers


@pytest.fixture
def redis_url() -> str:
    """A Redis database for this test (keys are prefixed per test); fails under CI=true
    when Redis is not reachable, skips otherwise."""
    url = os.environ.get("CAREFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis not reachable at {url}: {exc}")
        pytest.skip(f"Redis not reachable at {url}")
    return url


def test_two_api_processes_share_one_budget_through_redis(
        seeded_db: str, clock: FixedClock, redis_url: str) -> None:
    apps = [limited(seeded_db, clock, redis_url=redis_url) for _ in range(2)]
    # A fresh subject per run, so earlier runs' counters in Redis do not count.
    headers = auth_headers(apps[0], "admin", subject=f"u-{uuid.uuid4().hex}")
    try:
        with TestClient(create_app(apps[0]), headers=headers) as one, \
                TestClient(create_app(apps[1]), headers=headers) as two:
            codes = [(one if i % 2 else two).get("/api/v1/sites").status_code for i in range(LIMIT + 1)]
    finally:
        for application in apps:
            application.dispose()

    assert codes == [200] * LIMIT + [429]
