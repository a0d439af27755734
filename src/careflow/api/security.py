"""Who is calling: bearer tokens to actors, and the audit of what they may not do.

Every route but ``/health``, ``/api/v1/token`` and the API documentation takes
``ActorDep``, which verifies the bearer token (api/deps.py). The verified actor is kept on
``request.state.actor`` so the error handlers can audit a denial under the right name.
Break-glass elevations are looked up per request with a short per-process cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from careflow.adapters.security import break_glass, users
from careflow.adapters.security.tokens import InvalidToken, TokenIssuer, TokenVerifier
from careflow.bootstrap import App
from careflow.domain.access import Actor
from careflow.domain.errors import Unauthenticated
from careflow.services.ports import AuditEntry

__all__ = ["Security", "actor_from_request", "audit", "security_of"]

_ELEVATION_TTL = 2.0  # seconds a break-glass lookup is reused within one process


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
        now = time.monotonic()
        cached = self._elevations.get(user_id)
        if cached is not None and now - cached[0] < _ELEVATION_TTL:
            return cached[1]
        active = app.engine is not None and break_glass.active_elevation(
            app.engine, user_id, app.deps.clock()) is not None
        if len(self._elevations) > 10_000:
            self._elevations.clear()
        self._elevations[user_id] = (now, active)
        return active

    def forget(self, user_id: str) -> None:
        self._elevations.pop(user_id, None)
        self._disabled.pop(user_id, None)

    def disabled(self, app: App, user_id: str) -> bool:
        """Whether a local user was disabled (``careflow users disable``): their tokens stop
        working within seconds, not at expiry. Subjects that are not local users (an
        identity provider's) are the provider's to disable."""
        if self.issuer is None or app.engine is None:
            return False
        now = time.monotonic()
        cached = self._disabled.get(user_id)
        if cached is not None and now - cached[0] < _ELEVATION_TTL:
            return cached[1]
        user = users.get_user(app.engine, user_id)
        off = user is not None and not user.active
        if len(self._disabled) > 10_000:
            self._disabled.clear()
        self._disabled[user_id] = (now, off)
        return off


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
