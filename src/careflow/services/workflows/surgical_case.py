"""The surgical case request workflow (DBOS): from a surgeon's request to a booked case.

    gather the preference card
    round after round:
      check  ─ find (stock, staffing, room, equipment readiness, authorization, patient
               readiness: the find use case evaluates them all) and hold the best option
               with the surgeon; or say what blocks it
      tasks  ─ only where a person must act: authorization pending → revenue_cycle;
               prep incomplete → preadmission_nursing; implant short → procurement, with a
               purchase request linked to the case (lead time missing the planned day:
               the case is re-planned to the best later day, or queued with ranked
               alternatives)
      wait   ─ DBOS.recv: a signal (authorization changed, stock arrived, prep done) or a
               timeout (re-check; a hold about to expire is renewed)
    book the hold; notify the patient and the team

Every step is safe to repeat: the holds and bookings it makes carry the case's actor id
(``workflow:<case id>``) in ``created_by``, so a step that runs again after a crash finds
them instead of making new ones; tasks and purchase requests have ids derived from the
case, the step and the round; notifications have keys derived from the case id and the
step, so a replay never notifies twice. DBOS records each step's result, so a restarted
worker resumes after the last finished step.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from careflow.domain.access import SYSTEM, Actor
from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.commands import BookHold, CancelBooking, PlaceHold
from careflow.domain.errors import CareflowError, Conflict, NotFound
from careflow.domain.exception_sla import DEFAULT_POLICY
from careflow.domain.exceptions_queue import ExceptionItem, ExceptionStatus, RaiseException
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import FindRequest, Option
from careflow.domain.preference_cards import Service
from careflow.domain.surgical_cases import (
    WAIT_AUTHORIZATION,
    WAIT_PREP,
    WAIT_STOCK,
    CaseStatus,
    PurchaseRequest,
    SurgicalCase,
)
from careflow.domain.timespans import MAX_WINDOW
from careflow.domain.violations import ViolationCode
from careflow.services import booking as bookings
from careflow.services.alternatives import option_doc
from careflow.services.finding import find
from careflow.services.ports import AuditEntry, BookingFilter, Notification, RaceLost, UnitOfWork
from careflow.services.workflows.projected_stock import ProjectedStock
from careflow.services.workflows.runtime import deps

__all__ = ["SIGNAL_TOPIC", "SURGICAL_CASE", "case_actor", "surgical_case_workflow"]

SURGICAL_CASE = "careflow.surgical_case"
SIGNAL_TOPIC = "case.signal"
MAX_RETRIES = 50  # looks again after losing every option found to concurrent cases
MAX_ROUNDS = 5000  # at a look every RECHECK_SECONDS at most, longer than any wanted window
RECHECK_SECONDS = 3 * 3600.0  # the longest wait without a look at the world
RENEW_MARGIN = timedelta(minutes=5)  # a hold closer than this to expiry is renewed
ORDER_MARGIN = timedelta(days=1)  # implants must arrive a day before the case
TEAM = "perioperative"
# A blocker → the task for the person who must act on it.
TASKS = {
    WAIT_AUTHORIZATION: ("authorization_pending", "revenue_cycle"),
    WAIT_PREP: ("prep_incomplete", "preadmission_nursing"),
    WAIT_STOCK: ("implant_short", "procurement"),
}


def _transient(exc: BaseException) -> bool:
    """Retry what may pass (a database that dropped a connection, a lost race), not a refusal."""
    return isinstance(exc, RaceLost) or not isinstance(exc, CareflowError)


# A step that fails on something transient is tried again (4 attempts over ~3.5 s).
RETRY: dict[str, Any] = {"retries_allowed": True, "max_attempts": 4, "interval_seconds": 0.5,
                         "backoff_rate": 2.0, "should_retry": _transient}


def case_actor(case_id: str) -> Actor:
    """The system, acting for one case: what it holds and books carries this id."""
    return replace(SYSTEM, id=f"workflow:{case_id}")


# --- helpers (run inside steps) -----------------------------------------------------------


def _now() -> datetime:
    return deps().booking.clock()


def _case(uow: UnitOfWork, case_id: str, lock: bool = True) -> SurgicalCase:
    store = deps().cases
    if store is None:
        raise RuntimeError("the case store is not configured (WorkflowDeps.cases)")
    case = store(uow).get(case_id, lock=lock)
    if case is None:
        raise NotFound("surgical case", case_id)
    return case


def _save(uow: UnitOfWork, case: SurgicalCase, action: str, **detail: Any) -> None:
    store = deps().cases
    assert store is not None
    store(uow).save(case, case.version)
    uow.audit(AuditEntry(case_actor(case.id).id, action, "surgical_case", case.id, "ok",
                         detail={"status": case.status, "step": case.step, **detail}))


def _update(case_id: str, action: str, change: Any, **detail: Any) -> SurgicalCase:
    """Read the case locked, apply ``change(case, uow)``, save and audit, in one transaction."""
    with deps().booking.uow(write=True) as uow:
        case = _case(uow, case_id)
        change(case, uow)
        _save(uow, case, action, **detail)
        uow.commit()
        return case


def _mine(patient_id: str, case_id: str) -> list[Booking]:
    """The holds and bookings this case's actor made for the patient, newest first."""
    actor = case_actor(case_id).id
    found: list[Booking] = []
    with deps().booking.uow() as uow:
        for status in (BookingStatus.BOOKED, BookingStatus.HELD):
            flt = BookingFilter(patient_id=PatientId(patient_id), status=status)
            page, _ = uow.bookings.find(flt, 0, 500)
            found += [b for b in page if b.created_by == actor]
    return sorted(found, key=lambda b: (b.status is BookingStatus.BOOKED, b.created_at or b.start),
                  reverse=True)


