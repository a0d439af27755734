"""Exception-queue use cases: raise, list, get, claim, reassign, comment, resolve,
escalate and figures. Every write is audited and its events go to the outbox, in the
same transaction as the change.

Who may act is checked twice: the route's permission (``exception.work``) and, for
resolving or reassigning an item someone else claimed, being that assignee or a manager
(``Actor.manages_exceptions``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from careflow.domain.access import Actor, Permission
from careflow.domain.errors import NotFound, PermissionDenied
from careflow.domain.exception_sla import DEFAULT_POLICY, SlaPolicy, figures
from careflow.domain.exceptions_queue import ExceptionItem, ExceptionStatus, RaiseException
from careflow.services.ports import AuditEntry, Clock, ExceptionFilter, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "claim",
    "comment",
    "escalate",
    "escalate_due",
    "get",
    "list_items",
    "new_exception_id",
    "queue_figures",
    "raise_exception",
    "raise_many",
    "reassign",
    "resolve",
]


def new_exception_id() -> str:
    return f"ex_{uuid.uuid4().hex}"


def _visible(item: ExceptionItem | None, actor: Actor, item_id: str) -> ExceptionItem:
    if item is None or (item.site_id is not None and not actor.may_see_site(item.site_id)):
        raise NotFound("exception", item_id)
    return item


def _audit(uow: UnitOfWork, actor: Actor, action: str, item: ExceptionItem, **detail: Any) -> None:
    uow.audit(AuditEntry(actor.id, action, "exception", item.id, "ok", detail=dict(detail)))


def _change(item_id: str, actor: Actor, uow_factory: UnitOfWorkFactory, action: str,
            step: Callable[[ExceptionItem], dict[str, Any]]) -> ExceptionItem:
    """Read the item with its row locked, apply ``step``, save (optimistic on version),
    publish its events and audit, in one transaction."""
    with uow_factory(write=True) as uow:
        item = _visible(uow.exceptions.get(item_id, lock=True), actor, item_id)
        expected = item.version
        detail = step(item)
        uow.exceptions.save(item, expected)
        uow.publish(item.events)
        _audit(uow, actor, action, item, status=item.status, **detail)
        uow.commit()
    item.events.clear()
    return item


def raise_exception(cmd: RaiseException, actor: Actor, uow_factory: UnitOfWorkFactory, clock: Clock,
                    policy: SlaPolicy = DEFAULT_POLICY, item_id: str | None = None) -> ExceptionItem:
    """Put a case on the queue, due by the policy's SLA for its category and priority.

    ``item_id`` lets a workflow step name its item up front, so running the step again
    finds the item instead of raising a second one."""
    cmd.validate()
    if cmd.site_id is not None:
        actor.require_site(cmd.site_id)
    now = clock()
    item = ExceptionItem.raised(item_id or new_exception_id(), cmd, now,
                                policy.due_at(cmd.category, cmd.priority, now))
    with uow_factory(write=True) as uow:
        uow.exceptions.add(item)
        uow.publish(item.events)
        _audit(uow, actor, "exception.raise", item, category=item.category, team=item.owner_team,
               priority=item.priority)
        uow.commit()
    item.events.clear()
    return item


def raise_many(items: Sequence[tuple[RaiseException, str]], actor: Actor, uow_factory: UnitOfWorkFactory,
               clock: Clock, policy: SlaPolicy = DEFAULT_POLICY) -> list[ExceptionItem]:
    """Several items (each with the id it was promised) in one transaction: re-coordination
    queues the bookings of one run in batches."""
    now = clock()
    raised: list[ExceptionItem] = []
    for cmd, item_id in items:
        cmd.validate()
        if cmd.site_id is not None:
            actor.require_site(cmd.site_id)
        raised.append(ExceptionItem.raised(item_id, cmd, now, policy.due_at(cmd.category, cmd.priority, now)))
    with uow_factory(write=True) as uow:
        for item in raised:
            uow.exceptions.add(item)
            uow.publish(item.events)
            _audit(uow, actor, "exception.raise", item, category=item.category, team=item.owner_team,
                   priority=item.priority)
        uow.commit()
    for item in raised:
        item.events.clear()
    return raised


def list_items(flt: ExceptionFilter, actor: Actor, uow_factory: UnitOfWorkFactory, offset: int = 0,
               limit: int = 50) -> tuple[list[ExceptionItem], int]:
    """A page of the queue in priority-then-due order, within the actor's site limit."""
    if actor.sites is not None and not actor.break_glass:
        limit_sites = frozenset(actor.sites)
        sites = limit_sites if flt.site_ids is None else flt.site_ids & limit_sites
        flt = ExceptionFilter(flt.status, flt.owner_team, flt.category, flt.priority, flt.assignee,
                              flt.breached_at, sites)
    with uow_factory() as uow:
        return uow.exceptions.find(flt, offset, limit)


