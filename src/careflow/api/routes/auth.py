"""Tokens, the caller's own identity, break-glass elevations and local users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from careflow.adapters.security import break_glass, users
from careflow.api.deps import ActorDep, AppDep
from careflow.api.schemas import Id, Input, Problem, Text
from careflow.api.security import audit, security_of
from careflow.domain.access import Permission
from careflow.domain.errors import InvalidRequest, Unauthenticated
from careflow.services.ports import AuditEntry

router = APIRouter(prefix="/api/v1", tags=["security"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "no valid credentials"},
    403: {"model": Problem, "description": "the caller lacks the permission"},
}
Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class TokenBody(Input):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Secret


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class MeOut(BaseModel):
    id: str
    roles: list[str]
    permissions: list[str]
    scopes: list[str] | None
    sites: list[str] | None
    break_glass: bool


class BreakGlassBody(Input):
    reason: Text
    minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    patient_id: Id | None = None


class ElevationOut(BaseModel):
    id: int
    user_id: str
    reason: str
    patient_id: str | None
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


class UserBody(Input):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=8, max_length=1024)]
    roles: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=20)
    sites: list[Id] | None = Field(default=None, max_length=500)


class UserOut(BaseModel):
    id: str
    roles: list[str]
    sites: list[str] | None
    active: bool


def _user_out(u: users.LocalUser) -> UserOut:
    return UserOut(id=u.id, roles=sorted(u.roles), sites=None if u.sites is None else sorted(u.sites),
                   active=u.active)


@router.post("/token", responses={401: ERRORS[401]})
async def token(body: TokenBody, request: Request, app: AppDep) -> TokenOut:
    """A bearer token for a local user (``{"username", "password"}``)."""
    sec = security_of(request)
    if sec.issuer is None or app.engine is None:
        raise InvalidRequest("this deployment takes tokens from its identity provider, not from careflow",
                             "username")
    # argon2 verification takes tens of milliseconds: off the event loop.
    user = await anyio.to_thread.run_sync(users.authenticate, app.engine, body.username, body.password)
    if user is None:
        raise Unauthenticated("unknown username or wrong password")
    issued = sec.issuer.issue(user.id, user.roles, sites=None if user.sites is None else sorted(user.sites))
    await anyio.to_thread.run_sync(audit, app, [AuditEntry(user.id, "token.issue", "user", user.id, "ok")])
    return TokenOut(access_token=issued, expires_in=sec.issuer.expires_in)


@router.get("/me", responses=ERRORS)
def me(actor: ActorDep) -> MeOut:
    """Who the token says the caller is, and what it may do."""
    return MeOut(id=actor.id, roles=sorted(actor.roles), permissions=sorted(actor.permissions),
                 scopes=None if actor.scopes is None else sorted(actor.scopes),
                 sites=None if actor.sites is None else sorted(actor.sites), break_glass=actor.break_glass)


@router.post("/break-glass", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def start_break_glass(body: BreakGlassBody, request: Request, app: AppDep, actor: ActorDep) -> ElevationOut:
    """Begin an emergency elevation: the clinical patient view at every site, for at most
    ``break_glass_max_minutes``; the reason is audited at start and at stop."""
    actor.require(Permission.BREAK_GLASS)
    if app.engine is None:
        raise InvalidRequest("break-glass needs the database", "reason")
    limit = app.settings.break_glass_max_minutes
    if body.minutes > limit:
        raise InvalidRequest(f"an elevation lasts at most {limit} minutes", "minutes")
    started = break_glass.start(app.engine, actor.id, body.reason, body.minutes, app.deps.clock(),
                                body.patient_id)
    security_of(request).forget(actor.id)
    return ElevationOut(**started.as_dict())


@router.delete("/break-glass", responses=ERRORS)
def stop_break_glass(request: Request, app: AppDep, actor: ActorDep) -> dict[str, list[int]]:
    """End the caller's elevation now (audited)."""
    ended = [] if app.engine is None else break_glass.stop(app.engine, actor.id, app.deps.clock())
    security_of(request).forget(actor.id)
    return {"ended": ended}


@router.get("/users", responses=ERRORS)
def list_users(app: AppDep, actor: ActorDep) -> list[UserOut]:
    """Local users (admins only)."""
    actor.require(Permission.USER_MANAGE)
    return [] if app.engine is None else [_user_out(u) for u in users.list_users(app.engine)]


@router.post("/users", status_code=status.HTTP_201_CREATED, responses={**ERRORS, 409: {"model": Problem}})
def add_user(body: UserBody, app: AppDep, actor: ActorDep) -> UserOut:
    """Create a local user (admins only); audited, the password never is."""
    actor.require(Permission.USER_MANAGE)
    if app.engine is None:
        raise InvalidRequest("users need the database", "username")
    created = users.add_user(app.engine, body.username, body.password, body.roles, sites=body.sites)
    audit(app, [AuditEntry(actor.id, "user.create", "user", created.id, "ok",
                           detail={"roles": sorted(created.roles)})])
    return _user_out(created)