def _request(case: SurgicalCase, now: datetime, earliest: datetime | None = None,
             sites: bool = True, limit: int = 20) -> FindRequest | None:
    r = case.request
    start = max(earliest or r.earliest, now)
    if start >= r.latest:
        return None
    return FindRequest(ServiceId(r.service_id), PatientId(r.patient_id), start, r.latest,
                       frozenset(SiteId(s) for s in r.site_ids) if sites else frozenset(), r.urgency,
                       frozenset({ResourceId(r.surgeon_id)}), limit=limit)


def _with_surgeon(options: list[Option], surgeon_id: str) -> list[Option]:
    return [o for o in options if any(a.resource_id == surgeon_id for a in o.allocations)]


def _outstanding_prep(case: SurgicalCase, service: Service) -> list[str]:
    if case.prep_confirmed_by is not None:
        return []
    with deps().booking.uow() as uow:
        patient = uow.master.patient(case.request.patient_id)
    done = patient.completed_prep if patient is not None else {}
    return [p.code for p in service.prerequisites.prep if p.code not in done]


def _service(service_id: str) -> Service:
    d = deps().booking
    with d.uow() as uow:
        return d.catalogs.get(uow).service(service_id)


def _wait_seconds(now: datetime, until: datetime | None) -> float:
    if until is None:
        return RECHECK_SECONDS
    return max(1.0, min(RECHECK_SECONDS, (until - now).total_seconds()))


def _raise(uow: UnitOfWork, case: SurgicalCase, exception_id: str, cmd: RaiseException) -> bool:
    """Put a task on the exception queue in this transaction, once per id."""
    if uow.exceptions.get(exception_id) is not None:
        return False
    now = _now()
    due = DEFAULT_POLICY.due_at(cmd.category, cmd.priority, now)
    item = ExceptionItem.raised(exception_id, cmd, now, due)
    uow.exceptions.add(item)
    uow.publish(item.events)
    uow.audit(AuditEntry(case_actor(case.id).id, "exception.raise", "exception", item.id, "ok",
                         detail={"category": item.category, "team": item.owner_team, "case_id": case.id}))
    case.add_task(item.id)
    return True


def _priority(case: SurgicalCase) -> str:
    return {"emergent": "urgent", "urgent": "high"}.get(case.request.urgency.value, "normal")


def _notify(key: str, audience: str, recipient: str, topic: str, subject: str, body: str,
            booking_id: str | None = None, **data: Any) -> None:
    deps().notifier.notify(Notification(key, audience, recipient, topic, subject, body, booking_id, data))


# --- steps ---------------------------------------------------------------------------------


