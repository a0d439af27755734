"""Per-client rate limits: 429 problem+json with ``Retry-After`` once a client has used its
requests for the minute.

A client is ``callers.caller_scope``: its bearer token (a hash of the Authorization
header), else its address. Every route counts against ``rate_limit_per_minute`` (a fixed
window: one counter per client, the cheapest check on the hot path), except that
``POST /api/v1/token`` has its own, tighter ``rate_limit_token_per_minute`` (a moving
window, exact, so a password guesser cannot burst at a window's edge). ``/health`` is
exempt, for load balancers and probes.

Counters live in this process (``limits``' memory storage), or in Redis when
``redis_url`` is set, so that several API processes share them. When Redis cannot be
reached the request is let through and the failure logged: a limiter outage must not
become an API outage. Every counted response carries ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careflow.api.callers import caller_scope
from careflow.api.refusals import refusal
from careflow.config import Settings

__all__ = ["EXEMPT", "TOKEN_PATH", "RateLimit"]

log = logging.getLogger("careflow.api")
EXEMPT = frozenset({"/health"})
TOKEN_PATH = "/api/v1/token"


@dataclass(frozen=True)
class _Limits:
    general: RateLimitItem
    token: RateLimitItem
    fixed: RateLimiter
    moving: RateLimiter

    @classmethod
    def of(cls, settings: Settings) -> _Limits:
        storage: Storage = (RedisStorage("async+" + settings.redis_url, implementation="redispy")
                            if settings.redis_url else MemoryStorage())
        return cls(RateLimitItemPerMinute(settings.rate_limit_per_minute, namespace="careflow"),
                   RateLimitItemPerMinute(settings.rate_limit_token_per_minute, namespace="careflow-token"),
                   FixedWindowRateLimiter(storage), MovingWindowRateLimiter(storage))


class RateLimit:
    """The middleware; its limits come from the app's settings at the first request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limits: _Limits | None = None

    def _of(self, scope: Scope) -> _Limits | None:
        if self._limits is None:
            careflow = getattr(scope["app"].state, "careflow", None)
            if careflow is None:
                return None
            self._limits = _Limits.of(careflow.settings)
        return self._limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self._of(scope) if scope["type"] == "http" and scope["path"] not in EXEMPT else None
        if limits is None:
            await self.app(scope, receive, send)
            return
        if scope["path"] == TOKEN_PATH and scope["method"] == "POST":
            item, limiter = limits.token, limits.moving
        else:
            item, limiter = limits.general, limits.fixed
        who = caller_scope(scope)
        try:
            allowed = await limiter.hit(item, who)
            stats = await limiter.get_window_stats(item, who)
        except Exception as exc:  # fail open: the limiter's store is down
            log.warning("rate limiter unavailable (%s); request let through", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        headers = {"RateLimit-Limit": str(item.amount), "RateLimit-Remaining": str(stats.remaining),
                   "RateLimit-Reset": str(reset)}
        if not allowed:
            response = refusal(Request(scope), 429, "Too many requests",
                               f"more than {item.amount} requests a minute from this client; "
                               f"retry after {reset} s", "too-many-requests",
                               headers={**headers, "Retry-After": str(reset)})
            await response(scope, receive, send)
            return
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await self.app(scope, receive, with_headers)
