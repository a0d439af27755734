"""Day-of-surgery sequencing use cases: propose the order of a site's operating day, and
apply a proposal through the booking core.

``propose`` reads, in one transaction, the site's local day (midnight to midnight in its
zone, so 23 or 25 hours across a daylight-saving change), the cases booked or held in its
operating rooms that overlap it, their rooms' open hours, and for every other resource
they hold (surgeons and other clinicians, anesthesia, staff pools, equipment) its hours
on duty at the site and what bookings outside the plan hold of it; builds the
``DayProblem`` (``day_problem``) and solves it (``planning/sequencing``). Cases under way,
arrived, begun before now or before the day are locked. A child (under 18 on the day) and
an urgent or emergent case are priority cases; nothing else about a patient is read.

``apply`` re-times each moved case with the core's ``reschedule`` (one transaction per case,
every check run again: the core has the last word and audits each move), in passes: a move
refused because another case still holds the time is tried again once that case has
moved, and a swap is broken by parking one case at a free time first. It reports what it
applied and what the core refused, with the violation codes, and audits the whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from careflow.domain.access import Actor, Permission
from careflow.domain.bookings import Allocation, Booking, BookingStatus, Urgency
from careflow.domain.commands import RescheduleBooking
from careflow.domain.errors import CareflowError, Conflict, InvalidRequest, NotFound, PermissionDenied
from careflow.domain.ids import ResourceId
from careflow.domain.options import Option
from careflow.domain.timespans import from_ts, to_ts
from careflow.planning.sequencing import MAX_TIME_LIMIT, sequence
from careflow.planning.sequencing_problem import CasePlan, DayProblem, SequenceResult, SharedKind, Weights
from careflow.planning.sequencing_rules import Grid
from careflow.planning.sequencing_steps import moving_order, park
from careflow.services.booking import BookingDeps, reschedule
from careflow.services.ports import AuditEntry
from careflow.services.sequencing_day import read_day

__all__ = ["MAX_TIME_LIMIT", "RATIO_NOT_APPLIED", "Applied", "ApplyReport", "Proposal", "Refused",
           "SequenceRequest", "apply", "proposal_dict", "propose", "report_dict", "surgeons_of"]

MAX_DAYS_AWAY = 366
# codes another case of the plan may cause while it still holds the time: tried again later
RETRY_CODES = frozenset({"RESOURCE_BOOKED", "STAFF_COVERAGE_SHORT", "EQUIPMENT_NOT_STERILE",
                         "CAPACITY_EXCEEDED"})
STALE = "CHANGED_SINCE_PROPOSED"
RATIO_NOT_APPLIED = ("a proposal with anesthesia_ratio above 1 cannot be applied: the booking core books "
                     "an anesthesiologist for one room at a time")


@dataclass(frozen=True)
class SequenceRequest:
    """What to sequence and by which policy."""

    site_id: str
    day: date
    time_limit: float = 10.0
    seed: int = 0
    weights: Weights = field(default_factory=Weights)
    allow_room_change: bool = False
    overtime_allowance_minutes: int = 0
    anesthesia_ratio: int = 1  # rooms one anesthesiologist may cover at once (a named clinician)
    allow_swaps: bool = False  # propose moves that need a case parked on the way to apply

    def __post_init__(self) -> None:
        if not 0 <= self.overtime_allowance_minutes <= 240:
            raise InvalidRequest("overtime_allowance_minutes must be from 0 to 240",
                                 "overtime_allowance_minutes")
        if not 1 <= self.anesthesia_ratio <= 4:
            raise InvalidRequest("anesthesia_ratio must be from 1 to 4", "anesthesia_ratio")
        if not 0 < self.time_limit <= MAX_TIME_LIMIT:
            raise InvalidRequest(f"time_limit must be more than 0 and at most {MAX_TIME_LIMIT:g} seconds",
                                 "time_limit")
        if not 0 <= self.seed < 2**31:
            raise InvalidRequest("seed must be from 0 to 2147483647", "seed")


@dataclass(frozen=True)
class Proposal:
    """A day's proposal: the problem it answers and the result."""

    site_id: str
    day: date
    timezone: str
    problem: DayProblem
    result: SequenceResult
    versions: dict[str, int]  # each case's booking version when read (apply refuses a changed one)
    anesthesia_ratio: int = 1  # as requested; above 1 the proposal is advice only (see ``apply``)

    @property
    def token(self) -> str:
        """A fingerprint of what applying would do: every case's room and start and the booking
        versions they were read at. ``apply`` given the token a coordinator reviewed refuses a
        proposal that has changed since (a booking moved, or the solver stopped elsewhere)."""
        digest = hashlib.sha256()
        for c in sorted(self.result.cases, key=lambda c: c.booking_id):
            digest.update(f"{c.booking_id}|{c.room_id}|{c.start}|{self.versions.get(c.booking_id)};".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Applied:
    """A case the core re-timed (``interim``: parked on the way to its place)."""

    booking_id: str
    room_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Refused:
    """A case the core would not move, with its violation codes and message."""

    booking_id: str
    codes: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class ApplyReport:
    """What ``apply`` did: the cases moved, those refused, interim parking moves, and the
    parked cases put back at their booked time when their move was refused in the end."""

    applied: tuple[Applied, ...] = ()
    refused: tuple[Refused, ...] = ()
    interim: tuple[Applied, ...] = ()
    restored: tuple[Applied, ...] = ()


def _check(actor: Actor, request: SequenceRequest, now: datetime) -> None:
    if abs((request.day - now.date()).days) > MAX_DAYS_AWAY:
        raise InvalidRequest(f"date must be within {MAX_DAYS_AWAY} days of today", "date")
    if not actor.may_see_site(request.site_id):
        raise NotFound("site", request.site_id)


def propose(deps: BookingDeps, actor: Actor, request: SequenceRequest) -> Proposal:
    """The proposed order and start times of the site's operating day (nothing is written
    but the audit entry of the read: the patient ids of the cases it returns)."""
    actor.require(Permission.PLAN_READ)
    now = deps.clock()
    _check(actor, request, now)
    with deps.uow() as uow:
        catalog = deps.catalogs.get(uow)
        site = catalog.site(request.site_id)
        lo = datetime.combine(request.day, time(0), tzinfo=site.zone)
        hi = datetime.combine(request.day + timedelta(days=1), time(0), tzinfo=site.zone)
        day = read_day(uow, catalog, site, (to_ts(lo), to_ts(hi)), now, request.anesthesia_ratio)
    problem = DayProblem(day.origin, day.horizon, day.rooms, day.shared, day.cases, request.weights,
                         request.overtime_allowance_minutes * 60, request.allow_room_change,
                         request.allow_swaps, site.timezone)
    result = sequence(problem, request.time_limit, request.seed)
    with deps.uow(write=True) as uow:
        uow.audit(AuditEntry(actor.id, "plan.sequence", "site", site.id, "ok", detail={
            "date": request.day.isoformat(), "status": result.status.value, "cases": len(problem.cases),
            "bookings": [c.booking_id for c in problem.cases][:100],
            "patients": sorted({c.patient_id for c in problem.cases})[:100]}))
        uow.commit()
    return Proposal(site.id, request.day, site.timezone, problem, result, day.versions,
                    request.anesthesia_ratio)


# --- applying ------------------------------------------------------------------------------


def _option(booking: Booking, room_id: str, start: datetime, end: datetime) -> Option:
    allocations = tuple(Allocation(ResourceId(room_id) if a.role == "room" else a.resource_id, a.role,
                                   a.start, a.end, a.lane) for a in booking.allocations)
    return Option(booking.service_id, booking.patient_id, booking.site_id, start, end, allocations,
                  booking.items, booking.urgency if isinstance(booking.urgency, Urgency) else Urgency.ROUTINE)


def _move(deps: BookingDeps, actor: Actor, booking_id: str, room_id: str, start: datetime,
          duration: timedelta, reason: str) -> Refused | None:
    """One reschedule through the core; the refusal (codes, message) when it says no."""
    with deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    if booking is None:
        return Refused(booking_id, ("NOT_FOUND",), f"booking {booking_id} is gone")
    try:
        reschedule(RescheduleBooking(booking_id, _option(booking, room_id, start, start + duration), reason,
                                     actor), deps)
    except Conflict as exc:
        codes = tuple(dict.fromkeys(v.code.value for v in exc.violations))
        said = "; ".join(dict.fromkeys(v.message for v in exc.violations))
        return Refused(booking_id, codes or ("CONFLICT",), f"{exc}: {said}" if said else str(exc))
    except PermissionDenied:
        raise
    except (InvalidRequest, NotFound) as exc:
        return Refused(booking_id, ("INVALID",), str(exc))
    except CareflowError as exc:
        return Refused(booking_id, (exc.__class__.__name__.upper(),), str(exc))
    return None


def _stale(deps: BookingDeps, proposal: Proposal, plans: list[CasePlan]) -> list[Refused]:
    """Moves whose booking changed since the proposal was made (apply leaves them alone)."""
    out: list[Refused] = []
    with deps.uow() as uow:
        for plan in plans:
            b = uow.bookings.get(plan.booking_id)
            if b is None or b.version != proposal.versions.get(plan.booking_id) or \
                    b.status not in (BookingStatus.BOOKED, BookingStatus.HELD):
                out.append(Refused(plan.booking_id, (STALE,),
                                   "the booking changed since the proposal was made"))
    return out


def _parking(problem: DayProblem, now: dict[str, tuple[str, int]], candidates: list[str],
             going: dict[str, tuple[str, int]]) -> tuple[str, int] | None:
    """The case to park and where: the first that has a time clear of the others' destinations,
    else the first that has a free time at all."""
    for strict in (True, False):
        for b in candidates:
            spot = park(problem, now, b, going, strict=strict)
            if spot is not None:
                return b, spot
    return None


def _restore(deps: BookingDeps, actor: Actor, problem: DayProblem, parked: list[str],
             reason: str) -> tuple[Applied, ...]:
    """Put parked cases whose move failed back at their booked time (where the core lets them)."""
    out: list[Applied] = []
    for case in (c for c in problem.cases if c.booking_id in parked):
        start, length = from_ts(case.start), timedelta(seconds=case.duration)
        if _move(deps, actor, case.booking_id, case.room_id, start, length, reason) is None:
            out.append(Applied(case.booking_id, case.room_id, start, start + length))
    return tuple(out)


def apply(deps: BookingDeps, actor: Actor, proposal: Proposal, reason: str,
          reviewed: str | None = None) -> ApplyReport:
    """Re-time the proposal's moved cases through ``reschedule``, each all-or-nothing, in an
    order that lets a feasible proposal through; refusals are reported, not raised. With
    ``reviewed`` (the token of the proposal a coordinator looked at), a proposal that is not
    that one is refused as a whole (Conflict) and nothing is written."""
    actor.require(Permission.PLAN_WRITE)
    actor.require_site(proposal.site_id)
    if not reason.strip():
        raise InvalidRequest("a reason is required to apply a proposal", "reason")
    if proposal.anesthesia_ratio > 1:
        raise InvalidRequest(RATIO_NOT_APPLIED, "anesthesia_ratio")
    if reviewed is not None and reviewed != proposal.token:
        raise Conflict(f"the proposal is not the one reviewed (token {proposal.token}, reviewed {reviewed}): "
                       "bookings changed or the solver ended elsewhere; review it again")
    if not proposal.result.has_proposal:
        raise InvalidRequest(f"the proposal is {proposal.result.status.value}: nothing to apply", "apply")
    problem, grid = proposal.problem, Grid(proposal.problem.origin)
    moved = list(proposal.result.moved)
    refused = _stale(deps, proposal, moved)
    skip = {r.booking_id for r in refused}
    plans: dict[str, CasePlan] = {p.booking_id: p for p in moved if p.booking_id not in skip}
    targets: dict[str, tuple[str, int]] = {b: (p.room_id, grid.down(p.start)) for b, p in plans.items()}
    now: dict[str, tuple[str, int]] = {c.booking_id: (c.room_id, grid.down(c.start)) for c in problem.cases}
    pending = moving_order(problem, targets)
    durations: dict[str, timedelta] = {c.booking_id: timedelta(seconds=c.duration) for c in problem.cases}
    applied: list[Applied] = []
    interim: list[Applied] = []
    last: dict[str, Refused] = {}
    parked: set[str] = set()
    why = f"day sequence {proposal.day.isoformat()}: {reason.strip()}"
    while pending:
        progress = False
        for b in list(pending):
            p = plans[b]
            refusal = _move(deps, actor, b, p.room_id, from_ts(p.start), durations[b], why)
            if refusal is None:
                pending.remove(b)
                now[b] = targets[b]
                applied.append(Applied(b, p.room_id, from_ts(p.start), from_ts(p.end)))
                progress = True
            elif not set(refusal.codes) <= RETRY_CODES:
                pending.remove(b)
                refused.append(refusal)
            else:
                last[b] = refusal
        if pending and not progress:
            going = {b: targets[b] for b in pending}
            found = _parking(problem, now, [b for b in pending if b not in parked], going)
            if found is None:
                break
            candidate, spot = found
            parked.add(candidate)
            room_id = now[candidate][0]
            if _move(deps, actor, candidate, room_id, from_ts(grid.ts(spot)), durations[candidate],
                     f"{why} (interim step)") is None:
                now[candidate] = (room_id, spot)
                start = from_ts(grid.ts(spot))
                interim.append(Applied(candidate, room_id, start, start + durations[candidate]))
    refused += [last[b] for b in pending]
    undo = [b for b in pending if b in parked]
    restored = _restore(deps, actor, problem, undo, f"{why} (undoing an interim step)")
    report = ApplyReport(tuple(applied), tuple(refused), tuple(interim), restored)
    with deps.uow(write=True) as uow:
        uow.audit(AuditEntry(actor.id, "plan.sequence.apply", "site", proposal.site_id,
                             "ok" if not refused else "partial", reason.strip(),
                             detail=_detail(proposal, report)))
        uow.commit()
    return report


def _detail(proposal: Proposal, report: ApplyReport) -> dict[str, Any]:
    return {"date": proposal.day.isoformat(), "applied": [a.booking_id for a in report.applied],
            "refused": {r.booking_id: list(r.codes) for r in report.refused},
            "interim": [a.booking_id for a in report.interim],
            "restored": [a.booking_id for a in report.restored]}


# --- the JSON forms (the CLI's --json; the API has its schemas) ---------------------------


def surgeons_of(problem: DayProblem) -> dict[str, tuple[str, ...]]:
    """Each case's surgeons (the clinicians in one room at a time) by booking id."""
    kinds = {s.id: s.kind for s in problem.shared}
    return {c.booking_id: tuple(u.resource_id for u in c.uses if kinds[u.resource_id] is SharedKind.SURGEON)
            for c in problem.cases}


def proposal_dict(p: Proposal) -> dict[str, Any]:
    """A proposal as JSON: status, objective, penalties, per-case place, explanations."""
    r, surgeons = p.result, surgeons_of(p.problem)
    return {"site_id": p.site_id, "date": p.day.isoformat(), "timezone": p.timezone, "status": r.status.value,
            "proposal_token": p.token,
            "objective": r.objective, "seconds": r.seconds, "seed": r.seed, "time_limit": r.time_limit,
            "penalties": [{"name": x.name, "amount": x.amount, "weight": x.weight, "cost": x.cost,
                           "detail": x.detail} for x in r.penalties],
            "booked_penalties": [{"name": x.name, "amount": x.amount, "weight": x.weight, "cost": x.cost}
                                 for x in r.booked_penalties],
            "cases": [{"booking_id": c.booking_id, "patient_id": c.patient_id, "service": c.service_code,
                       "room_id": c.room_id, "order": c.order, "start": from_ts(c.start).isoformat(),
                       "end": from_ts(c.end).isoformat(), "booked_room_id": c.booked_room_id,
                       "booked_start": from_ts(c.booked_start).isoformat(), "moved": c.moved,
                       "moved_minutes": c.moved_minutes, "surgeons": list(surgeons.get(c.booking_id, ())),
                       "reasons": list(c.reasons)} for c in r.cases],
            "explanation": list(r.explanation)}


def report_dict(report: ApplyReport) -> dict[str, Any]:
    """What ``apply`` did, as JSON."""
    def moved(a: Applied) -> dict[str, Any]:
        return {"booking_id": a.booking_id, "room_id": a.room_id, "start": a.start.isoformat(),
                "end": a.end.isoformat()}

    return {"applied": [moved(a) for a in report.applied], "interim": [moved(a) for a in report.interim],
            "restored": [moved(a) for a in report.restored],
            "refused": [{"booking_id": x.booking_id, "codes": list(x.codes), "message": x.message}
                        for x in report.refused]}
