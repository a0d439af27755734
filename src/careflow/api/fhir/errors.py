"""Every failure under ``/fhir/r4`` as an ``OperationOutcome`` (``application/fhir+json``).

``FhirRoute`` wraps each FHIR route's handler, so whatever it raises (request validation,
careflow's errors, a 401 from the bearer token, an unexpected bug) is answered here and
never reaches the problem+json handlers of ``api/errors.py``. Denials are audited as
they are on REST. Never a stack trace: a 500 says only that it was logged.

| raised | status | issue.code |
|---|---|---|
| RequestValidationError, InvalidRequest, FhirInvalid | 422 (400 for malformed JSON) | invalid / processing |
| NotFound | 404 | not-found |
| Unauthenticated | 401 (``WWW-Authenticate``) | login |
| PermissionDenied | 403 | forbidden |
| Conflict | 409, one more issue per violation (code in ``details.coding``) | conflict |
| InvalidTransition | 409 | business-rule |
| HTTPException | its status | processing |
| anything else | 500 | exception |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import anyio.to_thread
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from careflow.adapters.fhir.wire import FHIR_JSON, FhirInvalid, operation_outcome, violation_issues
from careflow.api.security import audit_refusal
from careflow.domain.errors import (
    CareflowError,
    Conflict,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

__all__ = ["FhirResponse", "FhirRoute", "outcome_response"]

log = logging.getLogger("careflow.api")


class FhirResponse(Response):
    """A FHIR JSON body (already validated by the adapter that built it)."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def outcome_response(status: int, code: str, text: str, issues: list[dict[str, Any]] | None = None,
                     headers: Mapping[str, str] | None = None) -> FhirResponse:
    severity = "fatal" if status >= 500 else "error"
    return FhirResponse(operation_outcome(code, text, severity, issues or []), status_code=status,
                        headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path")) or "body"


def _validation(exc: RequestValidationError) -> FhirResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return outcome_response(400, "structure", f"the body is not valid JSON: {first.get('msg')}")
    issues = [{"severity": "error", "code": "invalid", "diagnostics": str(e.get("msg")),
               "expression": [_field(tuple(e.get("loc", ())))]} for e in errors[:20]]
    field = _field(tuple(first.get("loc", ())))
    return outcome_response(422, "invalid", f"{field}: {first.get('msg')}", issues)


async def _refused(request: Request, status: int, reason: str, permission: str = "") -> None:
    try:
        await anyio.to_thread.run_sync(audit_refusal, request, status, reason, permission)
    except Exception:
        log.exception("could not audit a refusal on %s %s", request.method, request.url.path)


async def _careflow(request: Request, exc: CareflowError) -> FhirResponse:
    if isinstance(exc, NotFound):
        return outcome_response(404, "not-found", str(exc))
    if isinstance(exc, InvalidRequest):
        issue = {"severity": "error", "code": "invalid", "diagnostics": exc.message,
                 "expression": [exc.field or "body"]}
        return outcome_response(422, "processing", exc.message, [issue])
    if isinstance(exc, Conflict):
        return outcome_response(409, "conflict", exc.message, violation_issues(exc.violations))
    if isinstance(exc, InvalidTransition):
        return outcome_response(409, "business-rule", str(exc))
    if isinstance(exc, PermissionDenied):
        await _refused(request, 403, str(exc), exc.permission)
        return outcome_response(403, "forbidden", str(exc))
    if isinstance(exc, Unauthenticated):
        await _refused(request, 401, str(exc))
        return outcome_response(401, "login", str(exc), headers={
            "WWW-Authenticate": 'Bearer realm="careflow", error="invalid_token"'})
    return _unexpected(request, exc)


def _unexpected(request: Request, exc: Exception) -> FhirResponse:
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
              exc_info=exc)
    return outcome_response(500, "exception", "an unexpected error occurred; it has been logged")


async def fhir_error(request: Request, exc: Exception) -> FhirResponse:
    """The OperationOutcome answering ``exc``."""
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, CareflowError):
        return await _careflow(request, exc)
    if isinstance(exc, FhirInvalid):
        return outcome_response(422, "invalid", str(exc))
    if isinstance(exc, HTTPException):
        text = str(exc.detail)
        if exc.status_code == 400:  # FastAPI's "error parsing the body": bad UTF-8, too deep, …
            return outcome_response(400, "structure", "the body could not be parsed as JSON")
        return outcome_response(exc.status_code, "not-found" if exc.status_code == 404 else "processing",
                                text, headers=exc.headers)
    return _unexpected(request, exc)


class FhirRoute(APIRoute):
    """A route whose every failure is an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return await fhir_error(request, exc)

        return fhir_handler