@DBOS.step(name="case.gather_card", **RETRY)
def gather_card(case_id: str) -> dict[str, Any]:
    """Read the procedure's preference card: what the case needs."""

    def change(case: SurgicalCase, uow: UnitOfWork) -> None:
        service = deps().booking.catalogs.get(uow).service(case.request.service_id)
        card["service_id"], card["code"] = service.id, service.code
        card["duration_minutes"] = service.duration // 60
        card["roles"] = [r.role for r in service.roles] + [s.role for s in service.staff]
        card["room"] = service.room.room_type if service.room else None
        card["equipment"] = [e.equipment_type for e in service.equipment]
        card["items"] = [{"sku": i.sku, "quantity": i.quantity} for i in service.items]
        card["authorization"] = service.prerequisites.authorization
        card["prep"] = [p.code for p in service.prerequisites.prep]
        case.status = CaseStatus.RUNNING
        case.record("card", _now(), **card)

    with deps().booking.uow() as uow:  # read already (a re-run after a crash): nothing to write
        done = next((s for s in _case(uow, case_id, lock=False).steps if s["step"] == "card"), None)
    if done is not None:
        return {k: v for k, v in done.items() if k not in ("step", "at")}
    card: dict[str, Any] = {}
    _update(case_id, "case.card", change)
    return card


@DBOS.step(name="case.check_and_hold", **RETRY)
def check_and_hold(case_id: str, round_: int) -> dict[str, Any]:
    """Find the best option with the surgeon and hold it (or keep the case's live hold);
    when nothing can be held, say what blocks it."""
    d = deps()
    now = _now()
    with d.booking.uow() as uow:
        case = _case(uow, case_id, lock=False)
    if case.booking_id is not None:
        return {"action": "booked", "booking_id": case.booking_id}
    service = _service(case.request.service_id)
    hold = _live_hold(case, now)
    if hold is not None and hold.status is BookingStatus.BOOKED:
        return {"action": "booked", "booking_id": hold.id}
    fresh = hold is None
    if hold is None:
        request = _request(case, now)
        if request is None:
            return {"action": "queue", "codes": ["OUTSIDE_BOOKING_WINDOW"],
                    "why": "the wanted window has passed"}
        result = find(request, d.booking)
        options = _with_surgeon(result.options, case.request.surgeon_id)
        hold, soft = _hold_first(case, options)
        if hold is None and soft:  # e.g. stock below its reorder point: an override is a person's call
            return {"action": "queue", "codes": soft,
                    "why": "every option needs an override of a soft rule (a person with booking.override)"}
        if hold is None and options:  # others took them first (concurrent cases): look again
            return {"action": "retry"}
        if hold is None:
            return _blocked(case, [v.code.value for v in result.blockers] or
                            (["SURGEON_UNAVAILABLE"] if result.options else ["RESOURCE_BOOKED"]), round_)
    prep = _outstanding_prep(case, service)
    needs = [WAIT_PREP] if prep else []
    held = hold

    def change(c: SurgicalCase, uow: UnitOfWork) -> None:
        c.hold_id, c.planned = held.id, None
        c.status = CaseStatus.WAITING if needs else CaseStatus.RUNNING
        c.waiting_for = list(needs)
        c.record(f"{'hold' if fresh else 'check'}.{round_}", now, hold_id=held.id, site_id=held.site_id,
                 start=held.start.isoformat())

    _update(case_id, "case.hold" if fresh else "case.check", change, hold_id=held.id)
    until = (held.expires_at - RENEW_MARGIN) if held.expires_at else None
    return {"action": "wait" if needs else "book", "hold_id": held.id, "needs": needs, "prep": prep,
            "wait_seconds": _wait_seconds(now, until)}


def _live_hold(case: SurgicalCase, now: datetime) -> Booking | None:
    """The case's booking, or its hold while it has time left; an expiring hold is released."""
    for b in _mine(case.request.patient_id, case.id):
        if b.status is BookingStatus.BOOKED:
            return b
        if b.expires_at is not None and b.expires_at - RENEW_MARGIN > now:
            return b
        with contextlib.suppress(CareflowError):  # about to expire: let it go, a fresh hold follows
            bookings.cancel(CancelBooking(b.id, "case hold renewed", case_actor(case.id)), deps().booking)
    return None


