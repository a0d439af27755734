"""Who is calling, as far as middleware can tell before authentication runs.

Middleware runs before the route's dependencies verify the bearer token, so it names a
caller without decoding anything: a hash of the ``Authorization`` header (one per token,
so one per subject and session), else a hash of the client address. Hashes, so neither a
token nor an address is stored or logged.
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers
from starlette.types import Scope

__all__ = ["caller_scope"]


def caller_scope(scope: Scope) -> str:
    """``auth:<sha256 of the Authorization header>`` or ``addr:<sha256 of the client host>``."""
    authorization = Headers(scope=scope).get("authorization")
    if authorization:
        return "auth:" + hashlib.sha256(authorization.encode("latin-1")).hexdigest()
    client = scope.get("client")
    host = client[0] if client else "unknown"
    return "addr:" + hashlib.sha256(host.encode()).hexdigest()
