"""Bearer tokens: issued for local users (HS256, with a secret generated at first run and
kept beside the database) or issued by an identity provider (RS256, keys from its JWKS).

A token carries ``sub`` (the user id), ``roles``, ``scope`` (space-separated SMART-style
scopes) and optionally ``sites``. Verification pins the algorithm list, and checks
signature, expiry, issuer and audience; ``alg=none`` and an HS256 token signed with an
RS256 public key are refused by the pinned list.
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from careflow.config import Settings
from careflow.domain.access import ROLES

__all__ = [
    "DEFAULT_SCOPE",
    "Claims",
    "InvalidToken",
    "TokenIssuer",
    "TokenVerifier",
    "load_or_create_secret",
    "secret_path",
]

DEFAULT_SCOPE = "user/*.*"
_LEEWAY = 30  # seconds of clock skew tolerated


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged, expired or not meant for careflow."""


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    roles: frozenset[str]
    scopes: frozenset[str]
    sites: frozenset[str] | None
    expires_at: datetime
    token_id: str


def secret_path(settings: Settings) -> Path:
    """Where the signing secret lives: ``auth_secret_file``, else beside the SQLite file,
    else ``var/careflow.jwt-secret``."""
    if settings.auth_secret_file:
        return Path(settings.auth_secret_file)
    db = settings.sqlite_path()
    if db is not None:
        return db.with_name(db.name + ".jwt-secret")
    return Path("var") / "careflow.jwt-secret"


def load_or_create_secret(settings: Settings) -> bytes:
    """The HS256 secret: read it, or generate 64 random bytes at first run (mode 0600)."""
    path = secret_path(settings)
    try:
        data = path.read_bytes().strip()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(64).encode()
    # O_EXCL: two processes starting at once agree on the first one's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    return value


class TokenIssuer:
    """Signs tokens for local users (HS256)."""

    def __init__(self, secret: bytes, *, issuer: str, audience: str, minutes: int) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.minutes = minutes

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenIssuer:
        return cls(load_or_create_secret(settings), issuer=settings.jwt_issuer,
                   audience=settings.jwt_audience, minutes=settings.token_minutes)

    def issue(self, subject: str, roles: frozenset[str] | set[str] | list[str], *,
              scopes: str = DEFAULT_SCOPE, sites: list[str] | None = None,
              now: datetime | None = None, minutes: int | None = None) -> str:
        now = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": subject,
            "iat": int(now.timestamp()), "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=minutes or self.minutes)).timestamp()),
            "jti": uuid.uuid4().hex, "roles": sorted(roles), "scope": scopes,
        }
        if sites is not None:
            claims["sites"] = sorted(sites)
        return jwt.encode(claims, self._secret, algorithm="HS256")

    @property
    def expires_in(self) -> int:
        return self.minutes * 60


class TokenVerifier:
    """Verifies bearer tokens: HS256 with the local secret, or RS256 from a JWKS URL."""

    def __init__(self, *, issuer: str, audience: str, secret: bytes | None = None,
                 jwks_url: str = "", roles_claim: str = "roles") -> None:
        if secret is None and not jwks_url:
            raise ValueError("a verifier needs a secret or a JWKS URL")
        self.issuer = issuer
        self.audience = audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._roles_claim = roles_claim

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        if settings.jwks_url:
            return cls(issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                       jwks_url=settings.jwks_url, roles_claim=settings.jwt_roles_claim)
        return cls(issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                   secret=load_or_create_secret(settings), roles_claim=settings.jwt_roles_claim)

    def verify(self, token: str) -> Claims:
        options = {"require": ["exp", "iat", "sub", "iss", "aud"]}
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self._secret, ["HS256"]
            data = jwt.decode(token, key, algorithms=algorithms, audience=self.audience,
                              issuer=self.issuer, leeway=_LEEWAY, options=options)  # type: ignore[arg-type]
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is not meant for this service (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token comes from an unknown issuer") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken("the token is malformed or its signature is invalid") from exc
        return _claims(data, self._roles_claim)


def _claims(data: dict[str, Any], roles_claim: str) -> Claims:
    subject = data.get("sub")
    roles = data.get(roles_claim, [])
    scope = data.get("scope", "")
    sites = data.get("sites")
    if not isinstance(subject, str) or not subject or len(subject) > 128:
        raise InvalidToken("the token's subject is missing or invalid")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken(f"the token's {roles_claim!r} claim must be a list of role names")
    if not isinstance(scope, str):
        raise InvalidToken("the token's scope must be a space-separated string")
    if sites is not None and (not isinstance(sites, list) or not all(isinstance(s, str) for s in sites)):
        raise InvalidToken("the token's sites claim must be a list of site ids")
    known = frozenset(r for r in roles if r in ROLES)
    if not known:
        raise InvalidToken(f"the token's {roles_claim!r} claim names no role careflow knows")
    return Claims(subject=subject, roles=known, scopes=frozenset(scope.split()),
                  sites=None if sites is None else frozenset(sites),
                  expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
                  token_id=str(data.get("jti", "")))