def _hold_first(case: SurgicalCase, options: list[Option]) -> tuple[Booking | None, list[str]]:
    """Hold the best option that still holds (a concurrent booking may have taken one);
    else the soft violations that refused every option (they need a person's override)."""
    d = deps()
    soft: list[str] = []
    for option in options[:5]:
        try:
            return bookings.place_hold(PlaceHold(option, case_actor(case.id), d.case_hold_minutes),
                                       d.booking), []
        except Conflict as exc:
            if exc.violations and not any(v.is_hard for v in exc.violations):
                soft += [v.code.value for v in exc.violations if v.code.value not in soft]
    return None, soft


def _blocked(case: SurgicalCase, codes: list[str], round_: int) -> dict[str, Any]:
    if ViolationCode.AUTHORIZATION_PENDING.value in codes:
        wait = _wait_seconds(_now(), case.request.latest)
        return {"action": "wait", "needs": [WAIT_AUTHORIZATION], "codes": codes, "wait_seconds": wait}
    if ViolationCode.STOCK_INSUFFICIENT.value in codes:
        return {"action": "order", "codes": codes}
    return {"action": "queue", "codes": codes, "why": "no feasible option in the wanted window"}


@DBOS.step(name="case.order_implants", **RETRY)
def order_implants(case_id: str, round_: int) -> dict[str, Any]:
    """Plan the case on the best day the ordered implants make feasible; ask procurement
    for them (a purchase request per item, linked to the case). A lead time that misses
    the planned day re-plans to the best later day; no later day queues the case."""
    d = deps()
    now = _now()
    store = d.cases
    assert store is not None
    with d.booking.uow() as uow:
        case = _case(uow, case_id, lock=False)
        catalog = d.booking.catalogs.get(uow)
        service = catalog.service(case.request.service_id)
        every = {(p.site_id, p.sku): p for p in store(uow).purchases(case_id)}
        existing = {key: p for key, p in every.items() if p.status == "open"}
        sites = [SiteId(s) for s in case.request.site_ids] or sorted(catalog.sites)
        short: dict[tuple[str, str], tuple[int, int]] = {}  # (site, sku) → (units short, lead days)
        for site in sites:
            levels = uow.master.stock(site, [i.sku for i in service.items])
            for item in service.items:
                level = levels.get(item.sku)
                missing = item.quantity - (level.available if level else 0)
                if missing > 0:
                    short[(site, item.sku)] = (missing, level.lead_time_days if level else 0)
    incoming = {key: missing for key, (missing, _) in short.items()}
    planned = _planned(case, incoming, now, None)
    if planned is None:
        return {"action": "queue", "codes": ["STOCK_INSUFFICIENT"], "why": "no day is feasible even with "
                "the implants on order"}
    expected = _expected(planned.site_id, service, short, existing, now)
    rescheduled = False
    if expected > planned.start - ORDER_MARGIN:  # the lead time misses the planned day
        later = _planned(case, incoming, now, expected + ORDER_MARGIN)
        if later is None:
            return {"action": "queue", "codes": ["STOCK_INSUFFICIENT"],
                    "why": f"the implants arrive {expected.date().isoformat()}, after the planned day, "
                           "and no later day in the wanted window is feasible"}
        planned, rescheduled = later, True
    needed_by = planned.start - ORDER_MARGIN

    def change(c: SurgicalCase, uow: UnitOfWork) -> None:
        cases = store(uow)
        for key, stale in existing.items():  # re-planned at another site: those are not needed
            if key[0] != planned.site_id:
                stale.status = "cancelled"
                cases.save_purchase(stale)
        for i in service.items:
            key = (planned.site_id, i.sku)
            if key not in short:
                continue
            request = every.get(key)
            if request is None:
                cases.add_purchase(PurchaseRequest(f"pr_{case_id}_{planned.site_id}_{i.sku}"[:96], case_id,
                                                   planned.site_id, i.sku, short[key][0], "open",
                                                   needed_by, expected, now))
                uow.audit(AuditEntry(case_actor(case_id).id, "purchase_request.create", "purchase_request",
                                     f"{case_id}/{planned.site_id}/{i.sku}", "ok",
                                     detail={"quantity": short[key][0], "sku": i.sku}))
            elif (request.status, request.needed_by, request.quantity) != ("open", needed_by, short[key][0]):
                if request.status != "open":  # asked again (it was cancelled): a new lead time
                    request.expected_at, request.created_at = expected, now
                request.status, request.needed_by, request.quantity = "open", needed_by, short[key][0]
                cases.save_purchase(request)
        c.hold_id, c.planned = None, option_doc(planned, 1, "planned; waiting for implants")
        c.status, c.waiting_for = CaseStatus.WAITING, [WAIT_STOCK]
        c.record(f"order.{round_}", now, site_id=planned.site_id, planned_start=planned.start.isoformat(),
                 expected_at=expected.isoformat(), rescheduled=rescheduled)

    _update(case_id, "case.order", change, rescheduled=rescheduled)
    return {"action": "wait", "needs": [WAIT_STOCK], "wait_seconds": _wait_seconds(now, needed_by),
            "rescheduled": rescheduled}


