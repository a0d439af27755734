"""Structured JSON access logs: one line per request with ids only, never bodies (no PHI)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response

__all__ = ["configure_logging", "install_access_log"]

# A caller's X-Request-ID is echoed only when it looks like an id: anything else (control
# characters, kilobytes of text) would be copied into the response and every log line.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def configure_logging(level: str = "info") -> None:
    """Log lines on stderr at ``level``, for the server process (the access log's lines are
    JSON already). Without it, as in tests, info lines stay quiet."""
    logging.basicConfig(format="%(message)s", level=level.upper())


def _json_logger(name: str) -> Any:
    """A structlog logger rendering JSON into the standard-library logger ``name``."""
    return structlog.wrap_logger(
        logging.getLogger(name), wrapper_class=structlog.stdlib.BoundLogger,
        processors=[structlog.stdlib.filter_by_level, structlog.stdlib.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer()])


def install_access_log(app: FastAPI) -> None:
    """Log method, route template, status and duration; echo or issue an X-Request-ID."""
    log = _json_logger("careflow.access")

    @app.middleware("http")
    async def access(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        response.headers["X-Request-ID"] = request_id
        log.info("request", method=request.method, route=template, status=response.status_code,
                 ms=round((time.perf_counter() - began) * 1000, 1), request_id=request_id)
        return response
