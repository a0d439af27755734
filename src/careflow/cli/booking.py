"""``careflow find | check | hold | book | cancel | show``: the booking path from a terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.table import Table

from careflow.api.schemas import BookingOut, FindBody, OptionIO, ViolationOut
from careflow.cli.common import AsJson, Db, console, emit, fail, opened, read_json, run
from careflow.domain.access import Actor
from careflow.domain.bookings import Urgency
from careflow.domain.commands import (
    BookHold,
    BookOption,
    CancelBooking,
    CheckOption,
    OverrideRequest,
    PlaceHold,
    RescheduleBooking,
)
from careflow.domain.errors import InvalidRequest
from careflow.domain.options import Option
from careflow.services import booking as use
from careflow.services.finding import find as find_use_case

ACTOR_HELP = "who is acting (an id, recorded in the audit trail)"


def _actor(actor: str, roles: str) -> Actor:
    return Actor(actor, frozenset(r.strip() for r in roles.split(",") if r.strip()))


def _when(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{field} must be an ISO datetime with an offset, e.g. 2026-12-01T08:00:00-05:00")
    if value.tzinfo is None:
        fail(f"{field} must carry a UTC offset or zone (got {text})")
    return value


def _option(path: str, rank: int) -> Option:
    data = read_json(path)
    if isinstance(data, dict) and "options" in data:
        options = data["options"]
        if not isinstance(options, list):
            fail(f"{path}: options must be a list (a find --json output)")
        if not 1 <= rank <= len(options):
            fail(f"{path} has {len(options)} options; --rank {rank} is out of range")
        data = options[rank - 1]
    if not isinstance(data, dict):
        fail(f"{path} must be an option (a JSON object) or a find --json output")
    try:
        return OptionIO.model_validate(data).to_domain()
    except ValidationError as exc:
        fail(f"{path}: {_invalid(exc)}")
    except InvalidRequest as exc:
        fail(f"{path}: {exc.message}")


FIND_FLAGS = {"service_id": "--service", "patient_id": "--patient", "earliest": "--earliest",
              "latest": "--latest", "within_days": "--days", "site_ids": "--site", "limit": "--limit",
              "reschedule_of": "--reschedule"}


def _invalid(exc: ValidationError, flags: dict[str, str] | None = None) -> str:
    """The first error as ``field: message``, the field named as its flag when it has one."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if loc and flags and loc[0] in flags:
        loc = [flags[loc[0]]]
    where = ".".join(loc)
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def _override(reason: str | None) -> OverrideRequest | None:
    if reason is None:
        return None
    if not reason.strip():
        fail("an override needs a reason (--override must not be blank)")
    return OverrideRequest(reason)


