"""Maps errors to RFC 9457 problem+json, once, at the boundary. Never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from careflow.api.schemas import ViolationOut
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

__all__ = ["install_error_handlers", "problem"]

log = logging.getLogger("careflow.api")
PROBLEM = "application/problem+json"
BASE = "https://careflow.dev/problems/"


def problem(status: int, title: str, detail: str, kind: str, request: Request | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": BASE + kind, "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return problem(422, "Malformed JSON", f"the body is not valid JSON: {first.get('msg')}",
                       "malformed-json", request, field="body")
    field = _field(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid"))
    if first.get("type") == "timezone_aware":
        msg = "must carry a UTC offset or zone (naive datetimes are refused)"
    details = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg"))} for e in errors[:20]]
    return problem(422, "Invalid request", f"{field}: {msg}", "invalid-request", request,
                   field=field, errors=details)


async def _careflow(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotFound):
        return problem(404, "Not found", str(exc), "not-found", request)
    if isinstance(exc, InvalidRequest):
        return problem(422, "Invalid request", exc.message, "invalid-request", request, field=exc.field)
    if isinstance(exc, Conflict):
        violations = [ViolationOut.of(v).model_dump() for v in exc.violations]
        return problem(409, "Conflict", exc.message, "conflict", request, violations=violations)
    if isinstance(exc, InvalidTransition):
        return problem(409, "Invalid transition", str(exc), "invalid-transition", request)
    if isinstance(exc, PermissionDenied):
        await _audit_refusal(request, 403, str(exc), exc.permission)
        return problem(403, "Forbidden", str(exc), "forbidden", request, permission=exc.permission)
    if isinstance(exc, Unauthenticated):
        await _audit_refusal(request, 401, str(exc))
        return problem(401, "Unauthorized", str(exc), "unauthorized", request,
                       headers={"WWW-Authenticate": 'Bearer realm="careflow", error="invalid_token"'})
    return await _unexpected(request, exc)


async def _audit_refusal(request: Request, status: int, reason: str, permission: str = "") -> None:
    """Every denial is audited; a failure to audit is logged, never shown to the caller."""
    try:
        await anyio.to_thread.run_sync(audit_refusal, request, status, reason, permission)
    except Exception:
        log.exception("could not audit a refusal on %s %s", request.method, request.url.path)


def _undecodable(cause: BaseException | None) -> str:
    """Why FastAPI could not parse a body that json.loads choked on (not a JSONDecodeError)."""
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "the body is nested too deeply"
    if isinstance(cause, ValueError):  # e.g. an integer of more than 4300 digits
        return f"the body is not valid JSON: {cause}"
    return "the body could not be parsed"


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI answers 400 "There was an error parsing the body" for what json.loads raises
        # besides JSONDecodeError (bad UTF-8, too deep, too many digits): malformed JSON too.
        return problem(422, "Malformed JSON", _undecodable(exc.__cause__), "malformed-json", request,
                       field="body")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
    titles = {404: "Not found", 405: "Method not allowed", 413: "Content too large"}
    title = titles.get(exc.status_code, "Error")
    return problem(exc.status_code, title, str(exc.detail), title.lower().replace(" ", "-"), request,
                   headers=headers, field="body" if exc.status_code == 413 else None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
              exc_info=exc)
    return problem(500, "Internal error", "an unexpected error occurred; it has been logged",
                   "internal", request)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(CareflowError, _careflow)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
