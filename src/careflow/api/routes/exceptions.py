"""The exception queue: raise, list, read, claim, reassign, comment, resolve, figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.exception_schemas import (
    AssignBody,
    Category,
    CommentBody,
    ExceptionOut,
    FiguresOut,
    Priority,
    QueueStatus,
    RaiseBody,
    ResolveBody,
    ShortId,
)
from careflow.api.schemas import Page, Problem
from careflow.domain.access import Permission
from careflow.services import exception_queue as use
from careflow.services.ports import ExceptionFilter

router = APIRouter(prefix="/api/v1/exceptions", tags=["exceptions"])

ItemId = Annotated[ShortId, Path()]
Filter = Annotated[ShortId | None, Query()]
ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks the permission, or not the assignee"},
    404: {"model": Problem, "description": "unknown id"},
    409: {"model": Problem, "description": "the item's status forbids the step, or a race was lost"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}
READ = [needs(Permission.EXCEPTION_READ)]
WORK = [needs(Permission.EXCEPTION_WORK)]


@router.get("", responses=ERRORS, dependencies=READ)
def list_exceptions(app: AppDep, actor: ActorDep, status: QueueStatus | None = None,
                    team: Filter = None, category: Category | None = None,
                    priority: Priority | None = None, assignee: Filter = None,
                    breached: Annotated[bool, Query(description="only unresolved items past due")] = False,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[ExceptionOut]:
    """The queue, most urgent first, then by due time."""
    now = app.deps.clock()
    flt = ExceptionFilter(status, team, category, priority, assignee, now if breached else None)
    items, total = use.list_items(flt, actor, app.deps.uow, offset, limit)
    return Page[ExceptionOut](items=[ExceptionOut.of(i, now) for i in items], total=total,
                              offset=offset, limit=limit)


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS,
             dependencies=[needs(Permission.EXCEPTION_RAISE)])
def raise_exception(body: RaiseBody, app: AppDep, actor: ActorDep) -> ExceptionOut:
    """Put a case that needs a person on the queue; its SLA comes from the policy."""
    item = use.raise_exception(body.to_domain(), actor, app.deps.uow, app.deps.clock)
    return ExceptionOut.of(item, app.deps.clock())


@router.get("/figures", responses=ERRORS, dependencies=READ)
def figures(app: AppDep,
            days: Annotated[int, Query(ge=1, le=366, description="period for the SLA share")] = 30,
            ) -> FiguresOut:
    """Open counts per team and category, age p50/p90, breached now, share resolved within SLA."""
    return FiguresOut(**use.queue_figures(app.deps.uow, app.deps.clock, days))


@router.get("/{item_id}", responses=ERRORS, dependencies=READ)
def get_exception(item_id: ItemId, app: AppDep, actor: ActorDep) -> ExceptionOut:
    """One item with its comments, alternatives and resolution."""
    return ExceptionOut.of(use.get(item_id, actor, app.deps.uow), app.deps.clock())


@router.post("/{item_id}/claim", responses=ERRORS, dependencies=WORK)
def claim(item_id: ItemId, app: AppDep, actor: ActorDep) -> ExceptionOut:
    """Take an open item (409 when someone else already has it)."""
    return ExceptionOut.of(use.claim(item_id, actor, app.deps.uow), app.deps.clock())


@router.post("/{item_id}/reassign", responses=ERRORS, dependencies=WORK)
def reassign(item_id: ItemId, body: AssignBody, app: AppDep, actor: ActorDep) -> ExceptionOut:
    """Hand the item to someone else (its assignee or a manager may)."""
    return ExceptionOut.of(use.reassign(item_id, body.assignee, actor, app.deps.uow), app.deps.clock())


@router.post("/{item_id}/comments", responses=ERRORS, dependencies=WORK)
def comment(item_id: ItemId, body: CommentBody, app: AppDep, actor: ActorDep) -> ExceptionOut:
    """Add a note to the item."""
    item = use.comment(item_id, body.text, actor, app.deps.uow, app.deps.clock)
    return ExceptionOut.of(item, app.deps.clock())


@router.post("/{item_id}/resolve", responses=ERRORS, dependencies=WORK)
def resolve(item_id: ItemId, body: ResolveBody, app: AppDep, actor: ActorDep) -> ExceptionOut:
    """Close the item with an outcome (a claimed item: its assignee or a manager)."""
    item = use.resolve(item_id, body.outcome, body.note or "", actor, app.deps.uow, app.deps.clock)
    return ExceptionOut.of(item, app.deps.clock())