def _expected(site_id: str, service: Service, short: dict[tuple[str, str], tuple[int, int]],
              existing: dict[tuple[str, str], PurchaseRequest], now: datetime) -> datetime:
    """When the missing items should all be at ``site_id``: an open purchase request keeps
    its expected time (the lead time runs from the order, not from each look), a new one
    is now plus the item's lead time."""
    out = now
    for item in service.items:
        key = (site_id, item.sku)
        if key not in short:
            continue
        request = existing.get(key)
        when = max(request.expected_at, now) if request else now + timedelta(days=short[key][1])
        out = max(out, when)
    return out


def _planned(case: SurgicalCase, incoming: dict[tuple[str, str], int], now: datetime,
             earliest: datetime | None) -> Option | None:
    request = _request(case, now, earliest)
    if request is None:
        return None
    d = deps().booking
    options = find(request, replace(d, uow=ProjectedStock(d.uow, incoming), calendar=None)).options
    mine = _with_surgeon(options, case.request.surgeon_id)
    return mine[0] if mine else None


@DBOS.step(name="case.raise_tasks", **RETRY)
def raise_tasks(case_id: str, round_: int, needs: list[str]) -> list[str]:
    """A task on the exception queue for each blocker a person must act on (none twice
    while one is open); the owner team is notified once per task."""
    raised: list[str] = []
    with deps().booking.uow() as uow:  # done already (a re-run after a crash): nothing to write
        steps = _case(uow, case_id, lock=False).steps
        done = next((s for s in steps if s["step"] == f"tasks.{round_}"), None)
    if done is not None:
        return list(done.get("raised", []))

    def change(case: SurgicalCase, uow: UnitOfWork) -> None:
        open_categories = set()
        for task_id in case.tasks:
            item = uow.exceptions.get(task_id)
            if item is not None and item.status != ExceptionStatus.RESOLVED:
                open_categories.add(item.category)
        for need in needs:
            category, team = TASKS[need]
            if category in open_categories:
                continue
            task_id = f"ex_{case_id.removeprefix('case_')}_{category}_{round_}"
            purchases = [p.id for p in deps().cases(uow).purchases(case_id)  # type: ignore[misc]
                         if p.status == "open"] if need == WAIT_STOCK else []
            summary = {WAIT_AUTHORIZATION: f"case {case_id}: the payer authorization for "
                                           f"{case.request.service_id} is pending",
                       WAIT_PREP: f"case {case_id}: pre-admission preparation is incomplete",
                       WAIT_STOCK: f"case {case_id}: implants short; purchase request(s) "
                                   f"{', '.join(purchases)}"}[need]
            site = (case.planned or {}).get("site_id") or (case.request.site_ids[0] if case.request.site_ids
                                                             else None)
            cmd = RaiseException(category, team, _priority(case), summary, booking_id=case.hold_id,
                                 case_id=case_id, patient_id=case.request.patient_id, site_id=site)
            if _raise(uow, case, task_id, cmd):
                raised.append(task_id)
        case.status, case.waiting_for = CaseStatus.WAITING, list(needs)
        case.record(f"tasks.{round_}", _now(), raised=list(raised))

    _update(case_id, "case.tasks", change)
    case_team = {TASKS[n][0]: TASKS[n][1] for n in needs}
    for task_id in raised:
        category = next(c for c in case_team if f"_{c}_" in task_id)
        _notify(f"{case_id}:task:{task_id}", "team", case_team[category], "case.task",
                f"A surgical case needs you ({category})",
                f"Case {case_id} needs action: see task {task_id}.",
                case_id=case_id, task_id=task_id)
    return raised


