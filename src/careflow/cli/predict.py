"""`careflow predict durations|demand|overbooking|policy`: predictions as advice, with Rich tables."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from careflow.bootstrap import App
from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.predict.overbooking import OverbookingPolicy
from careflow.services import demand_forecast as forecasts
from careflow.services import predictions as use

__all__ = ["predict_app"]

predict_app = typer.Typer(no_args_is_help=True,
                          help="Predictions: case durations, demand, overbooking advice and policy.")


CLI_ACTOR = Actor("cli", frozenset({"admin"}))


def _deps(app: App) -> use.PredictionDeps:
    if app.predictions is None:
        fail("predictions need a SQL database (--db)")
    deps: use.PredictionDeps = app.predictions
    return deps


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--date: {text!r} is not a date (YYYY-MM-DD)")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


@predict_app.command()
def durations(
    service: Annotated[str, typer.Option("--service", help="service (procedure) id or code")],
    surgeon: Annotated[str | None, typer.Option("--surgeon", help="the surgeon's resource id")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """P50 / P80 case minutes per procedure × surgeon (shrunk toward the procedure), and what to book."""
    with opened(db) as app:
        found = run(lambda: use.duration_estimates(_deps(app), CLI_ACTOR, service, surgeon))
    if as_json:
        emit([{"service_id": e.service_id, "surgeon_id": e.surgeon_id, "p50": e.p50, "p80": e.p80,
               "spread": e.spread, "card_minutes": e.card_minutes, "suggested_minutes": e.suggested_minutes,
               "surgeon_cases": e.surgeon_cases, "procedure_cases": e.procedure_cases,
               "surgeon_weight": e.surgeon_weight, "k": e.k, "basis": e.basis, "version": e.version}
              for e in found])
        return
    _table(f"case minutes of {found[0].service_id} ({found[0].version})",
           ["surgeon", "P50", "P80", "spread", "card", "book", "cases (surgeon/procedure)", "surgeon weight",
            "basis"],
           [[e.surgeon_id or "(procedure)", e.p50, e.p80, round(e.spread, 1), e.card_minutes,
             e.suggested_minutes, f"{e.surgeon_cases}/{e.procedure_cases}", e.surgeon_weight, e.basis]
            for e in found])


@predict_app.command()
def demand(
    site: Annotated[str, typer.Option("--site", help="the site id")],
    specialty: Annotated[str, typer.Option("--specialty", help="e.g. orthopedics")],
    days: Annotated[int, typer.Option("--days", min=1, max=forecasts.MAX_FORECAST_DAYS)] = 14,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Daily volume forecast (weekday seasonality, trend, 90 % intervals) and staff per shift."""
    with opened(db) as app:
        f = run(lambda: forecasts.demand_forecast(_deps(app), CLI_ACTOR, site, specialty, days))
    m = f.model
    if as_json:
        emit({"site_id": f.site_id, "specialty": f.specialty, "version": m.version, "method": m.method,
              "weekly_growth": m.weekly_growth, "weekday_factors": m.weekday_factors(),
              "days": [{"date": d.day.isoformat(), "mean": d.mean, "lower": d.lower, "upper": d.upper}
                       for d in f.days],
              "staffing": [{"date": r.day, "shift": r.shift, "role": r.role, "hours": r.hours,
                            "hours_upper": r.hours_upper, "staff": r.staff,
                            "on_duty": f.on_duty.get((r.day, r.shift, r.role), 0.0)} for r in f.staffing]})
        return
    _table(f"{specialty} at {site}: {m.method} over {m.days} days, ×{m.weekly_growth:.3f} a week ({m.version})",
           ["date", "weekday", "mean", "90 % interval"],
           [[d.day.isoformat(), d.day.strftime("%a"), d.mean, f"{d.lower}-{d.upper}"] for d in f.days])
    _table("staff per shift (upper bound) beside those rostered",
           ["date", "shift", "role", "hours", "hours (upper)", "staff", "on duty"],
           [[r.day, r.shift, r.role, r.hours, r.hours_upper, r.staff,
             f.on_duty.get((r.day, r.shift, r.role), 0.0)] for r in f.staffing])


