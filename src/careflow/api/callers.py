"""Who is calling, as far as middleware can tell before authentication runs.

Middleware runs before the route's dependencies resolve the caller into an actor, so it
verifies the bearer token itself (tens of microseconds) and names the caller by a hash of
the token's subject: a user keeps one idempotency scope and one rate budget across token
renewals. A token that does not verify is named by a hash of the ``Authorization`` header,
a request without one by a hash of the client address. Hashes, so neither a subject, a
token nor an address is stored or logged.
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Scope

from careflow.adapters.security.tokens import InvalidToken
from careflow.api.security import security_of

__all__ = ["caller_scope"]


def _verified_subject(scope: Scope, authorization: str) -> str | None:
    """The subject of a bearer token that verifies (signature, expiry, issuer, audience),
    else None: only a verified subject may name a caller, or a forged token could borrow
    another caller's scope."""
    scheme, _, token = authorization.partition(" ")
    app = scope.get("app")
    if scheme.lower() != "bearer" or not token.strip() or app is None:
        return None
    if getattr(app.state, "careflow", None) is None:
        return None
    request = Request(scope)
    try:
        claims = security_of(request).verifier.verify(token.strip())
    except InvalidToken:
        return None
    request.state.verified = (token.strip(), claims)  # the route's authentication reuses it
    return claims.subject


def caller_scope(scope: Scope) -> str:
    """``sub:<sha256 of the verified token's subject>`` (one scope per user, across token
    renewals), else ``auth:<sha256 of the Authorization header>``, else
    ``addr:<sha256 of the client host>``."""
    authorization = Headers(scope=scope).get("authorization")
    if authorization:
        subject = _verified_subject(scope, authorization)
        if subject is not None:
            return "sub:" + hashlib.sha256(subject.encode()).hexdigest()
        return "auth:" + hashlib.sha256(authorization.encode("latin-1")).hexdigest()
    client = scope.get("client")
    host = client[0] if client else "unknown"
    return "addr:" + hashlib.sha256(host.encode()).hexdigest()
