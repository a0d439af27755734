"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from careflow.api.errors import install_error_handlers
from careflow.api.routes import bookings, catalog, health
from careflow.bootstrap import App, bootstrap

__all__ = ["create_app"]


def create_app(app: App | None = None) -> FastAPI:
    """An API over ``app`` (bootstrapped from the environment when omitted)."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if getattr(api.state, "careflow", None) is None:
            api.state.careflow = bootstrap()
        yield
        if app is None:
            api.state.careflow.dispose()

    api = FastAPI(
        title="careflow",
        version="0.1.0",
        summary="Dependency-checked healthcare scheduling: find, check, hold and book.",
        lifespan=lifespan,
    )
    api.state.careflow = app
    install_error_handlers(api)
    api.include_router(health.router)
    api.include_router(catalog.router)
    api.include_router(bookings.router)

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return api
