"""Refuse a query string with a nameless parameter (``?=x``, ``?a=1&=2``) on the REST API.

Such a parameter is never meaningful; accepting it silently would let a malformed client
believe a filter was applied. The answer is a 422 problem naming the query, before any
route runs. FHIR paths keep FHIR's own handling of parameters.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from careflow.api.errors import problem

__all__ = ["QueryNames"]


class QueryNames:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith("/api/"):
            raw = scope.get("query_string", b"").decode("latin-1")
            if raw and any(not name for name, _ in parse_qsl(raw, keep_blank_values=True)):
                response = problem(422, "Invalid request", "a query parameter has no name",
                                   "invalid-request", Request(scope), field="query")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
