"""The Typer application: serve, demo, codes here; every other command lives in its own module.

Those modules are imported only when their command runs (or the top-level help lists them):
``careflow ihtc score`` need not load the HTTP API, and ``careflow users add`` need not load
OR-Tools. A command's start-up is then what that command imports, not what all of them do.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup
from typer.models import CommandInfo

from careflow.cli.common import AsJson, Db, console, database, emit, fail, settings_for
from careflow.cli.workers import reuse_port_supported, run_workers

# name -> "module:attribute": a command function or a Typer of sub-commands.
LAZY: dict[str, str] = {
    "seed": "careflow.cli.seeding:seed",
    "find": "careflow.cli.booking:find",
    "check": "careflow.cli.booking:check",
    "hold": "careflow.cli.booking:hold",
    "book": "careflow.cli.booking:book",
    "cancel": "careflow.cli.booking:cancel",
    "reschedule": "careflow.cli.booking:reschedule",
    "show": "careflow.cli.booking:show",
    "token": "careflow.cli.security:token",
    "relay": "careflow.cli.relay:relay",
    "worker": "careflow.cli.worker:worker",
    "users": "careflow.cli.security:users_app",
    "audit": "careflow.cli.security:audit_app",
    "db": "careflow.cli.security:db_app",
    "exceptions": "careflow.cli.exceptions:exceptions_app",
    "events": "careflow.cli.orchestration:events_app",
    "recoordination": "careflow.cli.orchestration:recoordination_app",
    "waitlist": "careflow.cli.orchestration:waitlist_app",
    "staffing": "careflow.cli.staffing:staffing_app",
    "beds": "careflow.cli.beds:beds_app",
    "cases": "careflow.cli.cases:cases_app",
    "ihtc": "careflow.cli.ihtc:ihtc_app",
    "referrals": "careflow.cli.referrals:referrals_app",
    "predict": "careflow.cli.predict:predict_app",
    "plan": "careflow.cli.planning:plan_app",
    "noshow": "careflow.cli.noshow:noshow_app",
}


class _Commands(MutableMapping[str, Any]):
    """The group's commands: those built already, and those of ``LAZY``, built on first use."""

    def __init__(self, built: MutableMapping[str, Any]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in LAZY:
                raise KeyError(name)
            self._built[name] = _load(name, LAZY[name])
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from LAZY
        yield from (name for name in self._built if name not in LAZY)

    def __len__(self) -> int:
        return len(LAZY.keys() | self._built.keys())

    def __contains__(self, name: object) -> bool:
        return name in LAZY or name in self._built


def _load(name: str, spec: str) -> Any:
    module, attribute = spec.split(":")
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        command = typer.main.get_command_from_info(
            CommandInfo(name=name, callback=target),
            pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode)
    command.name = name
    return command


class _LazyGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands)


app = typer.Typer(cls=_LazyGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="careflow: dependency-checked healthcare scheduling.")


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
    from careflow.cli import security, seeding

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
