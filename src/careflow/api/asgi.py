"""The ASGI application as a factory, for servers that start several worker processes
(``careflow serve --workers N``, or ``uvicorn --factory careflow.api.asgi:app``): each
worker bootstraps from the environment, warms its catalog and tunes its collector."""

from __future__ import annotations

from fastapi import FastAPI

from careflow.api.access_log import configure_logging
from careflow.api.app import create_app
from careflow.bootstrap import bootstrap, tune_gc

__all__ = ["app"]


def app() -> FastAPI:
    application = bootstrap(migrate=False)  # the parent process migrated already
    with application.deps.uow() as uow:  # warm the catalog before the first request
        application.deps.catalogs.get(uow)
    tune_gc()
    configure_logging(application.settings.log_level)
    return create_app(application)