def find(
    service: Annotated[str, typer.Option("--service", help="service id or code, e.g. svc-tka")],
    patient: Annotated[str, typer.Option("--patient", help="patient id, e.g. pat-00001")],
    earliest: Annotated[str | None, typer.Option(help="ISO datetime with offset (default: now)")] = None,
    latest: Annotated[str | None, typer.Option(help="ISO datetime with offset (default: earliest + --days)")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="window length when --latest is omitted")] = 14,
    site: Annotated[list[str] | None, typer.Option("--site", help="limit to these sites (repeatable)")] = None,
    urgency: Annotated[Urgency, typer.Option("--urgency")] = Urgency.ROUTINE,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    reschedule: Annotated[str | None, typer.Option("--reschedule", help="a booking being moved: its own time counts as free")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Ranked options where every required resource is free at once."""
    try:
        body = FindBody(service_id=service, patient_id=patient, earliest=_when(earliest, "--earliest"),
                        latest=_when(latest, "--latest"), within_days=days, site_ids=site or [],
                        urgency=urgency, limit=limit, reschedule_of=reschedule)
    except ValidationError as exc:
        fail(_invalid(exc, FIND_FLAGS))
    with opened(db) as app:
        result = run(lambda: find_use_case(body.to_domain(app.deps.clock()), app.deps))
        with app.deps.uow() as uow:
            zones: dict[str, ZoneInfo] = {s.id: s.zone for s in app.deps.catalogs.get(uow).sites.values()}
    options = [OptionIO.of(o, i + 1) for i, o in enumerate(result.options)]
    if as_json:
        emit({"options": [o.model_dump(mode="json") for o in options],
              "blockers": [ViolationOut.of(v).model_dump() for v in result.blockers],
              "considered": result.considered, "proven": result.proven, "cp_sat": result.cp_sat})
        return
    _print_options(options, zones)
    for v in result.blockers[:10]:
        console.print(f"[yellow]{v.code.value}[/] {v.subject}: {v.message}")


def _print_options(options: list[OptionIO], zones: dict[str, ZoneInfo]) -> None:
    table = Table(title=f"{len(options)} option(s)")
    for col in ("rank", "site", "start (site time)", "resources", "score", "why"):
        table.add_column(col)
    for o in options:
        people = ", ".join(f"{a.role}={a.resource_id}" for a in o.allocations)
        why = "; ".join(r.detail for r in o.reasons if r.points)
        local = o.start.astimezone(zones[o.site_id]).strftime("%a %Y-%m-%d %H:%M %Z")
        table.add_row(str(o.rank), o.site_id, local, people, f"{o.score:.1f}", why or "earliest")
    console.print(table)


def check(
    option_file: Annotated[str, typer.Option("--option", help="an option, or a find --json output")],
    rank: Annotated[int, typer.Option("--rank", help="which option of a find output")] = 1,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Every violation an option would meet if booked now (writes nothing)."""
    option = _option(option_file, rank)
    with opened(db) as app:
        violations = run(lambda: use.check(CheckOption(option, _actor("cli", "admin")), app.deps))
    if as_json:
        emit({"ok": not violations, "violations": [ViolationOut.of(v).model_dump() for v in violations]})
        return
    if not violations:
        console.print("[green]ok:[/] every dependency holds")
        return
    table = Table(title="violations")
    for col in ("code", "severity", "subject", "message", "remedy"):
        table.add_column(col)
    for v in violations:
        table.add_row(v.code.value, v.severity.value, v.subject, v.message, v.remedy)
    console.print(table)
    raise typer.Exit(1)


def _show(booking: Any, as_json: bool) -> None:
    out = BookingOut.of(booking)
    if as_json:
        emit(out.model_dump(mode="json"))
        return
    console.print(f"[bold]{out.id}[/] {out.status} {out.service_id} for {out.patient_id} at {out.site_id}, "
                  f"{out.start.isoformat()} → {out.end.isoformat()}")
    for a in out.allocations:
        console.print(f"  {a.role:<22} {a.resource_id:<28} {a.start.isoformat()} → {a.end.isoformat()}")


def hold(
    option_file: Annotated[str, typer.Option("--option", help="an option, or a find --json output")],
    rank: Annotated[int, typer.Option("--rank")] = 1,
    minutes: Annotated[int | None, typer.Option("--minutes", min=1, max=1440, help="hold time (default 10)")] = None,
    actor: Annotated[str, typer.Option("--actor", help=ACTOR_HELP)] = "cli",
    roles: Annotated[str, typer.Option("--roles")] = "scheduler",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Hold an option until it is booked or expires."""
    option = _option(option_file, rank)
    with opened(db) as app:
        booking = run(lambda: use.place_hold(PlaceHold(option, _actor(actor, roles), minutes), app.deps),
                      as_json)
    _show(booking, as_json)


def book(
    option_file: Annotated[str | None, typer.Option("--option", help="an option, or a find --json output")] = None,
    rank: Annotated[int, typer.Option("--rank")] = 1,
    hold_id: Annotated[str | None, typer.Option("--hold", help="book this hold instead of an option")] = None,
    override: Annotated[str | None, typer.Option("--override", help="accept soft violations, with this reason")] = None,
    actor: Annotated[str, typer.Option("--actor", help=ACTOR_HELP)] = "cli",
    roles: Annotated[str, typer.Option("--roles", help="comma-separated roles of the actor")] = "scheduler",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Book an option (or a hold): all or nothing; refusals list their violations."""
    if (option_file is None) == (hold_id is None):
        fail("give exactly one of --option or --hold")
    who = _actor(actor, roles)
    ovr = _override(override)
    with opened(db) as app:
        if hold_id is not None:
            booking = run(lambda: use.book_hold(BookHold(hold_id, who, ovr), app.deps), as_json)
        else:
            assert option_file is not None
            option = _option(option_file, rank)
            booking = run(lambda: use.book_option(BookOption(option, who, ovr), app.deps), as_json)
    _show(booking, as_json)


def cancel(
    booking_id: Annotated[str, typer.Argument(help="the booking (or hold) id")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)")],
    actor: Annotated[str, typer.Option("--actor", help=ACTOR_HELP)] = "cli",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a booking with a reason, releasing everything it held."""
    with opened(db) as app:
        booking = run(lambda: use.cancel(CancelBooking(booking_id, reason, _actor(actor, "scheduler")),
                                         app.deps), as_json)
    _show(booking, as_json)


def reschedule(
    booking_id: Annotated[str, typer.Argument(help="the booking to move")],
    option_file: Annotated[str, typer.Option("--option", help="an option, or a `find --reschedule` --json output")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)")],
    rank: Annotated[int, typer.Option("--rank")] = 1,
    actor: Annotated[str, typer.Option("--actor", help=ACTOR_HELP)] = "cli",
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Move a booking to another option atomically; on refusal it keeps its time."""
    option = _option(option_file, rank)
    with opened(db) as app:
        booking = run(lambda: use.reschedule(
            RescheduleBooking(booking_id, option, reason, _actor(actor, "scheduler")), app.deps), as_json)
    _show(booking, as_json)


def show(booking_id: str = typer.Argument(...), db: Db = None, as_json: AsJson = False) -> None:
    """Show one booking."""
    with opened(db) as app, app.deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    if booking is None:
        fail(f"booking {booking_id!r} not found")
    _show(booking, as_json)
