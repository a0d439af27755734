"""Dependency aliases for the routes (overridden in tests via ``app.dependency_overrides``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from careflow.bootstrap import App
from careflow.domain.access import Actor

__all__ = ["ActorDep", "AppDep", "get_actor", "get_app"]


def get_app(request: Request) -> App:
    app: App = request.app.state.careflow
    return app


def get_actor(request: Request) -> Actor:
    """The acting user. Until token authentication lands, the configured local actor."""
    settings = get_app(request).settings
    roles = frozenset(r.strip() for r in settings.local_roles.split(",") if r.strip())
    return Actor(settings.local_actor, roles)


AppDep = Annotated[App, Depends(get_app)]
ActorDep = Annotated[Actor, Depends(get_actor)]
