"""`careflow plan ...`: optimized plans from a terminal (day-of-surgery sequencing first)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.services import sequencing as use

__all__ = ["plan_app"]

plan_app = typer.Typer(no_args_is_help=True, help="Optimized plans: day-of-surgery sequencing.")
CLI_ACTOR = Actor("cli", frozenset({"admin"}))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--date: {text!r} is not a date (YYYY-MM-DD)")


def _local(ts: int, zone: ZoneInfo) -> str:
    return f"{datetime.fromtimestamp(ts, UTC).astimezone(zone):%H:%M}"


def _print(p: use.Proposal) -> None:
    zone, r = ZoneInfo(p.timezone), p.result
    objective = "-" if r.objective is None else str(r.objective)
    console.print(f"{p.site_id} {p.day.isoformat()} ({p.timezone}): {r.status.value}, objective {objective}, "
                  f"{len(r.cases)} case(s), {len(r.moved)} moved, {r.seconds:g} s (seed {r.seed}), "
                  f"proposal token {p.token}",
                  highlight=False, markup=False)
    surgeons = use.surgeons_of(p.problem)
    for room in p.problem.rooms:
        mine = [c for c in r.cases if c.room_id == room.id]
        if not mine:
            continue
        table = Table(title=f"{room.id} (open {', '.join(f'{_local(a, zone)}-{_local(b, zone)}' for a, b in room.open)})")
        for column in ("#", "case", "service", "patient", "surgeon", "start-end", "moved (min)", "room before"):
            table.add_column(column)
        for c in mine:
            table.add_row(str(c.order), c.booking_id, c.service_code, c.patient_id,
                          ", ".join(surgeons.get(c.booking_id, ())) or "-",
                          f"{_local(c.start, zone)}-{_local(c.end, zone)}",
                          f"{c.moved_minutes:+d}" if c.moved else "", c.booked_room_id if c.room_id != c.booked_room_id else "")
        console.print(table)
    if r.penalties:
        table = Table(title="penalties (soft constraints)")
        for column in ("rule", "amount", "weight", "cost", "as booked", "what"):
            table.add_column(column)
        booked = {b.name: b.cost for b in r.booked_penalties}
        for pen in r.penalties:
            table.add_row(pen.name, str(pen.amount), str(pen.weight), str(pen.cost), str(booked.get(pen.name, "")),
                          pen.detail)
        console.print(table)
    for c in r.moved:
        console.print(f"{c.booking_id} moved: {'; '.join(c.reasons)}", highlight=False, markup=False, soft_wrap=True)
    for line in r.explanation:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_report(report: use.ApplyReport) -> None:
    console.print(f"applied {len(report.applied)} move(s), refused {len(report.refused)}, "
                  f"{len(report.interim)} interim step(s), {len(report.restored)} put back", highlight=False)
    for r in report.refused:
        console.print(f"refused {r.booking_id}: {', '.join(r.codes)}: {r.message}", highlight=False,
                      markup=False, soft_wrap=True)


@plan_app.command("sequence")
def sequence_(
    site: Annotated[str, typer.Option("--site", help="the site's id")] = "",
    day: Annotated[str, typer.Option("--date", help="the day (YYYY-MM-DD), in the site's local time")] = "",
    time_limit: Annotated[float, typer.Option("--time-limit", help="solver seconds (default 10)")] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="the solver's random seed")] = 0,
    allow_room_change: Annotated[bool, typer.Option("--allow-room-change",
                                                    help="cases may move to another room that fits")] = False,
    allow_swaps: Annotated[bool, typer.Option("--allow-swaps",
                                              help="propose swaps too (applied by parking a case)")] = False,
    overtime: Annotated[int, typer.Option("--overtime-allowance",
                                          help="minutes a room may run past its close, penalized")] = 0,
    ratio: Annotated[int, typer.Option("--anesthesia-ratio",
                                       help="rooms one anesthesiologist may cover at once")] = 1,
    apply: Annotated[bool, typer.Option("--apply", help="re-time the bookings as proposed")] = False,
    reason: Annotated[str, typer.Option("--reason", help="why (required with --apply)")] = "",
    token: Annotated[str | None, typer.Option("--proposal-token",
                                              help="with --apply: the token of the proposal reviewed")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Propose the order and start times of a site's operating day in each room (and apply them)."""
    if not site.strip():
        fail("--site: name the site (its id)")
    if not day.strip():
        fail("--date: name the day (YYYY-MM-DD)")
    when = _day(day)
    if not 0 < time_limit <= use.MAX_TIME_LIMIT:
        fail(f"--time-limit: must be more than 0 and at most {use.MAX_TIME_LIMIT:g} seconds")
    if not 0 <= seed < 2**31:
        fail("--seed: must be from 0 to 2147483647")
    if not 0 <= overtime <= 240:
        fail("--overtime-allowance: must be from 0 to 240 minutes")
    if not 1 <= ratio <= 4:
        fail("--anesthesia-ratio: must be from 1 to 4 rooms")
    if apply and not reason.strip():
        fail("--reason: applying a proposal needs a reason")
    if apply and ratio > 1:
        fail(f"--anesthesia-ratio: {use.RATIO_NOT_APPLIED}")
    with opened(db) as app:
        request = run(lambda: use.SequenceRequest(site, when, time_limit, seed, allow_room_change=allow_room_change,
                                                  overtime_allowance_minutes=overtime, anesthesia_ratio=ratio,
                                                  allow_swaps=allow_swaps))
        proposal = run(lambda: use.propose(app.deps, CLI_ACTOR, request), as_json)
        applying = apply and (proposal.result.has_proposal or token is not None)
        report = run(lambda: use.apply(app.deps, CLI_ACTOR, proposal, reason, token), as_json) \
            if applying else None
    if as_json:
        doc = use.proposal_dict(proposal)
        if report is not None:
            doc["applied"] = use.report_dict(report)
        emit(doc)
    else:
        _print(proposal)
        if report is not None:
            _print_report(report)
    if apply and (report is None or report.refused):  # nothing to apply, or the core refused some
        raise typer.Exit(1)


from careflow.cli.admission_plan import admissions, weights_app  # noqa: E402  (the admission plan's commands)

plan_app.command("admissions")(admissions)
plan_app.add_typer(weights_app, name="weights")
