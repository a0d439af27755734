"""Exception-queue escalation on durable timers: one DBOS workflow per queue item (id
``escalation:<item id>``), started by the ``ExceptionRaised`` handler.

The workflow reads the item's next escalation threshold from the SLA policy (by default
half the SLA, the due time, then half again past it), waits durably until then (a
``DBOS.recv`` timeout: a restarted worker resumes the wait, and resolving the item wakes
it through ``ExceptionResolved``, so no timer outlives its item), raises the level if
the item is still unresolved, tells the owner team once per level (keyed by item and
level), and goes on to the next threshold; it ends when the item is resolved or at its
last level. The server's sweep computes the same level from the clock and stays as a
backstop (a process that runs no workflows); both go through ``exception_queue.escalate``,
so an item moves up once per level whoever gets there first.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from dbos import DBOS
from dbos._error import DBOSNonExistentWorkflowError

from careflow.domain.exception_sla import DEFAULT_POLICY
from careflow.services import exception_queue
from careflow.services.ports import Notification, NotificationFailed, UnitOfWork
from careflow.services.workflows import runtime

__all__ = ["NAME", "WAKE_TOPIC", "exception_escalation", "next_threshold", "on_exception_raised",
           "on_exception_resolved", "reach", "workflow_id"]

NAME = "careflow.exception_escalation"
WAKE_TOPIC = "escalation.wake"
RETRY: dict[str, Any] = {"retries_allowed": True, "max_attempts": 4, "interval_seconds": 0.5,
                         "backoff_rate": 2.0}


def workflow_id(item_id: str) -> str:
    return f"escalation:{item_id}"


def on_exception_raised(payload: dict[str, Any], uow: UnitOfWork) -> None:
    """The ``ExceptionRaised`` handler: start the item's timers (once: DBOS keys by id)."""
    item_id = str(payload["aggregate_id"])
    runtime.enqueue(exception_escalation, NAME, workflow_id(item_id), item_id)


@DBOS.step(name="escalation.next", **RETRY)
def next_threshold(item_id: str) -> dict[str, Any] | None:
    """The next level the item has not reached and when it is due, or None (resolved,
    gone, or at its last level)."""
    with runtime.deps().booking.uow() as uow:
        item = uow.exceptions.get(item_id)
    if item is None or item.resolved:
        return None
    sla = item.sla_due_at - item.created_at
    for level, step in enumerate(DEFAULT_POLICY.steps, 1):
        if level > item.escalation_level:
            return {"level": level, "at": (item.created_at + sla * step).isoformat()}
    return None


@DBOS.step(name="escalation.reach", **RETRY)
def reach(item_id: str, level: int) -> bool:
    """Raise the item to ``level`` (unless resolved or there already) and tell its team."""
    d = runtime.deps()
    exception_queue.escalate(item_id, level, d.booking.uow, d.booking.clock, actor_id="careflow-escalation")
    with d.booking.uow() as uow:
        item = uow.exceptions.get(item_id)
    if item is None or item.resolved or item.escalation_level < level:
        return False
    with contextlib.suppress(NotificationFailed):  # the send log keeps it; the level stands
        d.notifier.notify(Notification(
            key=f"escalation:{item_id}:{level}", audience="team", recipient=item.owner_team,
            topic="exception.escalated", subject=f"Queue item {item_id} escalated to level {level}",
            body=(f"{item.category} item {item_id} ({item.priority}) is at escalation level {level}; "
                  f"due {item.sla_due_at.isoformat()}."),
            booking_id=item.booking_id,
            data={"item_id": item_id, "level": level, "category": item.category,
                  "sla_due_at": item.sla_due_at.isoformat()}))
    return True


def on_exception_resolved(payload: dict[str, Any], uow: UnitOfWork) -> None:
    """The ``ExceptionResolved`` handler: wake the item's timer, which then sees the item
    resolved and ends (no timer outlives its item)."""
    item_id = str(payload["aggregate_id"])
    with contextlib.suppress(DBOSNonExistentWorkflowError):  # not started yet: it will see it resolved
        runtime.send(workflow_id(item_id), {"kind": "resolved"}, WAKE_TOPIC,
                     idempotency_key=f"resolved:{item_id}")


@DBOS.step(name="escalation.now")
def _now() -> str:
    return runtime.deps().booking.clock().isoformat()


@DBOS.workflow(name=NAME)
def exception_escalation(item_id: str) -> int:
    """Wait until each threshold, escalate, repeat; returns the last level reached."""
    reached = 0
    while (plan := next_threshold(item_id)) is not None:
        wait = (datetime.fromisoformat(plan["at"]) - datetime.fromisoformat(_now())).total_seconds()
        if wait > 0 and DBOS.recv(WAKE_TOPIC, timeout_seconds=wait) is not None:
            continue  # woken (resolved): look again before escalating
        if reach(item_id, int(plan["level"])):
            reached = int(plan["level"])
        elif next_threshold(item_id) == plan:  # resolved meanwhile, or nothing moved: stop
            break
    return reached
