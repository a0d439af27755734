"""Refusals answered by middleware (idempotency, rate limits), in the dialect of the path.

Middleware runs outside FastAPI's exception handlers (and outside the FHIR routes' own
error handling), so it builds its responses itself: RFC 9457 problem+json on the REST
API, a FHIR ``OperationOutcome`` under ``/fhir/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from careflow.api.errors import problem
from careflow.api.fhir.errors import outcome_response

__all__ = ["FHIR_PREFIX", "refusal"]

FHIR_PREFIX = "/fhir/"
# OperationOutcome.issue.code (the FHIR issue-type value set) for the statuses refused here.
_ISSUE_CODES = {409: "conflict", 413: "too-long", 422: "invalid", 429: "throttled"}


def refusal(request: Request, status: int, title: str, detail: str, kind: str,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """A problem+json response, or an ``OperationOutcome`` when the path is under ``/fhir/``
    (a ``field`` in ``extra`` becomes the issue's ``expression``)."""
    if not request.url.path.startswith(FHIR_PREFIX):
        return problem(status, title, detail, kind, request, headers, **extra)
    code = _ISSUE_CODES.get(status, "processing")
    issues = ([{"severity": "error", "code": code, "diagnostics": detail, "expression": [extra["field"]]}]
              if extra.get("field") else [])
    return outcome_response(status, code, detail, issues, headers)
