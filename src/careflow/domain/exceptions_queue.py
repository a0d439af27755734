"""The exception queue: work that needs a person, with an owner team, a priority and an SLA.

An ``ExceptionItem`` is raised (by a workflow, or an integration client), claimed by one
person, possibly reassigned and commented on, and resolved with an outcome. Its lifecycle:

    open ──claim──▶ claimed ──resolve──▶ resolved
      │               ▲  │
      └──reassign─────┘  └──reassign (to someone else)

An open item may also be resolved directly. Every other move is an ``InvalidTransition``.
Each step records an event (``ExceptionRaised``, ``ExceptionClaimed``, ...) that the use
case writes to the outbox. ``alternatives`` are ranked careflow options in their dict form;
the queue carries them and never reads them. The subject is ids only (booking, case,
patient, site): never a name.

The SLA and the escalation levels come from ``SlaPolicy`` (see ``DEFAULT_POLICY``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.events import Event

__all__ = [
    "CATEGORIES",
    "OUTCOMES",
    "PRIORITIES",
    "Comment",
    "ExceptionClaimed",
    "ExceptionCommented",
    "ExceptionEscalated",
    "ExceptionItem",
    "ExceptionRaised",
    "ExceptionReassigned",
    "ExceptionResolved",
    "ExceptionStatus",
    "RaiseException",
    "Resolution",
    "queue_order",
]

CATEGORIES = ("authorization_pending", "implant_short", "prep_incomplete", "recoordination",
              "no_option", "imaging_not_ready", "referral_triage", "bed_placement", "housekeeping",
              "staffing", "other")
PRIORITIES = ("urgent", "high", "normal", "low")  # in queue order
OUTCOMES = ("alternative_booked", "rescheduled", "fixed_upstream", "cancelled", "no_action_needed",
            "duplicate")
_TEAM = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


class ExceptionStatus:
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    ALL = ("open", "claimed", "resolved")


S = ExceptionStatus


@dataclass(frozen=True, slots=True)
class ExceptionRaised(Event):
    name: ClassVar[str] = "ExceptionRaised"
    category: str = ""
    owner_team: str = ""
    priority: str = ""
    sla_due_at: datetime | None = None
    booking_id: str | None = None
    case_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExceptionClaimed(Event):
    name: ClassVar[str] = "ExceptionClaimed"
    assignee: str = ""


@dataclass(frozen=True, slots=True)
class ExceptionReassigned(Event):
    name: ClassVar[str] = "ExceptionReassigned"
    previous: str | None = None
    assignee: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class ExceptionCommented(Event):
    name: ClassVar[str] = "ExceptionCommented"
    author: str = ""


@dataclass(frozen=True, slots=True)
class ExceptionEscalated(Event):
    name: ClassVar[str] = "ExceptionEscalated"
    level: int = 0
    owner_team: str = ""


@dataclass(frozen=True, slots=True)
class ExceptionResolved(Event):
    name: ClassVar[str] = "ExceptionResolved"
    outcome: str = ""
    by: str = ""
    within_sla: bool = True


@dataclass(frozen=True, slots=True)
class Comment:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Resolution:
    outcome: str
    note: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RaiseException:
    """Put a case that needs a person on the queue (ids only in the subject)."""

    category: str
    owner_team: str
    priority: str
    summary: str
    booking_id: str | None = None
    case_id: str | None = None
    patient_id: str | None = None
    site_id: str | None = None
    alternatives: tuple[dict[str, Any], ...] = ()

    def validate(self) -> None:
        if self.category not in CATEGORIES:
            raise InvalidRequest(f"category must be one of {', '.join(CATEGORIES)}", "category")
        if self.priority not in PRIORITIES:
            raise InvalidRequest(f"priority must be one of {', '.join(PRIORITIES)}", "priority")
        if not _TEAM.match(self.owner_team):
            raise InvalidRequest("owner_team must be a short lowercase name", "owner_team")
        if not self.summary.strip():
            raise InvalidRequest("summary must not be empty", "summary")
        if self.booking_id is None and self.case_id is None:
            raise InvalidRequest("name the booking_id or the case_id the exception is about", "booking_id")


@dataclass(slots=True)
class ExceptionItem:
    """One piece of work on the queue (the aggregate; ``version`` guards concurrent writers)."""

    id: str
    category: str
    owner_team: str
    priority: str
    summary: str
    created_at: datetime
    sla_due_at: datetime
    booking_id: str | None = None
    case_id: str | None = None
    patient_id: str | None = None
    site_id: str | None = None
    status: str = S.OPEN
    assignee: str | None = None
    escalation_level: int = 0
    comments: list[Comment] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    resolution: Resolution | None = None
    version: int = 1
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def raised(cls, item_id: str, cmd: RaiseException, now: datetime, sla_due_at: datetime) -> ExceptionItem:
        cmd.validate()
        item = cls(item_id, cmd.category, cmd.owner_team, cmd.priority, cmd.summary.strip(), now,
                   sla_due_at, cmd.booking_id, cmd.case_id, cmd.patient_id, cmd.site_id,
                   alternatives=[dict(a) for a in cmd.alternatives])
        item.events.append(ExceptionRaised(item_id, cmd.category, cmd.owner_team, cmd.priority,
                                           sla_due_at, cmd.booking_id, cmd.case_id))
        return item

    @property
    def resolved(self) -> bool:
        return self.status == S.RESOLVED

    def breached(self, now: datetime) -> bool:
        """Past its SLA without being resolved."""
        return not self.resolved and now > self.sla_due_at

    def _refuse_if_resolved(self, step: str) -> None:
        if self.resolved:
            raise InvalidTransition(f"exception {self.id!r} is resolved; it cannot be {step}")

    def claim(self, actor_id: str) -> None:
        """Take an open item; a claimed or resolved one cannot be claimed."""
        self._refuse_if_resolved("claimed")
        if self.status != S.OPEN:
            raise InvalidTransition(f"exception {self.id!r} is already claimed by {self.assignee!r}")
        self.status, self.assignee = S.CLAIMED, actor_id
        self._bump(ExceptionClaimed(self.id, actor_id))

    def reassign(self, to: str, by: str) -> None:
        """Hand an unresolved item to ``to`` (it becomes claimed by them)."""
        self._refuse_if_resolved("reassigned")
        if not to.strip():
            raise InvalidRequest("assignee must not be empty", "assignee")
        if self.status == S.CLAIMED and self.assignee == to:
            raise InvalidTransition(f"exception {self.id!r} is already assigned to {to!r}")
        previous = self.assignee
        self.status, self.assignee = S.CLAIMED, to
        self._bump(ExceptionReassigned(self.id, previous, to, by))

    def comment(self, author: str, text: str, now: datetime) -> None:
        """Add a note (allowed in any status: a resolved item can still be annotated)."""
        if not text.strip():
            raise InvalidRequest("text must not be empty", "text")
        self.comments.append(Comment(author, now, text.strip()))
        self._bump(ExceptionCommented(self.id, author))

    def resolve(self, outcome: str, note: str, by: str, now: datetime) -> None:
        """Close the item with an outcome (``OUTCOMES``); who may do it is the use case's call."""
        self._refuse_if_resolved("resolved again")
        if outcome not in OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}", "outcome")
        self.status, self.resolution = S.RESOLVED, Resolution(outcome, note.strip(), by, now)
        self._bump(ExceptionResolved(self.id, outcome, by, now <= self.sla_due_at))

    def escalate_to(self, level: int) -> bool:
        """Raise the escalation level to ``level`` (never lowers it; a no-op when resolved
        or already there, so a sweep can run any number of times)."""
        if self.resolved or level <= self.escalation_level:
            return False
        self.escalation_level = level
        self._bump(ExceptionEscalated(self.id, level, self.owner_team))
        return True

    def _bump(self, event: Event) -> None:
        self.version += 1
        self.events.append(event)


def queue_order(item: ExceptionItem) -> tuple[int, datetime, str]:
    """The queue's sort key: priority first, then the earliest due, then id."""
    return PRIORITIES.index(item.priority), item.sla_due_at, item.id