@DBOS.step(name="case.note_signal", **RETRY)
def note_signal(case_id: str, round_: int, message: dict[str, Any] | None) -> str:
    """Record what woke the case; a nurse's ``prep_done`` confirms the preparation and
    closes the pre-admission task."""
    kind = str((message or {}).get("kind", "timeout"))

    def change(case: SurgicalCase, uow: UnitOfWork) -> None:
        if kind == "prep_done" and case.prep_confirmed_by is None:
            case.prep_confirmed_by = str((message or {}).get("by", "unknown"))
            _resolve_tasks(uow, case, {"prep_incomplete"}, case.prep_confirmed_by)
        case.status = CaseStatus.RUNNING
        case.record(f"signal.{round_}", _now(), kind=kind)

    _update(case_id, "case.signal", change, kind=kind)
    return kind


def _resolve_tasks(uow: UnitOfWork, case: SurgicalCase, categories: set[str] | None, by: str) -> None:
    for task_id in case.tasks:
        item = uow.exceptions.get(task_id, lock=True)
        if item is None or item.resolved or (categories is not None and item.category not in categories):
            continue
        expected = item.version
        item.resolve("fixed_upstream", f"case {case.id} went ahead", by, _now())
        uow.exceptions.save(item, expected)
        uow.publish(item.events)
        item.events.clear()
        uow.audit(AuditEntry(case_actor(case.id).id, "exception.resolve", "exception", item.id, "ok",
                             detail={"outcome": "fixed_upstream", "case_id": case.id}))


@DBOS.step(name="case.book", **RETRY)
def book_case(case_id: str, hold_id: str) -> dict[str, Any]:
    """Book the hold (re-checked by the booking use case); close the case's tasks and
    purchase requests. A booking already made (a replay) is taken as it is."""
    d = deps()
    actor = case_actor(case_id)
    with d.booking.uow() as uow:
        hold = uow.bookings.get(hold_id)
    if hold is None:
        return {"booked": False, "why": "the hold is gone"}
    if hold.status is not BookingStatus.BOOKED:
        try:
            hold = bookings.book_hold(BookHold(hold_id, actor), d.booking)
        except CareflowError as exc:  # expired, or a dependency fails now: check again
            return {"booked": False, "why": str(exc)}
    booked = hold

    def change(case: SurgicalCase, uow: UnitOfWork) -> None:
        case.booking_id, case.hold_id, case.planned = booked.id, booked.id, None
        case.status, case.waiting_for = CaseStatus.BOOKED, []
        _resolve_tasks(uow, case, None, actor.id)
        store = d.cases
        assert store is not None
        for request in store(uow).purchases(case_id):
            if request.status == "open":
                request.status = "received"
                store(uow).save_purchase(request)
        case.record("book", _now(), booking_id=booked.id, site_id=booked.site_id,
                    start=booked.start.isoformat())

    _update(case_id, "case.book", change, booking_id=booked.id)
    return {"booked": True, "booking_id": booked.id, "start": booked.start.isoformat(),
            "site_id": booked.site_id, "patient_id": booked.patient_id}


@DBOS.step(name="case.notify_booked", **RETRY)
def notify_booked(case_id: str, booked: dict[str, Any]) -> None:
    """Tell the patient and the team (keys from the case id: a replay sends nothing twice)."""
    booking_id = booked["booking_id"]
    _notify(f"{case_id}:booked:patient", "patient", booked["patient_id"], "case.booked",
            "Your procedure is booked", f"Your procedure is booked for {booked['start']} at site "
            f"{booked['site_id']} (booking {booking_id}).", booking_id, case_id=case_id,
            start=booked["start"])
    _notify(f"{case_id}:booked:team", "team", TEAM, "case.booked", "Surgical case booked",
            f"Case {case_id} is booked: {booking_id} at {booked['site_id']}, {booked['start']}.", booking_id,
            case_id=case_id, start=booked["start"])
    _update(case_id, "case.notify", lambda c, uow: c.record("notify", _now(), booking_id=booking_id))


