"""Request and response bodies of the exception-queue API (separate from the domain)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from careflow.api.schemas import ID_PATTERN, Input, Text, no_control_characters
from careflow.domain.exceptions_queue import ExceptionItem, RaiseException

__all__ = [
    "AssignBody",
    "Category",
    "CommentBody",
    "ExceptionOut",
    "FiguresOut",
    "Outcome",
    "Priority",
    "QueueStatus",
    "RaiseBody",
    "ResolveBody",
    "ShortId",
]

Category = Literal["authorization_pending", "implant_short", "prep_incomplete", "recoordination",
                   "no_option", "imaging_not_ready", "referral_triage", "bed_placement", "housekeeping",
                   "staffing", "other"]
Priority = Literal["urgent", "high", "normal", "low"]
Outcome = Literal["alternative_booked", "rescheduled", "fixed_upstream", "cancelled", "no_action_needed",
                  "duplicate"]
QueueStatus = Literal["open", "claimed", "resolved"]
ShortId = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": ID_PATTERN}),
                    AfterValidator(no_control_characters)]
Team = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]


class RaiseBody(Input):
    category: Category
    owner_team: Team
    priority: Priority = "normal"
    summary: Text
    booking_id: ShortId | None = None
    case_id: ShortId | None = None
    patient_id: ShortId | None = None
    site_id: ShortId | None = None
    alternatives: list[dict[str, Any]] = Field(default_factory=list, max_length=20,
                                               description="ranked careflow options, best first")

    @field_validator("alternatives")
    @classmethod
    def _storable(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PostgreSQL's JSONB cannot hold NUL: refuse it here rather than fail on insert."""
        if "\\u0000" in json.dumps(value):
            raise PydanticCustomError("control_character", "must not contain NUL characters")
        return value

    def to_domain(self) -> RaiseException:
        return RaiseException(self.category, self.owner_team, self.priority, self.summary,
                              self.booking_id, self.case_id, self.patient_id, self.site_id,
                              tuple(self.alternatives))


class AssignBody(Input):
    assignee: ShortId


class CommentBody(Input):
    text: Text


class ResolveBody(Input):
    outcome: Outcome
    note: Text | None = None


class CommentOut(BaseModel):
    author: str
    at: datetime
    text: str


class ResolutionOut(BaseModel):
    outcome: str
    note: str
    by: str
    at: datetime


class ExceptionOut(BaseModel):
    id: str
    category: str
    owner_team: str
    priority: str
    summary: str
    booking_id: str | None
    case_id: str | None
    patient_id: str | None
    site_id: str | None
    status: str
    assignee: str | None
    escalation_level: int
    created_at: datetime
    sla_due_at: datetime
    breached: bool
    comments: list[CommentOut]
    alternatives: list[dict[str, Any]]
    resolution: ResolutionOut | None
    version: int

    @classmethod
    def of(cls, item: ExceptionItem, now: datetime) -> ExceptionOut:
        r = item.resolution
        return cls(id=item.id, category=item.category, owner_team=item.owner_team, priority=item.priority,
                   summary=item.summary, booking_id=item.booking_id, case_id=item.case_id,
                   patient_id=item.patient_id, site_id=item.site_id, status=item.status,
                   assignee=item.assignee, escalation_level=item.escalation_level,
                   created_at=item.created_at, sla_due_at=item.sla_due_at, breached=item.breached(now),
                   comments=[CommentOut(author=c.author, at=c.at, text=c.text) for c in item.comments],
                   alternatives=item.alternatives,
                   resolution=ResolutionOut(outcome=r.outcome, note=r.note, by=r.by, at=r.at) if r else None,
                   version=item.version)


class FiguresOut(BaseModel):
    at: str
    period_days: int
    open: int
    open_by_team: dict[str, int]
    open_by_category: dict[str, int]
    age_minutes_p50: float | None
    age_minutes_p90: float | None
    breached: int
    resolved: int
    resolved_within_sla: int
    share_within_sla: float | None
