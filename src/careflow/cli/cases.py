"""`careflow cases start|list|show|signal`: surgical case requests from a terminal.

A case runs as a durable workflow in ``careflow serve`` or ``careflow worker``; starting
one here records it and puts it on the workflow queue (a worker runs it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.domain.bookings import Urgency
from careflow.domain.errors import InvalidRequest
from careflow.domain.surgical_cases import CASE_STATUSES, SIGNALS, CaseRequest, SurgicalCase
from careflow.services import surgical_cases as use
from careflow.services.surgical_cases import CaseView

__all__ = ["cases_app"]

cases_app = typer.Typer(no_args_is_help=True, help="Surgical case requests: start, list, show, signal.")
ActorOpt = Annotated[str, typer.Option("--actor", help="who is acting (an id, recorded in the audit trail)")]
RolesOpt = Annotated[str, typer.Option("--roles", help="comma-separated roles of the actor")]


def _actor(actor: str, roles: str) -> Actor:
    return Actor(actor, frozenset(r.strip() for r in roles.split(",") if r.strip()))


def _when(text: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{flag}: not an ISO 8601 date-time: {text!r}")
    if value.tzinfo is None:
        fail(f"{flag}: needs a UTC offset (e.g. 2026-06-02T08:00:00-04:00)")
    return value


def _doc(case: SurgicalCase, view: CaseView | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": case.id, "status": case.status, "step": case.step, "waiting_for": case.waiting_for,
        "request": case.request.to_dict(), "hold_id": case.hold_id, "booking_id": case.booking_id,
        "planned": case.planned, "steps": case.steps, "prep_confirmed_by": case.prep_confirmed_by,
        "last_error": case.last_error, "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat()}
    if view is not None:
        doc.update(tasks=view.tasks, purchase_requests=view.purchase_requests,
                   workflow_status=view.workflow_status)
    return doc


def _table(cases: list[SurgicalCase], title: str) -> None:
    table = Table(title=title)
    for column in ("id", "status", "step", "waiting for", "patient", "service", "booking"):
        table.add_column(column)
    for c in cases:
        table.add_row(c.id, c.status, c.step, ",".join(c.waiting_for), c.request.patient_id,
                      c.request.service_id, c.booking_id or "")
    console.print(table)


@cases_app.command()
def start(
    surgeon: Annotated[str, typer.Option("--surgeon", help="the surgeon's resource id")],
    service: Annotated[str, typer.Option("--service", help="the procedure's service id")],
    patient: Annotated[str, typer.Option("--patient", help="the patient id")],
    earliest: Annotated[str, typer.Option("--earliest", help="ISO 8601 with offset")],
    latest: Annotated[str, typer.Option("--latest", help="ISO 8601 with offset")],
    urgency: Annotated[str, typer.Option("--urgency", help="routine, urgent or emergent")] = "routine",
    site: Annotated[list[str] | None, typer.Option("--site", help="a preferred site (repeat)")] = None,
    actor: ActorOpt = "cli",
    roles: RolesOpt = "perioperative_coordinator",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Request a surgical case (a worker runs its workflow)."""
    if urgency not in {u.value for u in Urgency}:
        fail(f"--urgency: must be routine, urgent or emergent (got {urgency!r})")
    try:
        request = CaseRequest(surgeon, service, patient, _when(earliest, "--earliest"), _when(latest, "--latest"),
                              Urgency(urgency), tuple(site or ()))
    except InvalidRequest as exc:
        fail(f"--{(exc.field or 'request').replace('_id', '').replace('site_ids', 'site')}: {exc}")
    with opened(db) as app:
        if app.workflows is None:
            fail("--db: cases need careflow's SQL database")
        case = run(lambda: use.start_case(request, _actor(actor, roles), app.workflows), as_json)
    if as_json:
        emit(_doc(case))
    else:
        console.print(f"case {case.id} requested; `careflow cases show {case.id}` follows it", highlight=False)


@cases_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help=", ".join(CASE_STATUSES))] = None,
    patient: Annotated[str | None, typer.Option("--patient")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """List cases, newest first."""
    if status is not None and status not in CASE_STATUSES:
        fail(f"--status: must be one of {', '.join(CASE_STATUSES)} (got {status!r})")
    with opened(db) as app:
        if app.workflows is None:
            fail("--db: cases need careflow's SQL database")
        cases, total = run(lambda: use.list_cases(_actor("cli", "admin"), app.workflows, status, patient, 0, limit))
    if as_json:
        emit({"items": [_doc(c) for c in cases], "total": total})
    else:
        _table(cases, f"{total} case(s)")


@cases_app.command()
def show(case_id: str = typer.Argument(...), db: Db = None, as_json: AsJson = False) -> None:
    """One case: its steps, tasks and purchase requests."""
    with opened(db) as app:
        if app.workflows is None:
            fail("--db: cases need careflow's SQL database")
        view = run(lambda: use.get_case(case_id, _actor("cli", "admin"), app.workflows))
    if as_json:
        emit(_doc(view.case, view))
        return
    _table([view.case], f"case {view.case.id} ({view.workflow_status or 'workflow status unknown'})")
    for s in view.case.steps:
        console.print(f"  {s['at'][:19]}  {s['step']}", highlight=False)
    for t in view.tasks:
        console.print(f"  task {t['id']}: {t['category']} → {t['owner_team']} ({t['status']})", highlight=False)
    for p in view.purchase_requests:
        console.print(f"  purchase {p['id']}: {p['quantity']} × {p['sku']} at {p['site_id']}, needed by "
                      f"{p['needed_by'][:10]}, expected {p['expected_at'][:10]} ({p['status']})", highlight=False)


@cases_app.command()
def signal(
    case_id: str = typer.Argument(...),
    name: str = typer.Argument(..., help=", ".join(SIGNALS)),
    actor: ActorOpt = "cli",
    roles: RolesOpt = "perioperative_coordinator",
    db: Db = None,
) -> None:
    """Tell a waiting case what happened (prep_done, stock_arrived, authorization_changed)."""
    if name not in SIGNALS:
        fail(f"signal: must be one of {', '.join(SIGNALS)} (got {name!r})")
    with opened(db) as app:
        if app.workflows is None:
            fail("--db: cases need careflow's SQL database")
        try:
            run(lambda: use.signal_case(case_id, name, _actor(actor, roles), app.workflows))
        except use.SignalFailed as exc:
            fail(str(exc), 1)
    console.print(f"case {case_id}: {name} sent", highlight=False)
