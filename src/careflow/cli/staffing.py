"""`careflow staffing reallocation`: short pool coverage on a day and the moves that cover it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import SYSTEM
from careflow.planning.reallocation import Plan
from careflow.services import reallocation as use

__all__ = ["staffing_app"]

staffing_app = typer.Typer(no_args_is_help=True, help="Staff pools: short coverage and reallocation.")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--date: {text!r} is not a date (YYYY-MM-DD)")


def _print(plan: Plan, title: str, zones: Mapping[str, ZoneInfo]) -> None:
    moves = Table(title=title)
    for column in ("#", "from pool", "from site", "to pool", "to site", "local span", "units", "km",
                   "leaves", "freed", "unit-h"):
        moves.add_column(column)
    for rank, p in enumerate(plan.proposals, 1):
        m, zone = p.move, zones[p.target_site]
        moves.add_row(str(rank), m.source, p.source_site, m.target, p.target_site,
                      f"{m.start.astimezone(zone):%H:%M}-{m.end.astimezone(zone):%H:%M}", str(m.units),
                      f"{p.travel_km:g}", f"{m.leave_at.astimezone(zone):%H:%M}", str(p.freed_units),
                      f"{p.covers_unit_hours:g}")
    console.print(moves)
    short = Table(title="short coverage")
    for column in ("site", "pool", "role", "local span", "units", "covered", "why"):
        short.add_column(column)
    for s in plan.shortages:
        zone = zones[s.site_id]
        short.add_row(s.site_id, s.pool_id or "-", s.role,
                      f"{s.start.astimezone(zone):%H:%M}-{s.end.astimezone(zone):%H:%M}", str(s.units),
                      str(s.covered), "; ".join(s.causes))
    console.print(short)


@staffing_app.command()
def reallocation(
    day: Annotated[str, typer.Option("--date", help="the day (YYYY-MM-DD), in each site's local time")],
    site: Annotated[str | None, typer.Option("--site", help="only shortages at this site")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Where pool coverage is short on a day, and the moves of spare staff that cover it."""
    when = _day(day)
    with opened(db) as app:
        deps = use.ReallocationDeps(app.deps.uow, app.deps.catalogs, app.deps.clock)
        plan = run(lambda: use.reallocation_plan(deps, SYSTEM, when, site))
        with app.deps.uow() as uow:
            zones = {str(sid): s.zone for sid, s in app.deps.catalogs.get(uow).sites.items()}
    if as_json:
        emit({"date": when.isoformat(), "site_id": site,
              "proposals": [use.proposal_dict(p) for p in plan.proposals],
              "shortages": [{"site_id": s.site_id, "pool_id": s.pool_id, "role": s.role,
                             "start": s.start.isoformat(), "end": s.end.isoformat(), "units": s.units,
                             "covered": s.covered, "causes": list(s.causes)} for s in plan.shortages]})
        return
    into = f" into {site}" if site else ""
    _print(plan, f"{len(plan.proposals)} move(s) for {when.isoformat()}{into} (times local)", zones)
