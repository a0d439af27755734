"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from careflow.api.access_log import install_access_log
from careflow.api.errors import install_error_handlers
from careflow.api.routes import bookings, catalog, health
from careflow.bootstrap import App, bootstrap
from careflow.services.booking import sweep_expired_holds

__all__ = ["create_app"]

log = logging.getLogger("careflow.api")


async def _sweep_holds(app: App) -> None:
    """Release expired holds every few seconds, so their resources show as free to `find`."""
    interval = app.settings.sweep_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(sweep_expired_holds, app.deps)
        except Exception:  # a failed sweep is retried on the next tick
            log.exception("hold sweep failed")


def create_app(app: App | None = None) -> FastAPI:
    """An API over ``app`` (bootstrapped from the environment when omitted)."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if getattr(api.state, "careflow", None) is None:
            api.state.careflow = bootstrap()
        sweeper = asyncio.create_task(_sweep_holds(api.state.careflow))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
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
    install_access_log(api)
    api.include_router(health.router)
    api.include_router(catalog.router)
    api.include_router(bookings.router)

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return api