@DBOS.step(name="case.queue", **RETRY)
def queue_case(case_id: str, round_: int, why: str, codes: list[str]) -> str:
    """Nothing automatic is left: put the case on the exception queue with ranked
    alternatives (the network, a wider window) and tell the team."""
    d = deps()
    now = _now()
    with d.booking.uow() as uow:
        case = _case(uow, case_id, lock=False)
    alternatives: list[dict[str, Any]] = []
    r = case.request
    latest = min(max(r.latest, now) + timedelta(days=30), now + MAX_WINDOW)
    try:
        wide = FindRequest(ServiceId(r.service_id), PatientId(r.patient_id), max(r.earliest, now), latest,
                           frozenset(), r.urgency, frozenset({ResourceId(r.surgeon_id)}), limit=5)
        found = find(wide, d.booking).options
        alternatives = [option_doc(o, i + 1) for i, o in enumerate(found[:5])]
    except CareflowError:
        alternatives = []
    if case.hold_id is not None:  # a hold nobody will book frees its resources now
        with contextlib.suppress(CareflowError):
            bookings.cancel(CancelBooking(case.hold_id, "case queued", case_actor(case_id)), d.booking)
    category = ("implant_short" if "STOCK_INSUFFICIENT" in codes else
                "other" if "WORKFLOW_ERROR" in codes else "no_option")
    task_id = f"ex_{case_id.removeprefix('case_')}_{category}_q{round_}"

    def change(c: SurgicalCase, uow: UnitOfWork) -> None:
        cmd = RaiseException(category, TEAM, _priority(c), f"case {case_id}: {why} ({', '.join(codes[:5])})",
                             case_id=case_id, patient_id=c.request.patient_id,
                             site_id=c.request.site_ids[0] if c.request.site_ids else None,
                             alternatives=tuple(alternatives))
        _raise(uow, c, task_id, cmd)
        c.status, c.waiting_for, c.hold_id, c.last_error = CaseStatus.NEEDS_ATTENTION, [], None, why
        c.record("queued", now, codes=codes, alternatives=len(alternatives))

    _update(case_id, "case.queue", change, codes=codes)
    _notify(f"{case_id}:queued", "team", TEAM, "case.needs_attention", "A surgical case needs a person",
            f"Case {case_id} could not be booked automatically: {why}. See task {task_id}.",
            case_id=case_id, task_id=task_id)
    return task_id


# --- the workflow --------------------------------------------------------------------------


@DBOS.workflow(name=SURGICAL_CASE)
def surgical_case_workflow(case_id: str) -> dict[str, Any]:
    """Run one surgical case request to a booking, or to the exception queue (also when a
    step keeps failing: the case is then queued with the error, never left running)."""
    try:
        return _run(case_id)
    except (CareflowError, DBOSMaxStepRetriesExceeded) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        task = queue_case(case_id, MAX_ROUNDS + 1, f"the workflow failed ({error})", ["WORKFLOW_ERROR"])
        return {"status": CaseStatus.NEEDS_ATTENTION, "task": task}


def _run(case_id: str) -> dict[str, Any]:
    gather_card(case_id)
    retries = 0
    for round_ in range(MAX_ROUNDS):
        check = check_and_hold(case_id, round_)
        action = check["action"]
        if action == "order":
            check = order_implants(case_id, round_)
            action = check["action"]
        if action == "booked":  # booked earlier (a replay): finish the record and the notices
            check = {"hold_id": check["booking_id"]}
        if action == "retry":
            retries += 1
            if retries > MAX_RETRIES:
                task = queue_case(case_id, round_, "other cases kept taking the options found", ["RACE_LOST"])
                return {"status": CaseStatus.NEEDS_ATTENTION, "task": task}
            continue
        if action == "queue":
            task = queue_case(case_id, round_, check["why"], check["codes"])
            return {"status": CaseStatus.NEEDS_ATTENTION, "task": task}
        if action == "wait":
            raise_tasks(case_id, round_, check["needs"])
            message = DBOS.recv(SIGNAL_TOPIC, timeout_seconds=check["wait_seconds"])
            note_signal(case_id, round_, message)
            continue
        booked = book_case(case_id, check["hold_id"])
        if booked["booked"]:
            notify_booked(case_id, booked)
            return {"status": CaseStatus.BOOKED, "booking_id": booked["booking_id"]}
    task = queue_case(case_id, MAX_ROUNDS, "the case did not settle", ["TOO_MANY_ROUNDS"])
    return {"status": CaseStatus.NEEDS_ATTENTION, "task": task}
