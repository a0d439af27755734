"""Dependency aliases for the routes (overridden in tests via ``app.dependency_overrides``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from careflow.api.security import actor_from_request
from careflow.bootstrap import App
from careflow.domain.access import Actor

__all__ = ["ActorDep", "AppDep", "get_actor", "get_app", "needs"]


def get_app(request: Request) -> App:
    app: App = request.app.state.careflow
    return app


def get_actor(request: Request) -> Actor:
    """The acting user, from the request's bearer token (401 without a valid one)."""
    return actor_from_request(request)


def needs(*permissions: str) -> Any:
    """A route dependency that refuses (403, audited) a caller lacking any of
    ``permissions`` before the body is read: a caller who may not act learns nothing
    from the validation of what it sent."""

    def check(request: Request) -> None:
        actor = actor_from_request(request)
        for permission in permissions:
            actor.require(permission)

    return Depends(check)


AppDep = Annotated[App, Depends(get_app)]
ActorDep = Annotated[Actor, Depends(get_actor)]