@predict_app.command()
def overbooking(
    site: Annotated[str, typer.Option("--site", help="the site id")],
    day: Annotated[str, typer.Option("--date", help="the site's local day (YYYY-MM-DD)")],
    apply: Annotated[bool, typer.Option("--apply", help="open the advice as capacity (executable sites)")] = False,
    reason: Annotated[str, typer.Option("--reason", help="recorded with an --apply")] = "",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Overbooking advice per clinic session, explained; with --apply, applied where the site's
    policy is executable (exit 1 at an advisory site)."""
    when = _day(day)
    with opened(db) as app:
        deps = _deps(app)
        if apply:
            done = run(lambda: use.apply_overbooking(deps, CLI_ACTOR, site, when, reason))
            if as_json:
                emit([{"advice_id": a.advice_id, "clinician_id": a.clinician_id,
                       "start": a.start.isoformat(), "end": a.end.isoformat(), "lanes_before": a.lanes_before,
                       "lanes": a.lanes} for a in done])
                return
            _table(f"overbooking applied at {site} on {when.isoformat()}",
                   ["advice", "clinician", "start", "end", "lanes before", "lanes"],
                   [[a.advice_id, a.clinician_id, a.start.isoformat(), a.end.isoformat(), a.lanes_before,
                     a.lanes] for a in done])
            return
        report = run(lambda: use.overbooking_advice(deps, CLI_ACTOR, site, when))
    if as_json:
        emit({"site_id": site, "date": when.isoformat(), "mode": report.policy.mode,
              "predictor": report.predictor, "declined": report.declined,
              "sessions": [{"id": a.id, "clinician_id": a.session.clinician_id,
                            "start": a.session.start.isoformat(), "capacity": a.session.capacity,
                            "booked": a.booked, "expected_no_shows": a.expected_no_shows, "extra": a.extra,
                            "overflow_risk": a.overflow_risk, "bound": a.bound, "explanation": a.explanation()}
                           for a in report.advice]})
        return
    console.print(f"mode {report.policy.mode}, predictor {report.predictor}"
                  + (f" (declines: {report.declined})" if report.declined else ""), soft_wrap=True,
                  highlight=False, markup=False)
    _table(f"overbooking advice at {site} on {when.isoformat()}",
           ["session", "clinician", "seats", "booked", "no-shows expected", "extra", "risk", "bound", "why"],
           [[a.session.start.isoformat(), a.session.clinician_id, a.session.capacity, a.booked,
             a.expected_no_shows, a.extra, f"{a.overflow_risk:.0%}", a.bound, a.explanation()]
            for a in report.advice])


@predict_app.command()
def policy(
    site: Annotated[str, typer.Option("--site", help="the site id")],
    set_value: Annotated[str | None, typer.Option(
        "--set", help='a JSON policy, e.g. {"mode": "executable", "max_per_session": 2}')] = None,
    reason: Annotated[str, typer.Option("--reason", help="why (required with --set)")] = "",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Show the site's overbooking policy, or change it with --set and --reason (versioned, audited)."""
    with opened(db) as app:
        deps = _deps(app)
        if set_value is not None:
            try:
                value = json.loads(set_value)
            except json.JSONDecodeError as exc:
                fail(f"--set is not valid JSON: {exc.msg}")
            if not isinstance(value, dict):
                fail("--set must be a JSON object")
            setting = run(lambda: use.set_overbooking_policy(deps, CLI_ACTOR, site, value, reason))
            current, version = OverbookingPolicy.of(setting.value), setting.version
        else:
            current, found = run(lambda: use.overbooking_policy(deps, CLI_ACTOR, site))
            version = found.version if found else 0
    if as_json:
        emit({"site_id": site, **current.to_value(), "version": version})
        return
    _table(f"overbooking policy of {site} (version {version})", ["mode", "max per session", "risk tolerance",
                                                                  "opted out"],
           [[current.mode, current.max_per_session, current.risk_tolerance,
             ", ".join(sorted(current.clinicians_opted_out)) or "-"]])
