"""The ASGI app ``bench/http_load.py`` serves with uvicorn workers: what ``careflow serve``
does (bootstrap from the environment, warm the catalog, tune the garbage collector), as
a factory, so uvicorn can start several worker processes (``careflow serve`` runs one)."""

from __future__ import annotations

from fastapi import FastAPI

from careflow.api.access_log import configure_logging
from careflow.api.app import create_app
from careflow.bootstrap import bootstrap, tune_gc


def app() -> FastAPI:
    application = bootstrap()
    with application.deps.uow() as uow:  # warm the catalog before the first request
        application.deps.catalogs.get(uow)
    tune_gc()
    configure_logging(application.settings.log_level)
    return create_app(application)
