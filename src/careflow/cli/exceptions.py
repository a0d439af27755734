"""`careflow exceptions list|show|claim|resolve`: the exception queue from a terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.domain.exceptions_queue import CATEGORIES, OUTCOMES, PRIORITIES, ExceptionItem, ExceptionStatus
from careflow.services import exception_queue as use
from careflow.services.ports import ExceptionFilter

__all__ = ["exceptions_app"]

exceptions_app = typer.Typer(no_args_is_help=True, help="The exception queue: list, show, claim, resolve.")

ActorOpt = Annotated[str, typer.Option("--actor", help="who is acting (an id, recorded in the audit trail)")]
RolesOpt = Annotated[str, typer.Option("--roles", help="comma-separated roles of the actor")]


def _actor(actor: str, roles: str) -> Actor:
    return Actor(actor, frozenset(r.strip() for r in roles.split(",") if r.strip()))


def _choice(value: str | None, allowed: tuple[str, ...], flag: str) -> str | None:
    if value is not None and value not in allowed:
        fail(f"{flag}: must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _doc(item: ExceptionItem) -> dict[str, Any]:
    r = item.resolution
    return {
        "id": item.id, "category": item.category, "owner_team": item.owner_team, "priority": item.priority,
        "summary": item.summary, "booking_id": item.booking_id, "case_id": item.case_id,
        "patient_id": item.patient_id, "site_id": item.site_id, "status": item.status,
        "assignee": item.assignee, "escalation_level": item.escalation_level,
        "created_at": item.created_at.isoformat(), "sla_due_at": item.sla_due_at.isoformat(),
        "comments": [{"author": c.author, "at": c.at.isoformat(), "text": c.text} for c in item.comments],
        "alternatives": item.alternatives,
        "resolution": {"outcome": r.outcome, "note": r.note, "by": r.by, "at": r.at.isoformat()} if r else None,
    }


def _table(items: list[ExceptionItem], title: str) -> None:
    table = Table(title=title)
    for column in ("id", "priority", "category", "team", "status", "assignee", "level", "due"):
        table.add_column(column)
    for i in items:
        table.add_row(i.id, i.priority, i.category, i.owner_team, i.status, i.assignee or "",
                      str(i.escalation_level), i.sla_due_at.isoformat(timespec="minutes"))
    console.print(table)


def _one(item: ExceptionItem, as_json: bool) -> None:
    if as_json:
        emit(_doc(item))
        return
    _table([item], item.summary)
    for c in item.comments:
        console.print(f"{c.at.isoformat(timespec='minutes')} {c.author}: {c.text}", highlight=False)
    if item.resolution is not None:
        console.print(f"resolved: {item.resolution.outcome} by {item.resolution.by}", highlight=False)


@exceptions_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="open, claimed or resolved")] = None,
    team: Annotated[str | None, typer.Option("--team")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    priority: Annotated[str | None, typer.Option("--priority")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee")] = None,
    breached: Annotated[bool, typer.Option("--breached", help="only unresolved items past due")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """List the queue, most urgent first, then by due time."""
    flt = ExceptionFilter(_choice(status, ExceptionStatus.ALL, "--status"), team,
                          _choice(category, CATEGORIES, "--category"),
                          _choice(priority, PRIORITIES, "--priority"), assignee)
    with opened(db) as app:
        if breached:
            flt = ExceptionFilter(flt.status, team, flt.category, flt.priority, assignee, app.deps.clock())
        items, total = run(lambda: use.list_items(flt, _actor("cli", "admin"), app.deps.uow, 0, limit))
    if as_json:
        emit({"items": [_doc(i) for i in items], "total": total})
    else:
        _table(items, f"{total} exception(s)")


@exceptions_app.command()
def show(item_id: str = typer.Argument(...), db: Db = None, as_json: AsJson = False) -> None:
    """Show one item with its comments and resolution."""
    with opened(db) as app:
        item = run(lambda: use.get(item_id, _actor("cli", "admin"), app.deps.uow))
    _one(item, as_json)


@exceptions_app.command()
def claim(item_id: str = typer.Argument(...), actor: ActorOpt = "cli", roles: RolesOpt = "scheduler",
          db: Db = None, as_json: AsJson = False) -> None:
    """Take an open item."""
    with opened(db) as app:
        item = run(lambda: use.claim(item_id, _actor(actor, roles), app.deps.uow), as_json)
    _one(item, as_json)


@exceptions_app.command()
def resolve(
    item_id: str = typer.Argument(...),
    outcome: Annotated[str, typer.Option("--outcome", help=", ".join(OUTCOMES))] = "",
    note: Annotated[str, typer.Option("--note")] = "",
    actor: ActorOpt = "cli",
    roles: RolesOpt = "scheduler",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Close an item with an outcome (a claimed item: its assignee or a manager)."""
    _choice(outcome, OUTCOMES, "--outcome")
    with opened(db) as app:
        item = run(lambda: use.resolve(item_id, outcome, note, _actor(actor, roles), app.deps.uow,
                                       app.deps.clock), as_json)
    _one(item, as_json)
