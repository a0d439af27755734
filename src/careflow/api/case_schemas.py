"""Request and response bodies of the surgical case API (separate from the domain)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from careflow.api.exception_schemas import ShortId
from careflow.api.schemas import Input, Instant
from careflow.domain.bookings import Urgency
from careflow.domain.surgical_cases import CaseRequest
from careflow.services.surgical_cases import CaseView

__all__ = ["CaseBody", "CaseOut", "CaseStatusName", "Signal"]

CaseStatusName = Literal["requested", "running", "waiting", "booked", "needs_attention"]
Signal = Literal["prep_done", "stock_arrived", "authorization_changed"]


class CaseBody(Input):
    """A surgeon's request: the procedure is a service id (its preference card)."""

    surgeon_id: ShortId
    service_id: ShortId
    patient_id: ShortId
    earliest: Instant
    latest: Instant
    urgency: Urgency = Urgency.ROUTINE
    site_ids: list[ShortId] = Field(default_factory=list, max_length=50,
                                    description="preferred sites (empty: any site that offers the procedure)")

    def to_domain(self) -> CaseRequest:
        return CaseRequest(self.surgeon_id, self.service_id, self.patient_id, self.earliest, self.latest,
                           self.urgency, tuple(self.site_ids))


class CaseOut(BaseModel):
    id: str
    status: str
    step: str
    waiting_for: list[str]
    request: dict[str, Any]
    hold_id: str | None
    booking_id: str | None
    planned: dict[str, Any] | None = Field(description="the option the case is planned on while it "
                                                       "waits for implants (it cannot hold them)")
    steps: list[dict[str, Any]] = Field(description="steps done, in order, each once")
    tasks: list[dict[str, Any]] = Field(description="exception-queue items the case raised")
    purchase_requests: list[dict[str, Any]]
    prep_confirmed_by: str | None
    last_error: str | None
    workflow_status: str | None = Field(description="DBOS's status of the workflow (None: unknown)")
    created_by: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, view: CaseView) -> CaseOut:
        c = view.case
        return cls(id=c.id, status=c.status, step=c.step, waiting_for=list(c.waiting_for),
                   request=c.request.to_dict(), hold_id=c.hold_id, booking_id=c.booking_id,
                   planned=c.planned, steps=list(c.steps), tasks=view.tasks,
                   purchase_requests=view.purchase_requests, prep_confirmed_by=c.prep_confirmed_by,
                   last_error=c.last_error, workflow_status=view.workflow_status, created_by=c.created_by,
                   created_at=c.created_at.isoformat(), updated_at=c.updated_at.isoformat())
