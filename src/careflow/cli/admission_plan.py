"""`careflow plan admissions` and `careflow plan weights`: a site's admission and surgical plan
over a horizon, and the cost weights it plans with."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from careflow.adapters.db.case_store import cases_of
from careflow.adapters.db.site_setting_store import site_settings_of
from careflow.bootstrap import App
from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.planning.admission_plan import AdmissionPlan
from careflow.planning.admission_plan_weights import COST_NAMES
from careflow.services import admission_plan as use

__all__ = ["admissions", "weights_app"]

weights_app = typer.Typer(no_args_is_help=True, help="The cost weights a site's admission plan uses.")
CLI_ACTOR = Actor("cli", frozenset({"admin"}))
Site = Annotated[str, typer.Option("--site", help="the site's id")]


def deps_of(app: App) -> use.AdmissionPlanDeps:
    """The plan's dependencies on the SQL adapters."""
    d = app.deps
    return use.AdmissionPlanDeps(d.uow, d.catalogs, d.clock, site_settings_of, cases_of)


def _weights_doc(found: use.SiteWeights) -> dict[str, object]:
    s = found.setting
    return {"site_id": found.site_id, "version": found.version, "weights": found.weights.as_dict(),
            "updated_by": s.updated_by if s else None, "updated_at": s.updated_at.isoformat() if s else None,
            "reason": s.reason if s else None}


def _print_weights(found: use.SiteWeights) -> None:
    s = found.setting
    origin = f"version {found.version}, by {s.updated_by}: {s.reason}" if s else "the defaults"
    table = Table(title=f"planning weights of {found.site_id} ({origin})")
    table.add_column("cost")
    table.add_column("weight", justify="right")
    for name, value in found.weights.as_dict().items():
        table.add_row(name, str(value))
    console.print(table)


@weights_app.command("show")
def show(site: Site, db: Db = None, as_json: AsJson = False) -> None:
    """The weights the site plans with (its own, or the defaults)."""
    with opened(db) as app:
        found = run(lambda: use.site_weights(deps_of(app), CLI_ACTOR, site))
    emit(_weights_doc(found)) if as_json else _print_weights(found)


@weights_app.command("set")
def set_(
    site: Site,
    assignments: Annotated[list[str], typer.Argument(help=f"NAME=VALUE pairs; names: {', '.join(COST_NAMES)}")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit trail)")] = "",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Change some of the site's weights (the others keep their value), with a reason."""
    changes: dict[str, int] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"{item!r}: write NAME=VALUE, e.g. PatientDelay=15")
        try:
            changes[name.strip()] = int(value)
        except ValueError:
            fail(f"{name.strip()}: {value!r} is not an integer")
    if not reason.strip():
        fail("--reason: say why the weights change")
    with opened(db) as app:
        found = run(lambda: use.change_weights(deps_of(app), CLI_ACTOR, site, changes, reason))
    emit(_weights_doc(found)) if as_json else _print_weights(found)


def _print_plan(plan: AdmissionPlan, names: dict[str, str]) -> None:
    end = plan.start.fromordinal(plan.start.toordinal() + plan.days - 1)
    console.print(f"{plan.site_id} {plan.start.isoformat()}..{end.isoformat()}: {len(plan.planned)} case(s) "
                  f"planned, {len(plan.unplanned)} not, {plan.hard_violations} hard violation(s), "
                  f"total cost {plan.total_cost}" + ("" if plan.repeatable else " (may not repeat: the time "
                                                                   "limit cut the solver short)"),
                  highlight=False, markup=False)
    for day in sorted({c.day for c in plan.planned}):
        table = Table(title=f"{day:%a} {day.isoformat()}")
        for column in ("case", "patient", "operating room", "bed room", "bed", "surgeon"):
            table.add_column(column)
        for c in (c for c in plan.planned if c.day == day):
            table.add_row(c.case_id, c.patient_id, names.get(c.operating_room_id, c.operating_room_id),
                          c.ward_room_id, c.bed_id or "-", c.surgeon_id)
        console.print(table)
    if plan.unplanned:
        table = Table(title="not planned")
        for column in ("case", "patient", "mandatory", "why"):
            table.add_column(column)
        for u in plan.unplanned:
            table.add_row(u.case_id, u.patient_id, "yes" if u.mandatory else "no", u.reason)
        console.print(table)
    covered = Table(title="nurse coverage (nurses on cover / rooms covered)")
    covered.add_column("day")
    for name in ("early", "late", "night"):
        covered.add_column(name, justify="right")
    for day in sorted({n.day for n in plan.coverage}):
        cells = [f"{len([n for n in plan.coverage if n.day == day and n.shift == s])} / "
                 f"{sum(len(n.room_ids) for n in plan.coverage if n.day == day and n.shift == s)}"
                 for s in ("early", "late", "night")]
        covered.add_row(day.isoformat(), *cells)
    console.print(covered)
    costs = Table(title=f"costs (total {plan.total_cost})")
    for column in ("cost", "raw", "weight", "weighted"):
        costs.add_column(column, justify="right" if column != "cost" else "left")
    weights = plan.weights.as_dict()
    for name in COST_NAMES:
        costs.add_row(name, str(plan.raw[name]), str(weights[name]), str(plan.costs[name]))
    console.print(costs)
    broken = {k: v for k, v in plan.violations.items() if v}
    console.print(f"hard violations: {plan.hard_violations}"
                  + (f" ({', '.join(f'{k} {v}' for k, v in broken.items())})" if broken else ""),
                  highlight=False, markup=False)


def admissions(
    site: Site = "",
    start: Annotated[str, typer.Option("--start", help="first day (YYYY-MM-DD), in the site's local time")] = "",
    days: Annotated[int, typer.Option("--days", help=f"days in the horizon (1 to {use.MAX_DAYS})")] = 7,
    time_limit: Annotated[float, typer.Option("--time-limit", help="solver seconds (default 10)")] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="the solver's random seed")] = 0,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Propose which waiting cases to operate on which day, in which operating room, which bed
    room and bed they go to, and which nurses cover which rooms in each shift (nothing is written)."""
    if not site.strip():
        fail("--site: name the site (its id)")
    try:
        first = date.fromisoformat(start)
    except ValueError:
        fail(f"--start: {start!r} is not a date (YYYY-MM-DD)")
    request = run(lambda: use.PlanRequest(site, first, days, time_limit, seed))
    with opened(db) as app:
        plan = run(lambda: use.propose_admission_plan(deps_of(app), CLI_ACTOR, request))
        with app.deps.uow() as uow:
            catalog = app.deps.catalogs.get(uow)
            names = {r.id: r.name for r in (catalog.resources.get(c.operating_room_id)  # type: ignore[call-overload]
                                            for c in plan.planned) if r is not None}
    if as_json:
        emit(plan.as_dict())
    else:
        _print_plan(plan, names)
