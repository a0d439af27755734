"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse

from careflow.adapters.security import break_glass
from careflow.api.access_log import install_access_log
from careflow.api.body_limit import BodyLimit
from careflow.api.deps import get_actor
from careflow.api.errors import install_error_handlers
from careflow.api.fhir import router as fhir_router
from careflow.api.idempotency import Idempotency
from careflow.api.openapi import document
from careflow.api.query_guard import QueryNames
from careflow.api.rate_limit import RateLimit
from careflow.api.routes import (
    admission_plan,
    auth,
    beds,
    bookings,
    cases,
    catalog,
    events,
    exceptions,
    health,
    manage_availability,
    manage_patients,
    manage_resources,
    manage_services,
    manage_sites,
    manage_stock,
    notifications,
    orchestration,
    planning,
    predictions,
    referrals,
    staffing,
)
from careflow.bootstrap import App, bootstrap
from careflow.services.booking import sweep_expired_holds
from careflow.services.exception_queue import escalate_due

__all__ = ["MAX_BODY_BYTES", "create_app"]

log = logging.getLogger("careflow.api")
# The largest legitimate body is an option of 200 allocations (~60 KB); 1 MiB leaves room
# and keeps a hostile client from making the server parse megabytes of JSON.
MAX_BODY_BYTES = 1024 * 1024
AUTHENTICATED = Depends(get_actor)  # routers whose every route needs a verified caller


async def _sweep_holds(app: App) -> None:
    """Release expired holds every few seconds, so their resources show as free to `find`,
    and raise the escalation level of exception-queue items past their thresholds."""
    interval = app.settings.sweep_seconds
    while True:
        if app.events is not None:  # woken early when an event is ingested
            await app.events.wait(interval)
        else:
            await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(sweep_expired_holds, app.deps)
            # SLA escalation of the exception queue: a backstop to each item's durable timer
            # (services/workflows/escalation.py); both apply the same level, once
            await anyio.to_thread.run_sync(escalate_due, app.deps.uow, app.deps.clock)
            if app.engine is not None:  # expired break-glass elevations: closed and audited
                await anyio.to_thread.run_sync(break_glass.close_expired, app.engine, app.deps.clock())
            if app.events is not None:  # the outbox to its handlers (or to NATS JetStream)
                await app.events.tick()
        except Exception:  # a failed sweep is retried on the next tick
            log.exception("hold sweep failed")


def create_app(app: App | None = None, workflows: bool | None = None) -> FastAPI:
    """An API over ``app`` (bootstrapped from the environment when omitted). ``workflows``
    runs the DBOS workflows in this process (default: when bootstrapped here and the
    settings allow; ``careflow serve`` passes its setting)."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if getattr(api.state, "careflow", None) is None:
            api.state.careflow = bootstrap()
        careflow: App = api.state.careflow
        run_workflows = careflow.settings.workflows if workflows is None and app is None else bool(workflows)
        if run_workflows and careflow.workflows is not None:
            from careflow.adapters.workflows import start_workflows

            await anyio.to_thread.run_sync(start_workflows, careflow.settings)
        sweeper = asyncio.create_task(_sweep_holds(careflow))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        if run_workflows and careflow.workflows is not None:
            from careflow.adapters.workflows import stop_workflows

            await anyio.to_thread.run_sync(stop_workflows)
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
    api.add_middleware(Idempotency)  # inside the body limit: it reads bodies the limit allowed
    api.add_middleware(QueryNames)  # a nameless query parameter is a 422, before any route
    api.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    api.add_middleware(RateLimit)  # before any body is read: a flood costs no parsing
    install_access_log(api)  # outermost: refusals of oversized bodies are logged too
    api.include_router(health.router)
    api.include_router(auth.router)
    api.include_router(catalog.router, dependencies=[AUTHENTICATED])
    api.include_router(manage_sites.router)
    api.include_router(manage_resources.router)
    api.include_router(manage_availability.router)
    api.include_router(manage_services.router)
    api.include_router(manage_stock.router)
    api.include_router(manage_patients.router)
    api.include_router(bookings.router)
    api.include_router(exceptions.router)
    api.include_router(cases.router)
    api.include_router(staffing.router)
    api.include_router(beds.router)
    api.include_router(notifications.router)
    api.include_router(events.router)
    api.include_router(orchestration.router)
    api.include_router(referrals.router)
    api.include_router(planning.router)
    api.include_router(admission_plan.router)
    api.include_router(predictions.router)
    api.include_router(fhir_router)

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    default_openapi = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = document(default_openapi(), MAX_BODY_BYTES)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api
