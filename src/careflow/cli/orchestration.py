"""`careflow events report`, `careflow recoordination runs|show`, `careflow waitlist ...`.

An integration engineer can report what HR, the ERP or the EHR would (the same bodies
and use cases as ``POST /api/v1/events/{Name}``) and watch what careflow did about it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from careflow.api.routes.events import REPORTS
from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.domain.waitlist import PRIORITIES, WaitlistEntry, WaitlistStatus
from careflow.services import waitlist as wl
from careflow.services.recoordination import RunReport

__all__ = ["events_app", "recoordination_app", "waitlist_app"]

events_app = typer.Typer(no_args_is_help=True, help="Report what happened (as HR, the ERP or the EHR would).")
recoordination_app = typer.Typer(no_args_is_help=True, help="What re-coordination did about each event.")
waitlist_app = typer.Typer(no_args_is_help=True, help="The waitlist: add, list, withdraw.")
CLI = Actor("cli", frozenset({"admin"}))


def _body(raw: str) -> Any:
    text = sys.stdin.read() if raw == "-" else raw
    if not text.lstrip().startswith("{"):
        try:
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            fail(f"--body: not JSON and not a readable file ({exc.strerror})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--body: invalid JSON ({exc.msg} at line {exc.lineno})")


@events_app.command("report")
def report(
    name: Annotated[str, typer.Argument(help=", ".join(REPORTS))],
    body: Annotated[str, typer.Option("--body", help="the JSON body, a file, or - for stdin")],
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Record a reported fact, then deliver the outbox (re-coordination, workflows) at once."""
    if name not in REPORTS:
        fail(f"unknown event {name!r}; one of {', '.join(REPORTS)}")
    model, apply = REPORTS[name]
    try:
        parsed = model.model_validate(_body(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"--body: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    with opened(db) as app:
        receipt = run(lambda: apply(parsed, app, CLI), as_json)
        delivered = 0
        if app.events is not None:
            while (step := app.events.dispatcher.dispatch_once(app.events.outbox)).events:
                delivered += step.events
        runs: list[RunReport] = []
        if app.recoordination is not None:
            with app.deps.uow() as uow:
                runs, _ = app.recoordination.runs_of(uow).page(0, 1, receipt.aggregate_id)
    doc = {"event": receipt.event, "aggregate_id": receipt.aggregate_id, "detail": receipt.detail,
           "delivered": delivered, "recoordination": runs[0].summary() if runs else None}
    if as_json:
        emit(doc)
        return
    console.print(f"{receipt.event} recorded for {receipt.aggregate_id}; {delivered} event(s) delivered",
                  highlight=False)
    if runs:
        _runs_table(runs[:1], "re-coordination")


def _runs_table(runs: list[RunReport], title: str) -> None:
    table = Table(title=title)
    for column in ("event", "type", "subject", "affected", "auto", "queued", "unchanged", "failed", "seconds"):
        table.add_column(column)
    for r in runs:
        s = r.summary()
        table.add_row(str(s["event_id"]), s["event_type"], s["subject"], str(s["affected"]),
                      str(s["auto_resolved"]), str(s["queued"]), str(s["unchanged"]), str(s["failed"]),
                      f"{r.seconds:.2f}")
    console.print(table)


@recoordination_app.command("runs")
def runs(subject: Annotated[str | None, typer.Option("--subject", help="resource, stock item or authorization")]
         = None, limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 20, db: Db = None,
         as_json: AsJson = False) -> None:
    """Recent runs, newest first."""
    with opened(db) as app:
        if app.recoordination is None:
            fail("re-coordination needs a SQL database")
        with app.deps.uow() as uow:
            found, total = app.recoordination.runs_of(uow).page(0, limit, subject)
    if as_json:
        emit({"items": [r.summary() for r in found], "total": total})
    else:
        _runs_table(found, f"{total} run(s)")


@recoordination_app.command("show")
def show(event_id: Annotated[int, typer.Argument(min=1)], db: Db = None, as_json: AsJson = False) -> None:
    """One run with the outcome per booking."""
    with opened(db) as app:
        if app.recoordination is None:
            fail("re-coordination needs a SQL database")
        with app.deps.uow() as uow:
            found = app.recoordination.runs_of(uow).get(event_id)
    if found is None:
        fail(f"no re-coordination run for event {event_id}")
    if as_json:
        emit(found.summary() | {"outcomes": [o.to_dict() for o in found.outcomes]})
        return
    _runs_table([found], f"event {event_id}")
    table = Table()
    for column in ("booking", "result", "codes", "what", "queue item"):
        table.add_column(column)
    for o in found.outcomes:
        table.add_row(o.booking_id, o.result, ",".join(o.codes), o.detail, o.exception_id or "")
    console.print(table)


def _entry_doc(e: WaitlistEntry) -> dict[str, Any]:
    return {"id": e.id, "patient_id": e.patient_id, "service_id": e.service_id, "site_ids": list(e.site_ids),
            "earliest": e.earliest.isoformat(), "latest": e.latest.isoformat(), "priority": e.priority,
            "status": e.status, "offer_booking_id": e.offer_booking_id, "booking_id": e.booking_id,
            "offers": e.offers, "created_at": e.created_at.isoformat()}


def _instant(value: str, flag: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{flag}: not an ISO 8601 instant ({value!r})")
    if parsed.tzinfo is None:
        fail(f"{flag}: needs a UTC offset, e.g. 2026-12-01T09:00:00-05:00")
    return parsed


@waitlist_app.command("add")
def add(patient: Annotated[str, typer.Option("--patient")], service: Annotated[str, typer.Option("--service")],
        earliest: Annotated[str, typer.Option("--earliest")], latest: Annotated[str, typer.Option("--latest")],
        site: Annotated[list[str] | None, typer.Option("--site")] = None,
        priority: Annotated[str, typer.Option("--priority", help=", ".join(PRIORITIES))] = "normal",
        db: Db = None, as_json: AsJson = False) -> None:
    """Put a patient on the waitlist for a service."""
    if priority not in PRIORITIES:
        fail(f"--priority: must be one of {', '.join(PRIORITIES)} (got {priority!r})")
    cmd = wl.AddToWaitlist(patient, service, _instant(earliest, "--earliest"), _instant(latest, "--latest"),
                           tuple(site or ()), priority)
    with opened(db) as app:
        entry = run(lambda: wl.add(cmd, CLI, app.waitlist), as_json)
    emit(_entry_doc(entry)) if as_json else console.print(f"{entry.id} waiting", highlight=False)


@waitlist_app.command("list")
def list_(status: Annotated[str | None, typer.Option("--status", help=", ".join(WaitlistStatus.ALL))] = None,
          limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50, db: Db = None,
          as_json: AsJson = False) -> None:
    """The waitlist in offer order (priority, then age)."""
    if status is not None and status not in WaitlistStatus.ALL:
        fail(f"--status: must be one of {', '.join(WaitlistStatus.ALL)} (got {status!r})")
    with opened(db) as app:
        items, total = run(lambda: wl.list_entries(wl.WaitlistFilter(status), CLI, app.waitlist, 0, limit))
    if as_json:
        emit({"items": [_entry_doc(e) for e in items], "total": total})
        return
    table = Table(title=f"{total} waitlist entr{'y' if total == 1 else 'ies'}")
    for column in ("id", "priority", "status", "patient", "service", "window", "offer"):
        table.add_column(column)
    for e in items:
        table.add_row(e.id, e.priority, e.status, e.patient_id, e.service_id,
                      f"{e.earliest:%Y-%m-%d} → {e.latest:%Y-%m-%d}", e.offer_booking_id or "")
    console.print(table)


@waitlist_app.command("withdraw")
def withdraw(entry_id: str = typer.Argument(...), db: Db = None, as_json: AsJson = False) -> None:
    """Take an entry off the waitlist (an open offer is released)."""
    with opened(db) as app:
        entry = run(lambda: wl.withdraw(entry_id, CLI, app.waitlist), as_json)
    emit(_entry_doc(entry)) if as_json else console.print(f"{entry.id} {entry.status}", highlight=False)
