"""Surgical case use cases: start, list, show and signal a case; the event handlers that
wake waiting cases. The case itself runs as a DBOS workflow (services/workflows/surgical_case.py).

Starting a case writes its record (status ``requested``) and audit entry in one
transaction, then enqueues the workflow with the case id as its workflow id; a worker
that starts re-enqueues every case still ``requested`` (a crash between the two), which
DBOS ignores for a workflow it already has.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from careflow.domain.access import Actor, Permission
from careflow.domain.errors import InvalidRequest, InvalidTransition, NotFound
from careflow.domain.resources import ResourceKind
from careflow.domain.surgical_cases import (
    CASE_STATUSES,
    SIGNALS,
    WAIT_AUTHORIZATION,
    CaseRequest,
    CaseStatus,
    SurgicalCase,
)
from careflow.services.dispatch import HandlerRegistry
from careflow.services.ports import AuditEntry, UnitOfWork
from careflow.services.workflows import runtime
from careflow.services.workflows.runtime import WorkflowDeps
from careflow.services.workflows.surgical_case import SIGNAL_TOPIC, SURGICAL_CASE, surgical_case_workflow

__all__ = ["CaseView", "SignalFailed", "get_case", "list_cases", "register_case_handlers", "resume_requested",
           "signal_case", "start_case"]


log = logging.getLogger("careflow.cases")


class SignalFailed(Exception):
    """The workflow database could not take the signal (the audit entry stands; send again)."""


@dataclass(frozen=True)
class CaseView:
    """A case with what it created: tasks (exception-queue items) and purchase requests."""

    case: SurgicalCase
    tasks: list[dict[str, Any]]
    purchase_requests: list[dict[str, Any]]
    workflow_status: str | None


def _store(wd: WorkflowDeps, uow: UnitOfWork) -> Any:
    if wd.cases is None:
        raise RuntimeError("the case store is not configured (WorkflowDeps.cases)")
    return wd.cases(uow)


def _validate(request: CaseRequest, actor: Actor, uow: UnitOfWork, wd: WorkflowDeps) -> CaseRequest:
    catalog = wd.booking.catalogs.get(uow)
    if request.service_id not in catalog.services:
        raise InvalidRequest(f"unknown service {request.service_id!r}", "service_id")
    surgeon = catalog.resources.get(request.surgeon_id)  # type: ignore[call-overload]
    if surgeon is None or surgeon.kind is not ResourceKind.CLINICIAN:
        raise InvalidRequest(f"{request.surgeon_id!r} is not a known clinician", "surgeon_id")
    if uow.master.patient(request.patient_id) is None:
        raise InvalidRequest(f"unknown patient {request.patient_id!r}", "patient_id")
    for site_id in request.site_ids:
        if site_id not in catalog.sites:
            raise InvalidRequest(f"unknown site {site_id!r}", "site_ids")
        actor.require_site(site_id)
    if actor.sites is not None and not actor.break_glass and not request.site_ids:
        # a site-limited actor's case stays within its sites
        return CaseRequest(request.surgeon_id, request.service_id, request.patient_id, request.earliest,
                           request.latest, request.urgency, tuple(sorted(actor.sites)))
    return request


def start_case(request: CaseRequest, actor: Actor, wd: WorkflowDeps) -> SurgicalCase:
    """Record the case and start its workflow."""
    actor.require(Permission.BOOKING_WRITE)
    case_id = f"case_{uuid.uuid4().hex}"
    with wd.booking.uow(write=True) as uow:
        request = _validate(request, actor, uow, wd)
        now = wd.booking.clock()
        case = SurgicalCase(case_id, request, CaseStatus.REQUESTED, actor.id, now, now)
        _store(wd, uow).add(case)
        uow.audit(AuditEntry(actor.id, "case.start", "surgical_case", case_id, "ok",
                             detail={"service_id": request.service_id, "patient_id": request.patient_id,
                                     "surgeon_id": request.surgeon_id, "urgency": request.urgency.value}))
        uow.commit()
    try:
        runtime.enqueue(surgical_case_workflow, SURGICAL_CASE, case_id, case_id)
    except Exception as exc:  # the workflow database is down: a worker enqueues it when it starts
        log.warning("case %s recorded but not yet enqueued (%s)", case_id, type(exc).__name__)
    return case


def resume_requested(wd: WorkflowDeps) -> int:
    """Enqueue the workflow of every case still ``requested`` (idempotent: same workflow id)."""
    with wd.booking.uow() as uow:
        ids = _store(wd, uow).with_status(CaseStatus.REQUESTED)
    for case_id in ids:
        runtime.enqueue(surgical_case_workflow, SURGICAL_CASE, case_id, case_id)
    return len(ids)


def _visible(case: SurgicalCase | None, actor: Actor, case_id: str) -> SurgicalCase:
    if case is None or (actor.sites is not None and not actor.break_glass and
                        not set(case.request.site_ids) <= set(actor.sites)):
        raise NotFound("surgical case", case_id)
    return case


def list_cases(actor: Actor, wd: WorkflowDeps, status: str | None = None, patient_id: str | None = None,
               offset: int = 0, limit: int = 50) -> tuple[list[SurgicalCase], int]:
    """A page of cases, newest first (a site-limited actor sees its sites' cases)."""
    actor.require(Permission.BOOKING_READ)
    if status is not None and status not in CASE_STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(CASE_STATUSES)}", "status")
    with wd.booking.uow() as uow:
        cases, total = _store(wd, uow).find(status, patient_id, offset, limit)
    if actor.sites is not None and not actor.break_glass:
        kept = [c for c in cases if set(c.request.site_ids) <= set(actor.sites) and c.request.site_ids]
        return kept, total - (len(cases) - len(kept))
    return cases, total


