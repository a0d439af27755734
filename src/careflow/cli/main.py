"""The Typer application: serve, demo, seed, find, check, hold, book, cancel, show, codes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from careflow.cli import booking, relay, security, seeding, worker
from careflow.cli.beds import beds_app
from careflow.cli.cases import cases_app
from careflow.cli.common import AsJson, Db, console, database, emit, fail, settings_for
from careflow.cli.exceptions import exceptions_app
from careflow.cli.ihtc import ihtc_app
from careflow.cli.noshow import noshow_app
from careflow.cli.orchestration import events_app, recoordination_app, waitlist_app
from careflow.cli.planning import plan_app
from careflow.cli.predict import predict_app
from careflow.cli.referrals import referrals_app
from careflow.cli.staffing import staffing_app
from careflow.cli.workers import reuse_port_supported, run_workers

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="careflow: dependency-checked healthcare scheduling.")

app.command()(seeding.seed)
app.command()(booking.find)
app.command()(booking.check)
app.command()(booking.hold)
app.command()(booking.book)
app.command()(booking.cancel)
app.command()(booking.reschedule)
app.command()(booking.show)
app.command()(security.token)
app.command()(relay.relay)
app.command()(worker.worker)
app.add_typer(security.users_app, name="users")
app.add_typer(security.audit_app, name="audit")
app.add_typer(security.db_app, name="db")
app.add_typer(exceptions_app, name="exceptions")
app.add_typer(events_app, name="events")
app.add_typer(recoordination_app, name="recoordination")
app.add_typer(waitlist_app, name="waitlist")
app.add_typer(staffing_app, name="staffing")
app.add_typer(beds_app, name="beds")
app.add_typer(cases_app, name="cases")
app.add_typer(ihtc_app, name="ihtc")
app.add_typer(referrals_app, name="referrals")
app.add_typer(predict_app, name="predict")
app.add_typer(plan_app, name="plan")
app.add_typer(noshow_app, name="noshow")


@app.command()
def serve(
    db: Db = None,
    host: Annotated[str | None, typer.Option("--host", help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="port (default CAREFLOW_PORT or 8000)")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="worker processes (PostgreSQL; SQLite has one writer, so 1 is best there)")] = 1,
) -> None:
    """Serve the HTTP API."""
    import os
    import sys

    import uvicorn

    from careflow.api.access_log import configure_logging
    from careflow.api.app import create_app
    from careflow.bootstrap import bootstrap, tune_gc

    extra = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_for(db, **extra)
    if workers > 1:
        with database(settings.database_url):
            bootstrap(settings).dispose()  # migrate once, in the parent, before the workers start
        os.environ["CAREFLOW_DATABASE_URL"] = settings.database_url
        console.print(f"careflow serving on http://{settings.host}:{settings.port} with {workers} workers",
                      soft_wrap=True)
        if reuse_port_supported():
            raise typer.Exit(run_workers(workers, settings.host, settings.port))
        uvicorn.run("careflow.api.asgi:app", factory=True, workers=workers, host=settings.host,
                    port=settings.port, log_level="warning", access_log=False)
        return
    application = bootstrap(settings)
    with application.deps.uow() as uow:  # warm the catalog before the first request
        application.deps.catalogs.get(uow)
    tune_gc()
    console.print(f"careflow serving on http://{settings.host}:{settings.port}  "
                  f"(API docs: http://{settings.host}:{settings.port}/docs)", soft_wrap=True)
    configure_logging(settings.log_level)
    uvicorn.run(create_app(application, workflows=settings.workflows), host=settings.host, port=settings.port,
                log_level="warning", access_log=False)
    if settings.workflows:
        # Workflows still waiting hold DBOS's executor threads, which the interpreter would
        # join at exit; their state is durable and the next start resumes them (see worker).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@app.command()
def demo(
    db: Db = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535)] = None,
    scenario: Annotated[str, typer.Option("--scenario")] = "regional",
) -> None:
    """Seed the demo health system if the database is empty, then serve it."""
    from careflow.bootstrap import bootstrap

    settings = settings_for(db, **({"port": port} if port else {}))
    application = bootstrap(settings)
    with application.deps.uow() as uow:
        empty = not application.deps.catalogs.get(uow).sites
    application.dispose()
    if empty:
        console.print(f"seeding the {scenario} demo health system into {settings.database_url} …")
        seeding.seed(scenario=scenario, from_file=None, db=settings.database_url, seed_value=7,
                     anchor=None, keep=False, as_json=False)
    password = security.demo_users(settings)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\ndemo users, one per role, named after it (scheduler, admin, auditor, …), "
                  f"password: {password}\n"
                  f"open {base}/docs for the API; try:\n"
                  f"  TOKEN=$(curl -s -X POST {base}/api/v1/token -H 'content-type: application/json' "
                  f"-d '{{\"username\": \"scheduler\", \"password\": \"{password}\"}}' | "
                  f"python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
                  f"  curl -s {base}/api/v1/sites -H \"Authorization: Bearer $TOKEN\"\n"
                  f"  curl -s -X POST {base}/api/v1/availability/find -H \"Authorization: Bearer $TOKEN\" "
                  f"-H 'content-type: application/json' -d @examples/requests/surgery-knee-replacement.json\n",
                  soft_wrap=True, highlight=False, markup=False)
    serve(db=settings.database_url, host=None, port=settings.port)


@app.command()
def codes(as_json: AsJson = False) -> None:
    """List every violation code with its severity, meaning and remedy."""
    from careflow.domain.violations import CODES

    if as_json:
        emit([{"code": c.value, "severity": i.severity.value, "meaning": i.meaning, "remedy": i.remedy}
              for c, i in CODES.items()])
        return
    table = Table(title="violation codes")
    for col in ("code", "severity", "meaning", "remedy"):
        table.add_column(col)
    for c, i in CODES.items():
        table.add_row(c.value, i.severity.value, i.meaning, i.remedy)
    console.print(table)


__all__ = ["app", "fail"]
