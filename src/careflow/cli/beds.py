"""`careflow beds board`: the bed board from a terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.services.beds.board import Board, board

__all__ = ["beds_app"]

beds_app = typer.Typer(no_args_is_help=True, help="Bed placement: the bed board.")


def _doc(b: Board) -> dict[str, Any]:
    return {"site_id": b.site_id, "at": b.at.isoformat(), "units": [
        {"unit": u.unit, "counts": {s: u.count(s) for s in ("clean", "occupied", "dirty", "out_of_service")},
         "beds": [{"bed_id": x.bed_id, "bed_type": x.bed_type, "gender": x.gender, "isolation": x.isolation,
                   "status": x.status, "since": x.since.isoformat() if x.since else None,
                   "booking_id": x.booking_id, "until": x.until.isoformat() if x.until else None,
                   "task_id": x.task_id} for x in u.beds],
         "waiting": [a.id for a in u.waiting]} for u in b.units],
        "waiting": [{"id": a.id, "urgency": a.urgency.value, "source": a.source, "unit": a.unit,
                     "bed_type": a.bed_type, "requested_at": a.requested_at.isoformat(),
                     "exception_id": a.exception_id} for a in b.waiting]}


def _tables(b: Board) -> None:
    for u in b.units:
        counts = ", ".join(f"{u.count(s)} {s}" for s in ("clean", "occupied", "dirty", "out_of_service"))
        table = Table(title=f"{u.unit}: {counts}; {len(u.waiting)} waiting")
        for column in ("bed", "type", "room", "isolation", "status", "since", "until", "booking / task"):
            table.add_column(column)
        for x in u.beds:
            table.add_row(x.bed_id, x.bed_type, x.gender, "yes" if x.isolation else "",
                          x.status, x.since.isoformat(timespec="minutes") if x.since else "",
                          x.until.isoformat(timespec="minutes") if x.until else "", x.booking_id or x.task_id or "")
        console.print(table)
    table = Table(title=f"{len(b.waiting)} admission(s) waiting at {b.site_id}, next first")
    for column in ("admission", "urgency", "source", "unit / type", "requested", "exception"):
        table.add_column(column)
    for a in b.waiting:
        table.add_row(a.id, a.urgency.value, a.source, a.unit or a.bed_type or "",
                      a.requested_at.isoformat(timespec="minutes"), a.exception_id or "")
    console.print(table)


@beds_app.command("board")
def board_(site: Annotated[str, typer.Option("--site", help="the site's id")] = "", db: Db = None,
           as_json: AsJson = False) -> None:
    """Per unit: each bed clean, occupied, dirty or out of service, and the admissions waiting."""
    if not site.strip():
        fail("--site: name the site (its id)")
    with opened(db) as app:
        if app.beds is None:
            fail("--db: bed placement needs careflow's SQL database")
        view = run(lambda: board(site, Actor("cli", frozenset({"admin"})), app.beds))
    if as_json:
        emit(_doc(view))
    else:
        _tables(view)