def get_case(case_id: str, actor: Actor, wd: WorkflowDeps) -> CaseView:
    """The case, its tasks and purchase requests, and what DBOS says of its workflow."""
    actor.require(Permission.BOOKING_READ)
    with wd.booking.uow() as uow:
        store = _store(wd, uow)
        case = _visible(store.get(case_id), actor, case_id)
        tasks = []
        for task_id in case.tasks:
            item = uow.exceptions.get(task_id)
            if item is not None:
                tasks.append({"id": item.id, "category": item.category, "owner_team": item.owner_team,
                              "status": item.status, "priority": item.priority,
                              "sla_due_at": item.sla_due_at.isoformat()})
        purchases = [{"id": p.id, "site_id": p.site_id, "sku": p.sku, "quantity": p.quantity,
                      "status": p.status, "needed_by": p.needed_by.isoformat(),
                      "expected_at": p.expected_at.isoformat(), "late": p.late}
                     for p in store.purchases(case_id)]
    try:
        status = runtime.workflow_status(case_id)
    except Exception:  # the workflow database is unreachable: the case record still answers
        status = None
    return CaseView(case, tasks, purchases, status)


def signal_case(case_id: str, signal: str, actor: Actor, wd: WorkflowDeps) -> SurgicalCase:
    """Tell a case that something it waits for happened (``prep_done`` confirms the
    preparation; ``stock_arrived`` and ``authorization_changed`` make it look again)."""
    actor.require(Permission.BOOKING_WRITE)
    if signal not in SIGNALS:
        raise InvalidRequest(f"signal must be one of {', '.join(SIGNALS)}", "signal")
    with wd.booking.uow(write=True) as uow:
        case = _visible(_store(wd, uow).get(case_id), actor, case_id)
        if case.status in (CaseStatus.BOOKED, CaseStatus.NEEDS_ATTENTION):
            raise InvalidTransition(f"case {case_id} is {case.status}; it waits for nothing")
        uow.audit(AuditEntry(actor.id, "case.signal", "surgical_case", case_id, "ok",
                             detail={"signal": signal}))
        uow.commit()
    try:
        runtime.send(case_id, {"kind": signal, "by": actor.id}, SIGNAL_TOPIC)
    except Exception as exc:
        raise SignalFailed(f"the signal to {case_id} could not be delivered") from exc
    return case


# --- event handlers: what other systems report wakes the cases waiting for it ----------------


def register_case_handlers(registry: HandlerRegistry, wd: WorkflowDeps) -> None:
    """AuthorizationChanged wakes cases waiting for that patient's authorization;
    StockChanged wakes cases with an open purchase request for that site and item."""

    def on_authorization(payload: dict[str, Any], uow: UnitOfWork) -> None:
        ids = _store(wd, uow).waiting_for(WAIT_AUTHORIZATION, str(payload.get("patient_id", "")),
                                          str(payload.get("service_id", "")))
        key = ":".join(str(payload.get(k, "")) for k in ("aggregate_id", "status", "reference"))
        for case_id in ids:
            runtime.send(case_id, {"kind": "authorization_changed", "status": payload.get("status")},
                         SIGNAL_TOPIC, idempotency_key=f"auth:{key}:{case_id}")

    def on_stock(payload: dict[str, Any], uow: UnitOfWork) -> None:
        requests = _store(wd, uow).open_purchases(str(payload.get("site_id", "")),
                                                  str(payload.get("sku", "")))
        key = ":".join(str(payload.get(k, "")) for k in ("aggregate_id", "on_hand", "reference"))
        for case_id in sorted({r.case_id for r in requests}):
            runtime.send(case_id, {"kind": "stock_arrived"}, SIGNAL_TOPIC,
                         idempotency_key=f"stock:{key}:{case_id}")

    registry.register("AuthorizationChanged", "surgical_cases", on_authorization)
    registry.register("StockChanged", "surgical_cases", on_stock)
