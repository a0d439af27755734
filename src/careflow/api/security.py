"""Who is calling: bearer tokens to actors, and the audit of what they may not do.

Every route but ``/health``, ``/api/v1/token`` and the API documentation takes
``ActorDep``, which verifies the bearer token (api/deps.py). The verified actor is kept on
``request.state.actor`` so the error handlers can audit a denial under the right name.
Break-glass elevations are looked up per request with a short per-process cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from careflow.adapters.security import break_glass, users
from careflow.adapters.security.tokens import InvalidToken, TokenIssuer, TokenVerifier
from careflow.bootstrap import App
from careflow.domain.access import Actor
from careflow.domain.errors import Unauthenticated
from careflow.services.ports import AuditEntry

__all__ = ["Security", "actor_from_request", "audit", "audit_read", "audit_refusal", "security_of"]

_ELEVATION_TTL = 2.0  # seconds a user's break-glass or disabled status is reused in one process


@dataclass
class Security:
    """The process's token verifier and issuer, and a small cache of elevation lookups."""

    verifier: TokenVerifier
    issuer: TokenIssuer | None
    _elevations: dict[str, tuple[float, bool]] = field(default_factory=dict)
    _disabled: dict[str, tuple[float, bool]] = field(default_factory=dict)

    @classmethod
    def for_app(cls, app: App) -> Security:
        settings = app.settings
        issuer = None if settings.jwks_url else TokenIssuer.from_settings(settings)
        return cls(TokenVerifier.from_settings(settings), issuer)

    def elevated(self, app: App, user_id: str) -> bool:
        def look_up() -> bool:
            return app.engine is not None and break_glass.active_elevation(
                app.engine, user_id, app.deps.clock()) is not None

        return _cached(self._elevations, user_id, look_up)

    def forget(self, user_id: str) -> None:
        self._elevations.pop(user_id, None)
        self._disabled.pop(user_id, None)

    def disabled(self, app: App, user_id: str) -> bool:
        """Whether a local user was disabled (``careflow users disable``): their tokens stop
        working within seconds, not at expiry. Subjects that are not local users (an
        identity provider's) are the provider's to disable."""
        engine = app.engine
        if self.issuer is None or engine is None:
            return False

        def look_up() -> bool:
            user = users.get_user(engine, user_id)
            return user is not None and not user.active

        return _cached(self._disabled, user_id, look_up)


def _cached(cache: dict[str, tuple[float, bool]], user_id: str, look_up: Callable[[], bool]) -> bool:
    """``look_up()`` for ``user_id``, reused for ``_ELEVATION_TTL`` seconds in this process."""
    now = time.monotonic()
    hit = cache.get(user_id)
    if hit is not None and now - hit[0] < _ELEVATION_TTL:
        return hit[1]
    value = look_up()
    if len(cache) > 10_000:
        cache.clear()
    cache[user_id] = (now, value)
    return value


def security_of(request: Request) -> Security:
    state = request.app.state
    sec: Security | None = getattr(state, "security", None)
    if sec is None:
        sec = Security.for_app(state.careflow)
        state.security = sec
    return sec


def actor_from_request(request: Request) -> Actor:
    """The verified actor of this request (401 ``Unauthenticated`` when there is none)."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    sec = security_of(request)
    verified = getattr(request.state, "verified", None)  # by the middleware, for this token
    if verified is not None and verified[0] == token.strip():
        claims = verified[1]
    else:
        try:
            claims = sec.verifier.verify(token.strip())
        except InvalidToken as exc:
            raise Unauthenticated(str(exc)) from exc
    app: App = request.app.state.careflow
    if sec.disabled(app, claims.subject):
        raise Unauthenticated("this user has been disabled")
    actor = Actor(claims.subject, claims.roles, claims.scopes, claims.sites,
                  break_glass=sec.elevated(app, claims.subject))
    request.state.actor = actor
    return actor


def _entity(request: Request) -> tuple[str, str]:
    """What a request is about, from its path: ``/api/v1/bookings/b-1`` → (bookings, b-1)."""
    parts = [p for p in request.url.path.split("/") if p]
    if parts[:2] == ["api", "v1"] or parts[:2] == ["fhir", "r4"]:
        parts = parts[2:]
    kind = parts[0] if parts else ""
    ident = parts[1] if len(parts) > 1 else ""
    return kind[:64], ident[:128]


def audit(app: App, entries: list[AuditEntry]) -> None:
    """Write audit entries in their own transaction (reads and denials have no other)."""
    if not entries:
        return
    with app.deps.uow(write=True) as uow:
        for entry in entries:
            uow.audit(entry)
        uow.commit()


def audit_read(app: App, actor: Actor, action: str, entity_type: str, entity_id: str,
               **detail: Any) -> None:
    """A read of patient-linked data, in its own write transaction (ids only, never PHI)."""
    audit(app, [AuditEntry(actor.id, action, entity_type, entity_id, "ok", detail=detail)])


def audit_refusal(request: Request, status: int, reason: str, permission: str = "") -> None:
    """Audit a 401 or 403: who (or ``anonymous``), which route, why."""
    app: App | None = getattr(request.app.state, "careflow", None)
    if app is None:
        return
    actor: Actor | None = getattr(request.state, "actor", None)
    kind, ident = _entity(request)
    detail: dict[str, Any] = {"method": request.method, "path": request.url.path[:300], "status": status}
    if permission:
        detail["permission"] = permission
    outcome = "denied" if status == 403 else "unauthenticated"
    audit(app, [AuditEntry(actor=actor.id if actor else "anonymous", action=f"{request.method.lower()}",
                           entity_type=kind or "api", entity_id=ident, outcome=outcome,
                           reason=reason[:300], detail=detail)])
