"""Surgical case requests: what a surgeon asks for, and the case the workflow runs.

A ``CaseRequest`` names the surgeon, the procedure (a service id), the patient, the
urgency, the wanted window and the preferred sites. The ``SurgicalCase`` is the
workflow's record for listing and inspection: its status, the step it is at, what it
waits for, the steps done (each once, by name), the tasks it put on the exception queue
and the booking it ended with. A ``PurchaseRequest`` asks procurement for implants the
case is short of, linked to the case.

    requested ──▶ running ──▶ waiting ◀──▶ running ──▶ booked
                                  └──────────────────▶ needs_attention (on the exception queue)

Ids only: nothing here names a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careflow.domain.bookings import Urgency
from careflow.domain.errors import InvalidRequest
from careflow.domain.timespans import MAX_WINDOW, require_aware

__all__ = [
    "CASE_STATUSES",
    "SIGNALS",
    "WAIT_AUTHORIZATION",
    "WAIT_PREP",
    "WAIT_STOCK",
    "CaseRequest",
    "CaseStatus",
    "PurchaseRequest",
    "SurgicalCase",
]


class CaseStatus:
    REQUESTED = "requested"
    RUNNING = "running"
    WAITING = "waiting"
    BOOKED = "booked"
    NEEDS_ATTENTION = "needs_attention"


CASE_STATUSES = (CaseStatus.REQUESTED, CaseStatus.RUNNING, CaseStatus.WAITING, CaseStatus.BOOKED,
                 CaseStatus.NEEDS_ATTENTION)
WAIT_AUTHORIZATION, WAIT_STOCK, WAIT_PREP = "authorization", "stock", "prep"
# What a person or another system may tell a waiting case (POST .../signals/{name}).
SIGNALS = ("prep_done", "stock_arrived", "authorization_changed")
_ID_MAX = 64


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _ID_MAX:
        raise InvalidRequest(f"{name} must be an id of 1 to {_ID_MAX} characters", name)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidRequest(f"{name} must not hold control characters", name)
    return value


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """A surgeon's request for a case (validated on construction)."""

    surgeon_id: str
    service_id: str
    patient_id: str
    earliest: datetime
    latest: datetime
    urgency: Urgency = Urgency.ROUTINE
    site_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _id(self.surgeon_id, "surgeon_id")
        _id(self.service_id, "service_id")
        _id(self.patient_id, "patient_id")
        earliest = require_aware(self.earliest, "earliest")
        latest = require_aware(self.latest, "latest")
        if latest <= earliest:
            raise InvalidRequest("latest must be after earliest", "latest")
        if latest - earliest > MAX_WINDOW:
            raise InvalidRequest(f"the wanted window is longer than {MAX_WINDOW.days} days", "latest")
        if not isinstance(self.urgency, Urgency):
            raise InvalidRequest("urgency must be routine, urgent or emergent", "urgency")
        for site_id in self.site_ids:
            _id(site_id, "site_ids")
        object.__setattr__(self, "site_ids", tuple(dict.fromkeys(self.site_ids)))

    def to_dict(self) -> dict[str, Any]:
        return {"surgeon_id": self.surgeon_id, "service_id": self.service_id,
                "patient_id": self.patient_id, "earliest": self.earliest.isoformat(),
                "latest": self.latest.isoformat(), "urgency": self.urgency.value,
                "site_ids": list(self.site_ids)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> CaseRequest:
        return cls(doc["surgeon_id"], doc["service_id"], doc["patient_id"],
                   datetime.fromisoformat(doc["earliest"]), datetime.fromisoformat(doc["latest"]),
                   Urgency(doc["urgency"]), tuple(doc.get("site_ids", ())))


@dataclass(slots=True)
class PurchaseRequest:
    """Implants a case is short of, asked of procurement: needed by ``needed_by`` (the
    planned case's day, less a margin), expected at ``expected_at`` (now + lead time)."""

    id: str
    case_id: str
    site_id: str
    sku: str
    quantity: int
    status: str  # open, received, cancelled
    needed_by: datetime
    expected_at: datetime
    created_at: datetime

    @property
    def late(self) -> bool:
        """The lead time misses the day the case needs the items."""
        return self.expected_at > self.needed_by


@dataclass(slots=True)
class SurgicalCase:
    """The workflow's record of one case (``version`` guards concurrent writers)."""

    id: str
    request: CaseRequest
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    step: str = "requested"
    waiting_for: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    hold_id: str | None = None
    booking_id: str | None = None
    planned: dict[str, Any] | None = None  # the option the case is planned on while it cannot hold
    prep_confirmed_by: str | None = None
    last_error: str | None = None
    version: int = 1

    def done(self, step: str) -> bool:
        return any(s["step"] == step for s in self.steps)

    def record(self, step: str, at: datetime, **detail: Any) -> bool:
        """Note ``step`` as done (once: a step that runs again after a crash adds nothing)."""
        self.step, self.updated_at = step, at
        if self.done(step):
            return False
        self.steps.append({"step": step, "at": at.isoformat(), **detail})
        return True

    def add_task(self, exception_id: str) -> None:
        if exception_id not in self.tasks:
            self.tasks.append(exception_id)