def get(item_id: str, actor: Actor, uow_factory: UnitOfWorkFactory) -> ExceptionItem:
    with uow_factory() as uow:
        return _visible(uow.exceptions.get(item_id), actor, item_id)


def claim(item_id: str, actor: Actor, uow_factory: UnitOfWorkFactory) -> ExceptionItem:
    """Take an open item (of two claimers at once, one wins; the other gets 409)."""

    def step(item: ExceptionItem) -> dict[str, Any]:
        item.claim(actor.id)
        return {}

    return _change(item_id, actor, uow_factory, "exception.claim", step)


def _require_owner_or_manager(item: ExceptionItem, actor: Actor, what: str) -> None:
    if item.status == ExceptionStatus.CLAIMED and item.assignee != actor.id and not actor.manages_exceptions:
        raise PermissionDenied(Permission.EXCEPTION_WORK,
                               f"only the assignee or a manager may {what} exception {item.id!r}")


def reassign(item_id: str, to: str, actor: Actor, uow_factory: UnitOfWorkFactory) -> ExceptionItem:
    """Hand the item to ``to`` (its assignee, a manager, or anyone while it is open)."""

    def step(item: ExceptionItem) -> dict[str, Any]:
        if not item.resolved:
            _require_owner_or_manager(item, actor, "reassign")
        previous = item.assignee
        item.reassign(to, actor.id)
        return {"from": previous, "to": to}

    return _change(item_id, actor, uow_factory, "exception.reassign", step)


def comment(item_id: str, text: str, actor: Actor, uow_factory: UnitOfWorkFactory,
            clock: Clock) -> ExceptionItem:
    """Add a note to the item (the text stays in the item, not in the audit trail)."""

    def step(item: ExceptionItem) -> dict[str, Any]:
        item.comment(actor.id, text, clock())
        return {"comments": len(item.comments)}

    return _change(item_id, actor, uow_factory, "exception.comment", step)


def resolve(item_id: str, outcome: str, note: str, actor: Actor, uow_factory: UnitOfWorkFactory,
            clock: Clock) -> ExceptionItem:
    """Close the item with an outcome; a claimed item only by its assignee or a manager."""

    def step(item: ExceptionItem) -> dict[str, Any]:
        if not item.resolved:
            _require_owner_or_manager(item, actor, "resolve")
        now = clock()
        item.resolve(outcome, note, actor.id, now)
        return {"outcome": outcome, "within_sla": now <= item.sla_due_at}

    return _change(item_id, actor, uow_factory, "exception.resolve", step)


def escalate_due(uow_factory: UnitOfWorkFactory, clock: Clock, policy: SlaPolicy = DEFAULT_POLICY,
                 actor_id: str = "system") -> int:
    """Raise the escalation level of every unresolved item whose threshold has passed;
    safe to run any number of times (an item already at its level is left alone).
    Returns how many items moved up."""
    now = clock()
    with uow_factory() as uow:
        due = [i.id for i in uow.exceptions.unresolved() if policy.level_at(i, now) > i.escalation_level]
    return sum(1 for item_id in due if escalate(item_id, None, uow_factory, clock, policy, actor_id))


def escalate(item_id: str, level: int | None, uow_factory: UnitOfWorkFactory, clock: Clock,
             policy: SlaPolicy = DEFAULT_POLICY, actor_id: str = "system") -> bool:
    """Raise one item to ``level`` (None: the level its SLA gives it now); False when it is
    resolved, gone or already there. The durable timer of each item (services/workflows/
    escalation.py) and the server's sweep both come here, so together they escalate once."""
    with uow_factory(write=True) as uow:
        item = uow.exceptions.get(item_id, lock=True)
        if item is None or not item.escalate_to(policy.level_at(item, clock()) if level is None else level):
            return False
        uow.exceptions.save(item, item.version - 1)
        uow.publish(item.events)
        uow.audit(AuditEntry(actor_id, "exception.escalate", "exception", item.id, "ok",
                             detail={"level": item.escalation_level, "team": item.owner_team}))
        uow.commit()
    item.events.clear()
    return True


def queue_figures(uow_factory: UnitOfWorkFactory, clock: Clock, days: int = 30) -> dict[str, Any]:
    """Aging and SLA figures: open counts, age p50/p90, breached now, and the share of
    items resolved in the last ``days`` days that were resolved within their SLA."""
    now = clock()
    start: datetime = now - timedelta(days=days)
    with uow_factory() as uow:
        unresolved = uow.exceptions.unresolved()
        resolved = uow.exceptions.resolved_between(start, now + timedelta(microseconds=1))
    return {**figures(unresolved, resolved, now), "period_days": days, "at": now.isoformat()}
