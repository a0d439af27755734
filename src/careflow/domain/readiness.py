"""Imaging readiness: which prerequisites a booked imaging visit still misses, and when
the readiness workflow looks again.

A service needs the workflow when it is imaging (or an image-guided procedure) with prep
items on its card: prep instructions acknowledged, contrast labs (renal function),
implant screening. The patient is ready when every prep code is among their
``completed_prep`` (recorded through the patient management API).

The workflow's checkpoints are times before the slot: reminders (72 h and 24 h before, by
default) and the cut-off (24 h before). At a reminder the patient is reminded of what is
missing; at the cut-off a booking still not ready is cancelled and its slot goes to the
waitlist. Checkpoints already past when the booking is confirmed are skipped, so a
booking made inside its cut-off is never cancelled for readiness (it gets one reminder).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from careflow.domain.errors import InvalidRequest
from careflow.domain.preference_cards import Service, ServiceKind

__all__ = ["DEFAULT_READINESS_POLICY", "Checkpoint", "ReadinessPolicy", "checkpoints", "missing_prep",
           "needs_readiness"]

READINESS_KINDS = frozenset({ServiceKind.IMAGING, ServiceKind.PROCEDURE})


@dataclass(frozen=True)
class ReadinessPolicy:
    """When to remind (before the slot, latest last) and when to give the slot up."""

    reminders: tuple[timedelta, ...] = (timedelta(hours=72), timedelta(hours=24))
    cutoff: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if any(r <= timedelta(0) for r in self.reminders) or self.cutoff < timedelta(0):
            raise InvalidRequest("reminder offsets must be positive and the cut-off not negative",
                                 "reminders")


DEFAULT_READINESS_POLICY = ReadinessPolicy()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    kind: str  # reminder or cutoff
    at: datetime
    label: str  # e.g. "72h", stable across runs: it names the reminder's notification

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "at": self.at.isoformat(), "label": self.label}


def _label(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


def needs_readiness(service: Service) -> bool:
    """Whether bookings of ``service`` get the readiness workflow."""
    return service.kind in READINESS_KINDS and bool(service.prerequisites.prep) and (
        service.kind is ServiceKind.IMAGING or service.specialty == "radiology")


def missing_prep(service: Service, completed: Collection[str]) -> list[str]:
    """The prep codes of ``service`` not yet completed, in card order."""
    return [p.code for p in service.prerequisites.prep if p.code not in completed]


def checkpoints(start: datetime, now: datetime, policy: ReadinessPolicy) -> list[Checkpoint]:
    """The reminders and the cut-off still ahead of ``now``, in time order (the cut-off
    last among checkpoints at the same instant)."""
    points = [Checkpoint("reminder", start - r, _label(r)) for r in policy.reminders]
    points.append(Checkpoint("cutoff", start - policy.cutoff, _label(policy.cutoff)))
    ahead = [p for p in points if p.at > now]
    if not any(p.kind == "cutoff" for p in ahead) and not any(p.kind == "reminder" for p in ahead):
        ahead = [Checkpoint("reminder", now, "late")] if start > now else []
    return sorted(ahead, key=lambda p: (p.at, p.kind == "cutoff"))
