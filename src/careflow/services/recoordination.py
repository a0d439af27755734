"""Re-coordination: when capacity changes, the bookings it touches are fixed at once.

A capacity event (a clinician called out, equipment went down, maintenance, a stock
count, an authorization withdrawn) arrives through the outbox. Its handler records a
*run* keyed by the event id (so a redelivered event starts nothing twice); the runner
then takes each affected booking, earliest first:

1. re-check it as it stands (its own allocations count as its own): still valid → left
   alone (``unchanged``);
2. otherwise look for the least disruptive fix, same site first: another qualified
   clinician, room or device at the same time, else another time the same day. The
   disruption of an option is the minutes it moves the patient plus a penalty per
   resource it changes;
3. apply it when ``Policy`` allows (by default: same site, same local day, and the
   patient hears of the change at least 24 h before the earlier of the old and new
   times), and tell the patient through the notification port (``auto_resolved``);
4. else put the booking on the exception queue (category ``recoordination``) with the
   ranked alternatives attached, same-day ones first, then the network over the coming
   days (``queued``).

Every step is safe to repeat: a booking already fixed re-checks as valid, an open
exception for the booking is not raised twice, notifications carry a key. The handler is
``Standalone`` (it works through the use cases' own transactions): its inbox claim makes
one process run an event at a time, and a run a crash interrupted is delivered again
when the claim's lease lapses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from careflow.domain.access import Actor
from careflow.domain.bookings import Allocation, Booking, BookingStatus
from careflow.domain.catalog import Catalog
from careflow.domain.commands import RescheduleBooking
from careflow.domain.errors import CareflowError
from careflow.domain.exceptions_queue import RaiseException
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import FindRequest, Option
from careflow.domain.sites import distance_km
from careflow.domain.violations import Violation, ViolationCode
from careflow.domain.violations import hard as hard_violation
from careflow.planning.rebalance import DEFAULT_IMPACT, RebalanceResult, impact_of, solve
from careflow.services import booking as booking_use
from careflow.services import exception_queue
from careflow.services.alternatives import option_doc
from careflow.services.booking import BookingDeps
from careflow.services.dispatch import Standalone
from careflow.services.finding import find
from careflow.services.ports import (
    BookingFilter,
    Notification,
    NotificationFailed,
    Notifier,
    UnitOfWork,
)
from careflow.services.rebalancing import Candidates, problem_of

__all__ = [
    "RECOORDINATOR",
    "TRIGGERS",
    "Outcome",
    "Policy",
    "RecoordinationDeps",
    "RunReport",
    "RunStore",
    "Trigger",
    "handle_event",
    "recoordinate",
    "start_run",
]

RECOORDINATOR = Actor("careflow-recoordination", frozenset({"admin"}))
TRIGGERS = ("ClinicianCalledOut", "ClinicianAvailabilityChanged", "EquipmentWentDown",
            "MaintenanceScheduled", "StockChanged", "AuthorizationChanged")
UNCHANGED, AUTO, QUEUED, FAILED, GONE = "unchanged", "auto_resolved", "queued", "failed", "gone"
JOINT, PER_BOOKING = "joint_plan", "per_booking"  # which path decided an outcome
JOINT_CANDIDATES = 30  # allowed same-day options per booking the plan chooses among (8 placed 40 of 54
# in bench/recoordination.py, 30 placed 44: every same-day option there)
MAX_AFFECTED = 5000
QUEUE_BATCH = 25  # queue items per transaction
Done = TypeVar("Done")


@dataclass(frozen=True, slots=True)
class Policy:
    """When a fix may be applied without a person: all of the conditions must hold."""

    auto_apply: bool = True
    same_site: bool = True
    same_day: bool = True
    min_notice_hours: float = 24.0
    alternatives: int = 5
    search_days: int = 3  # the booking's site: its day and this many after
    nearby_sites: int = 3  # other sites searched (nearest first) when its own has nothing
    joint: bool = True  # several bookings displaced at once: one plan for all (``planning.rebalance``)
    plan_seconds: float = 2.0  # the joint plan's time limit


@dataclass(frozen=True, slots=True)
class Trigger:
    """What changed, read from the event: resources closed over a window, a stock item at
    a site, or a patient's authorization for a service."""

    event_id: int
    event_type: str
    subject: str
    resource_ids: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    site_id: str | None = None
    sku: str | None = None
    patient_id: str | None = None
    service_id: str | None = None
    shortfall: int = 0
    closes_fully: bool = False  # every unit of the resources is gone over the window

    @classmethod
    def of_event(cls, event_id: int, event_type: str, payload: dict[str, Any]) -> Trigger | None:
        """The trigger an event carries, or None when it removes no capacity (an extra
        session, an approval)."""
        subject = str(payload.get("aggregate_id", ""))
        if event_type in ("ClinicianCalledOut", "EquipmentWentDown", "MaintenanceScheduled") or (
                event_type == "ClinicianAvailabilityChanged" and not payload.get("available")):
            start, end = _instant(payload.get("start")), _instant(payload.get("end"))
            if start is None or end is None:
                return None
            return cls(event_id, event_type, subject, (subject,), start, end,
                       closes_fully=payload.get("capacity_delta") is None)
        if event_type == "StockChanged" and int(payload.get("shortfall") or 0) > 0:
            return cls(event_id, event_type, subject, site_id=str(payload.get("site_id", "")),
                       sku=str(payload.get("sku", "")), shortfall=int(payload["shortfall"]))
        if event_type == "AuthorizationChanged" and payload.get("status") not in ("approved", "not_required"):
            return cls(event_id, event_type, subject, patient_id=str(payload.get("patient_id", "")),
                       service_id=str(payload.get("service_id", "")))
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "event_type": self.event_type, "subject": self.subject,
                "resource_ids": list(self.resource_ids),
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "site_id": self.site_id, "sku": self.sku, "patient_id": self.patient_id,
                "service_id": self.service_id, "shortfall": self.shortfall,
                "closes_fully": self.closes_fully}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trigger:
        return cls(int(d["event_id"]), str(d["event_type"]), str(d["subject"]),
                   tuple(d.get("resource_ids") or ()), _instant(d.get("start")), _instant(d.get("end")),
                   d.get("site_id"), d.get("sku"), d.get("patient_id"), d.get("service_id"),
                   int(d.get("shortfall") or 0), bool(d.get("closes_fully")))


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one affected booking."""

    booking_id: str
    result: str  # unchanged, auto_resolved, queued, failed, gone
    codes: tuple[str, ...] = ()
    detail: str = ""
    new_start: str | None = None
    exception_id: str | None = None
    path: str = PER_BOOKING  # joint_plan when the joint plan chose the move

    def to_dict(self) -> dict[str, Any]:
        return {"booking_id": self.booking_id, "result": self.result, "codes": list(self.codes),
                "detail": self.detail, "new_start": self.new_start, "exception_id": self.exception_id,
                "path": self.path}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        return cls(d["booking_id"], d["result"], tuple(d.get("codes") or ()), d.get("detail", ""),
                   d.get("new_start"), d.get("exception_id"), d.get("path", PER_BOOKING))


@dataclass
class RunReport:
    """One run: the trigger, when it ran, and the outcome per affected booking."""

    trigger: Trigger
    started_at: datetime
    finished_at: datetime | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    plan: RebalanceResult | None = None  # the joint plan, when this process made one (not stored)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    def summary(self) -> dict[str, Any]:
        return {"event_id": self.trigger.event_id, "event_type": self.trigger.event_type,
                "subject": self.trigger.subject, "affected": len(self.outcomes),
                "unchanged": self.count(UNCHANGED), "auto_resolved": self.count(AUTO),
                "queued": self.count(QUEUED), "failed": self.count(FAILED) + self.count(GONE),
                "planned_jointly": sum(1 for o in self.outcomes if o.path == JOINT),
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}


class RunStore(Protocol):
    """Runs, on the connection of one unit of work."""

    def add(self, run: RunReport) -> bool:
        """Insert a started run; False when the event has one already."""
        ...

    def get(self, event_id: int) -> RunReport | None: ...

    def finish(self, run: RunReport) -> None: ...

    def page(self, offset: int, limit: int, subject: str | None = None) -> tuple[list[RunReport], int]:
        """Runs, newest first (those about ``subject`` only, when given)."""
        ...


@dataclass(frozen=True)
class RecoordinationDeps:
    booking: BookingDeps
    notifier: Notifier
    runs_of: Callable[[UnitOfWork], RunStore]
    policy: Policy = Policy()


def handle_event(deps: RecoordinationDeps) -> Standalone:
    """The outbox handler for capacity events (it runs its own transactions)."""

    def handler(payload: dict[str, Any]) -> None:
        trigger = Trigger.of_event(int(payload["__event_id"]), str(payload["__event_type"]), payload)
        if trigger is not None:
            start_run(trigger, deps)

    return Standalone(handler)


def start_run(trigger: Trigger, deps: RecoordinationDeps) -> RunReport:
    """Record the run for the trigger's event (once) and carry it out; a run that a crash
    interrupted is carried out again (every step re-checks first), a finished one is
    returned as it is."""
    with deps.booking.uow(write=True) as uow:
        store = deps.runs_of(uow)
        if store.add(RunReport(trigger, deps.booking.clock())):
            uow.commit()
        run = store.get(trigger.event_id)
    if run is None:  # pragma: no cover - it was just written
        raise RuntimeError(f"re-coordination run {trigger.event_id} vanished")
    if run.finished_at is not None:
        return run
    return recoordinate(run, deps)


@dataclass
class _Queue:
    """Queue items a run raises, written in batches (one transaction each)."""

    open_items: dict[tuple[str, str], str]  # (booking, category) → an unresolved item's id
    pending: list[tuple[RaiseException, str]] = field(default_factory=list)

    def flush(self, deps: RecoordinationDeps) -> None:
        if self.pending:
            exception_queue.raise_many(self.pending, RECOORDINATOR, deps.booking.uow, deps.booking.clock)
            self.pending = []


def recoordinate(run: RunReport, deps: RecoordinationDeps) -> RunReport:
    """Fix, queue or leave alone each affected booking; record the outcomes."""
    began = time.perf_counter()
    done = {o.booking_id: o for o in run.outcomes}  # a resumed run keeps what it did
    affected = [b for b in _affected(run.trigger, deps) if b.id not in done]
    with deps.booking.uow() as uow:  # items already open for these bookings are not raised again
        wanted = {b.id for b in affected}
        queue = _Queue({(i.booking_id or "", i.category): i.id for i in uow.exceptions.unresolved()
                        if i.booking_id in wanted})
    planned: dict[str, Outcome] = {}
    if deps.policy.joint and deps.policy.auto_apply and not run.trigger.shortfall and len(affected) > 1:
        planned = _jointly(run, affected, deps, queue)
    for booking in affected:
        try:
            if booking.id in planned:
                outcome = planned[booking.id]
            elif run.trigger.shortfall:
                outcome = _short(booking, run.trigger, deps, queue)
            else:
                outcome = _one(booking, run.trigger, deps, queue)
        except CareflowError as exc:  # e.g. the booking was cancelled meanwhile
            outcome = _gone(booking, exc)
        done[booking.id] = outcome
        run.outcomes.append(outcome)
        if len(queue.pending) >= QUEUE_BATCH:
            queue.flush(deps)
    queue.flush(deps)
    run.finished_at = deps.booking.clock()
    run.seconds += time.perf_counter() - began
    with deps.booking.uow(write=True) as uow:
        deps.runs_of(uow).finish(run)
        uow.commit()
    return run


def _affected(trigger: Trigger, deps: RecoordinationDeps) -> list[Booking]:
    """Booked (confirmed) bookings from now on that the change may break, earliest first."""
    now = deps.booking.clock()
    found: dict[str, Booking] = {}
    with deps.booking.uow() as uow:
        if trigger.resource_ids and trigger.start and trigger.end:
            start, end = max(now, trigger.start), trigger.end
            if end <= start:
                return []
            for rid in trigger.resource_ids:
                flt = BookingFilter(resource_id=ResourceId(rid), status=BookingStatus.BOOKED,
                                    start_from=start - timedelta(days=1), start_to=end)
                for b in uow.bookings.find(flt, 0, MAX_AFFECTED)[0]:
                    if any(a.resource_id == rid and a.start < end and a.end > start for a in b.allocations):
                        found[b.id] = b
        elif trigger.sku and trigger.site_id:  # the latest cases lose their items first
            flt = BookingFilter(site_id=SiteId(trigger.site_id), status=BookingStatus.BOOKED, start_from=now)
            holding = [b for b in uow.bookings.find(flt, 0, MAX_AFFECTED)[0]
                       if any(i.sku == trigger.sku for i in b.items)]
            short = trigger.shortfall
            for b in sorted(holding, key=lambda b: (b.start, b.id), reverse=True):
                if short <= 0:
                    break
                found[b.id] = b
                short -= sum(i.quantity for i in b.items if i.sku == trigger.sku)
        elif trigger.patient_id:
            flt = BookingFilter(patient_id=PatientId(trigger.patient_id), status=BookingStatus.BOOKED,
                                start_from=now)
            for b in uow.bookings.find(flt, 0, MAX_AFFECTED)[0]:
                if not trigger.service_id or b.service_id == trigger.service_id:
                    found[b.id] = b
    return sorted(found.values(), key=lambda b: (b.start, b.id))


def _closed_under(booking: Booking, trigger: Trigger) -> Violation | None:
    """The violation a full closure certainly causes (no need to re-check the booking):
    one of its allocations lies on a closed resource inside the window."""
    if not (trigger.closes_fully and trigger.start and trigger.end):
        return None
    for a in booking.allocations:
        if a.resource_id in trigger.resource_ids and a.start < trigger.end and a.end > trigger.start:
            return hard_violation(ViolationCode.RESOURCE_UNAVAILABLE, a.resource_id,
                                  f"{a.resource_id} is unavailable ({trigger.event_type})", a.role)
    return None


def _gone(booking: Booking, exc: CareflowError) -> Outcome:
    return Outcome(booking.id, GONE, detail=f"{type(exc).__name__}: {exc}")


@dataclass
class _Broken:
    """An affected booking its hard violations break, with the options found at its site."""

    current: Booking
    hard: list[Violation]
    codes: tuple[str, ...]
    nearby: list[Option]  # its day and the next few
    same_day: list[Option]  # ranked, least disruptive first


def _assess(booking: Booking, trigger: Trigger, deps: RecoordinationDeps) -> Outcome | _Broken:
    """Leave a booking that still holds alone; search for one that is broken."""
    certain = _closed_under(booking, trigger)
    if certain is not None:  # a full closure over the allocation: broken, no re-check needed
        current, hard = booking, [certain]
    else:
        current, violations = booking_use.recheck(booking.id, deps.booking)
        hard = [v for v in violations if v.is_hard]
    if current.status is not BookingStatus.BOOKED:
        return Outcome(booking.id, GONE, detail=f"the booking is {current.status.value}")
    if not hard:
        return Outcome(booking.id, UNCHANGED)
    return _searched(current, hard, deps)


def _searched(current: Booking, hard: list[Violation], deps: RecoordinationDeps) -> _Broken:
    codes = tuple(sorted({v.code.value for v in hard}))
    nearby = _search(current, deps, same_site=True, days=1 + deps.policy.search_days)  # its day, the next few
    zone = _zone(current.site_id, deps)
    day = current.start.astimezone(zone).date()
    same_day = _ranked(current, [o for o in nearby if o.start.astimezone(zone).date() == day],
                       _clinician_roles(current, deps))
    return _Broken(current, hard, codes, nearby, same_day)


def _one(booking: Booking, trigger: Trigger, deps: RecoordinationDeps, queue: _Queue) -> Outcome:
    found = _assess(booking, trigger, deps)
    return found if isinstance(found, Outcome) else _settle(found, trigger, deps, queue)


def _settle(broken: _Broken, trigger: Trigger, deps: RecoordinationDeps, queue: _Queue,
            note: str = "", holding: dict[str, tuple[Allocation, ...]] | None = None) -> Outcome:
    """The per-booking path: the least disruptive allowed fix that still books, else the queue
    (``holding``, when given, learns where the booking now is)."""
    for option in broken.same_day[:3] if deps.policy.auto_apply else []:
        if not _allowed(broken.current, option, deps):
            continue
        moved = _apply(broken, option, trigger, deps, note)
        if moved is not None:
            if holding is not None:
                holding[broken.current.id] = option.allocations
            return moved
    return _queue_ranked(broken, trigger, deps, queue)


def _apply(broken: _Broken, option: Option, trigger: Trigger, deps: RecoordinationDeps, note: str = "",
           path: str = PER_BOOKING) -> Outcome | None:
    """Move the booking to ``option`` through the reschedule use case and tell the patient;
    None when someone took the time meanwhile (the store refuses it)."""
    current = broken.current
    try:
        moved = booking_use.reschedule(RescheduleBooking(
            current.id, option, f"re-coordinated after {trigger.event_type} (event {trigger.event_id})",
            RECOORDINATOR), deps.booking)
    except CareflowError:
        return None
    told = _tell_patient(moved, current, trigger, deps)
    return Outcome(current.id, AUTO, broken.codes, note + _what_changed(current, option) + told,
                   moved.start.isoformat(), path=path)


def _queue_ranked(broken: _Broken, trigger: Trigger, deps: RecoordinationDeps, queue: _Queue) -> Outcome:
    """Queue the booking with its ranked alternatives: same day first, then the next days, else
    other sites that day."""
    current, policy = broken.current, deps.policy
    roles = _clinician_roles(current, deps)
    later = _ranked(current, [o for o in broken.nearby if not any(_same(o, s) for s in broken.same_day)],
                    roles)
    ranked = (broken.same_day + later)[:policy.alternatives]
    if not ranked:  # nothing at its site in those days: other sites, that day
        ranked = _ranked(current, _search(current, deps, same_site=False), roles)[:policy.alternatives]
    return _queue(current, trigger, broken.hard, broken.codes, ranked, deps, queue)


def _jointly(run: RunReport, affected: list[Booking], deps: RecoordinationDeps,
             queue: _Queue) -> dict[str, Outcome]:
    """The joint path for several displaced bookings: search each as the per-booking path does,
    choose every move at once (``planning.rebalance``), apply them through the reschedule use
    case in the plan's order; a move that fails (the store is the last guard) and a booking
    the plan leaves unplaced take the per-booking path on a fresh search, which also sees what
    the moves freed; a booking with no allowed option is queued with alternatives still free."""
    trigger = run.trigger
    out: dict[str, Outcome] = {}
    holding: dict[str, tuple[Allocation, ...]] = {b.id: b.allocations for b in affected}
    broken: list[_Broken] = []
    for booking in affected:
        try:
            found = _assess(booking, trigger, deps)
        except CareflowError as exc:
            found = _gone(booking, exc)
        if isinstance(found, Outcome):
            out[booking.id] = found
        else:
            broken.append(found)
    options: dict[str, list[Option]] = {
        b.current.id: [o for o in b.same_day if _allowed(b.current, o, deps)][:JOINT_CANDIDATES]
               for b in broken}
    movable = [b for b in broken if options[b.current.id]]
    notes: dict[str, str] = {}
    if len(movable) > 1:
        notes = _apply_plan(run, movable, options, holding, deps, queue, out)
    for b in broken:  # the rest, one by one
        if b.current.id in out:
            continue
        taken = [a for other, held in holding.items() if other != b.current.id for a in held]
        still = _still_free(b, taken, deps)
        if b.current.id in notes or (b.nearby and not still.nearby):
            # the plan had options for it, or the moves took all it had: search again, after them
            settle = partial(_settle_afresh, b, trigger, deps, queue, notes.get(b.current.id, ""), holding)
        else:
            settle = partial(_settle, still, trigger, deps, queue, "", holding)
        out[b.current.id] = _guarded(b.current, settle, deps, queue)
    return out


def _settle_afresh(broken: _Broken, trigger: Trigger, deps: RecoordinationDeps, queue: _Queue, note: str,
                   holding: dict[str, tuple[Allocation, ...]]) -> Outcome:
    """The per-booking path on a fresh search."""
    return _settle(_searched(broken.current, broken.hard, deps), trigger, deps, queue, note, holding)


def _apply_plan(run: RunReport, movable: list[_Broken], options: dict[str, list[Option]],
                holding: dict[str, tuple[Allocation, ...]], deps: RecoordinationDeps, queue: _Queue,
                out: dict[str, Outcome]) -> dict[str, str]:
    """Solve the joint plan and apply its moves (retrying those that wait on another's);
    the note for each booking it did not settle, for its per-booking outcome."""
    by_id: dict[str, _Broken] = {b.current.id: b for b in movable}
    kept = [a for bid, allocations in holding.items() if bid not in by_id for a in allocations]
    with deps.booking.uow() as uow:
        problem = problem_of([Candidates(b.current, tuple(options[b.current.id])) for b in movable], kept,
                             uow, deps.booking, _catalog(deps))
    run.plan = plan = solve(problem, time_limit_s=deps.policy.plan_seconds)
    pending = [(by_id[c.booking_id], options[c.booking_id][int(c.move_key)]) for c in plan.in_order()
               if c.move_key is not None]
    notes = {c.booking_id: f"{plan.summary()}, not this one ({c.reason}); per booking: "
             for c in plan.choices if c.move_key is None}
    while pending:  # a move onto what another booking held waits until that one has moved (the plan
        # orders them; a retry covers a store that refused a move for a reason the plan cannot see)
        waiting = []
        for b, option in pending:
            moved = _guarded(b.current, partial(_apply, b, option, run.trigger, deps, f"{plan.summary()}; ",
                                                JOINT), deps, queue)
            if moved is None:
                waiting.append((b, option))
                continue
            out[b.current.id] = moved
            if moved.result == AUTO:
                holding[b.current.id] = option.allocations
        if len(waiting) == len(pending):
            break
        pending = waiting
    for b, _ in pending:
        notes[b.current.id] = f"{plan.summary()}; its planned move lost a race; per booking: "
    return notes


def _still_free(broken: _Broken, taken: Sequence[Allocation], deps: RecoordinationDeps) -> _Broken:
    """The booking with only the options whose single units nothing ``taken`` holds then (the
    store guards pools)."""
    resources = _catalog(deps).resources
    held: dict[str, list[Allocation]] = {}
    for t in taken:
        if resources[ResourceId(t.resource_id)].capacity == 1:
            held.setdefault(t.resource_id, []).append(t)

    def free(option: Option) -> bool:
        return not any(a.start < t.end and t.start < a.end
                       for a in option.allocations for t in held.get(a.resource_id, ()))

    return replace(broken, nearby=[o for o in broken.nearby if free(o)],
                   same_day=[o for o in broken.same_day if free(o)])


def _guarded(booking: Booking, settle: Callable[[], Done], deps: RecoordinationDeps,
             queue: _Queue) -> Done | Outcome:
    """One booking's step, its failure its own outcome; queue items flushed in batches."""
    outcome: Done | Outcome
    try:
        outcome = settle()
    except CareflowError as exc:
        outcome = _gone(booking, exc)
    if len(queue.pending) >= QUEUE_BATCH:
        queue.flush(deps)
    return outcome


def _short(booking: Booking, trigger: Trigger, deps: RecoordinationDeps, queue: _Queue) -> Outcome:
    """A case whose reserved items the count says are not on the shelf: nothing at its site
    can fix it before a delivery, so it goes to the queue with the options at other sites,
    and at its own site once the item's lead time has passed."""
    with deps.booking.uow() as uow:
        current = uow.bookings.get(booking.id)
        level = uow.master.stock(SiteId(booking.site_id), [trigger.sku or ""]).get(trigger.sku or "")
    if current is None or current.status is not BookingStatus.BOOKED:
        return Outcome(booking.id, GONE, detail="the booking is no longer booked")
    restock = deps.booking.clock() + timedelta(days=level.lead_time_days if level else 0)
    options = [o for o in _search(current, deps, same_site=False) if o.site_id != current.site_id]
    options += _search(current, deps, same_site=True, days=1 + deps.policy.search_days, after=restock)
    ranked = _ranked(current, options, _clinician_roles(current, deps))[:deps.policy.alternatives]
    codes = (ViolationCode.STOCK_INSUFFICIENT.value,)
    summary = (f"booking {current.id} at {current.site_id} on {current.start.isoformat()}: a count of "
               f"{trigger.sku} left {trigger.shortfall} short of what booked cases hold; "
               f"{len(ranked)} alternative(s) attached")
    return _raise(current, "implant_short", "perioperative_coordination", summary, codes, ranked, deps,
                  queue)


def _search(booking: Booking, deps: RecoordinationDeps, *, same_site: bool, days: int = 1,
            after: datetime | None = None) -> list[Option]:
    """Options over ``days`` local days from the booking's (or from ``after``), at its site or
    across the network; its own time and resources count as free."""
    now = deps.booking.clock()
    local = max(booking.start, after or booking.start).astimezone(_zone(booking.site_id, deps))
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = max(now, day_start, after or now)
    latest = day_start + timedelta(days=days)
    if latest <= earliest:
        return []
    sites = frozenset({SiteId(booking.site_id)}) if same_site else _nearest_sites(booking, deps)
    if not sites:  # no other site offers it (an empty set would mean every site)
        return []
    request = FindRequest(ServiceId(booking.service_id), PatientId(booking.patient_id), earliest, latest,
                          site_ids=sites,
                          urgency=booking.urgency, limit=60 if same_site else deps.policy.alternatives * 2,
                          reschedule_of=BookingId(booking.id))
    try:
        return find(request, deps.booking, moving=booking).options
    except CareflowError:
        return []


def _catalog(deps: RecoordinationDeps) -> Catalog:
    """The cached catalog (loaded once if no request has yet), for facts that do not go
    stale with master data: where a site is, its zone."""
    catalog = deps.booking.catalogs.current()
    if catalog is None:
        with deps.booking.uow() as uow:
            catalog = deps.booking.catalogs.get(uow)
    return catalog


def _nearest_sites(booking: Booking, deps: RecoordinationDeps) -> frozenset[SiteId]:
    """The other sites nearest the booking's that offer its service (``nearby_sites`` of them)."""
    catalog = _catalog(deps)
    home = catalog.site(booking.site_id).position
    offering = {SiteId(r.site_id) for r in catalog.resources.values()} - {SiteId(booking.site_id)}
    service = catalog.service(booking.service_id)
    kinds = service.site_kinds
    near = sorted((s for s in catalog.sites.values() if s.id in offering and (not kinds or s.kind in kinds)),
                  key=lambda s: distance_km(home, s.position))
    return frozenset(SiteId(s.id) for s in near[:deps.policy.nearby_sites])


def _zone(site_id: str, deps: RecoordinationDeps) -> ZoneInfo:
    """The site's zone from the cached catalog (no unit of work once it is loaded)."""
    return _catalog(deps).site(site_id).zone


def _clinician_roles(booking: Booking, deps: RecoordinationDeps) -> frozenset[str]:
    """The roles of the booking's card a clinician fills (a change there is one the patient sees)."""
    return frozenset(r.role for r in _catalog(deps).service(booking.service_id).roles)


def _disruption(booking: Booking, option: Option, clinician_roles: frozenset[str] = frozenset()) -> float:
    """The move's impact on the patient, in minutes of moving (``planning.rebalance``'s weights:
    the minutes, a day for another site, 30 per changed resource and 30 more for a clinician)."""
    return DEFAULT_IMPACT.points(impact_of(booking, option, clinician_roles))


def _ranked(booking: Booking, options: Iterable[Option],
            clinician_roles: frozenset[str] = frozenset()) -> list[Option]:
    return sorted(options, key=lambda o: _disruption(booking, o, clinician_roles))


def _same(a: Option, b: Option) -> bool:
    return (a.site_id, a.start, a.assignments) == (b.site_id, b.start, b.assignments)


def _allowed(booking: Booking, option: Option, deps: RecoordinationDeps) -> bool:
    policy = deps.policy
    if policy.same_site and option.site_id != booking.site_id:
        return False
    zone = _zone(booking.site_id, deps)
    if policy.same_day and option.start.astimezone(zone).date() != booking.start.astimezone(zone).date():
        return False
    notice = min(option.start, booking.start) - deps.booking.clock()
    return notice >= timedelta(hours=policy.min_notice_hours)


def _what_changed(booking: Booking, option: Option) -> str:
    before = {a.role: a.resource_id for a in booking.allocations}
    swaps = [f"{a.role}: {before.get(a.role)} → {a.resource_id}" for a in option.allocations
             if before.get(a.role) not in (None, a.resource_id)]
    moved = int((option.start - booking.start).total_seconds() // 60)
    parts = ([f"moved {moved:+d} min"] if moved else []) + swaps
    return "; ".join(parts) or "same time and resources"


def _tell_patient(moved: Booking, before: Booking, trigger: Trigger, deps: RecoordinationDeps) -> str:
    """Notify the patient; a failed channel does not undo the fix (the send log keeps the
    failure, and the outcome says so for the scheduler to follow up)."""
    same_time = moved.start == before.start
    topic = "booking.changed" if same_time else "booking.rescheduled"
    subject = "Your appointment details changed" if same_time else "Your appointment time changed"
    when = moved.start.isoformat()
    body = (f"Your appointment {moved.id} is still at {when}; the care team changed." if same_time else
            f"Your appointment {moved.id} moved from {before.start.isoformat()} to {when}.")
    try:
        deps.notifier.notify(Notification(
            key=f"recoordination:{trigger.event_id}:{moved.id}", audience="patient",
            recipient=moved.patient_id, topic=topic, subject=subject, body=body, booking_id=moved.id,
            data={"booking_id": moved.id, "old_start": before.start.isoformat(), "new_start": when,
                  "site_id": moved.site_id, "event_id": trigger.event_id}))
    except NotificationFailed:
        return "; the patient could not be told (notification failed)"
    return ""


def _priority(booking: Booking, now: datetime) -> str:
    ahead = booking.start - now
    if ahead < timedelta(hours=24):
        return "urgent"
    if ahead < timedelta(hours=72):
        return "high"
    return "normal"


def _queue(booking: Booking, trigger: Trigger, hard: list[Violation], codes: tuple[str, ...],
           alternatives: list[Option], deps: RecoordinationDeps, queue: _Queue) -> Outcome:
    summary = (f"booking {booking.id} at {booking.site_id} on {booking.start.isoformat()} fails "
               f"{', '.join(codes)} after {trigger.event_type} ({hard[0].subject}); "
               f"{len(alternatives)} alternative(s) attached")
    return _raise(booking, "recoordination", "scheduling", summary, codes, alternatives, deps, queue)


def _raise(booking: Booking, category: str, team: str, summary: str, codes: tuple[str, ...],
           alternatives: list[Option], deps: RecoordinationDeps, queue: _Queue) -> Outcome:
    existing = queue.open_items.get((booking.id, category))
    if existing is not None:  # a resumed run, or a second event on the same booking
        return Outcome(booking.id, QUEUED, codes, "already on the queue", exception_id=existing)
    docs = tuple(option_doc(o, rank, _what_changed(booking, o)) for rank, o in enumerate(alternatives, 1))
    item_id = exception_queue.new_exception_id()
    queue.pending.append((RaiseException(category, team, _priority(booking, deps.booking.clock()), summary,
                                         booking_id=booking.id, patient_id=booking.patient_id,
                                         site_id=booking.site_id, alternatives=docs), item_id))
    queue.open_items[(booking.id, category)] = item_id
    reason = "no fix allowed by policy" if alternatives else "no alternative found"
    return Outcome(booking.id, QUEUED, codes, reason, exception_id=item_id)
