"""Schemathesis against the in-process app on the tiny demo: whatever it sends, valid or
not, careflow answers per its OpenAPI schema (a documented status, problem+json errors,
bodies that match), never with a 5xx, and a refused request writes nothing.

Bounded (schemathesis' coverage phase plus 15 random cases per operation) and
derandomized, so that it is fast (~25 s) and stable; what the long runs found is pinned in
test_bad_input_fuzz.py. The long version is ``schemathesis run --checks all`` against a
served database (``careflow serve``)."""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from careflow.adapters.db.tables import outbox
from careflow.api.app import create_app
from careflow.bootstrap import App
from tests.auth import auth_headers

# The schema comes from the routes alone (no database); each test gets its own seeded app.
schema = schemathesis.openapi.from_dict(create_app().openapi())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_per_its_schema_and_never_with_a_5xx(case: schemathesis.Case,
                                                                     client: TestClient, app: App) -> None:
    before = events(app)
    response = case.call_and_validate(app=client.app, checks=CHECKS, headers=auth_headers(app))
    if response.status_code >= 400:
        assert events(app) == before, "a refused request wrote something"


def events(app: App) -> int:
    """Every state change writes its event to the outbox in the same transaction."""
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())
