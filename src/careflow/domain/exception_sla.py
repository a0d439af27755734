"""The exception queue's SLA policy and its figures (aging, breaches, share within SLA).

An item's SLA is a number of minutes after it is raised, per category × priority
(``DEFAULT_MINUTES``). Escalation levels come at fractions of that SLA (``steps``): by
default level 1 at 50 %, level 2 at the due time, level 3 at due + 50 %. The level an
item should have is a pure function of the clock, so ``escalation_level`` can be
recomputed and applied any number of times: each item's durable timer (a DBOS workflow,
services/workflows/escalation.py) applies it at the thresholds, and the server's sweep
applies it every tick as a backstop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from careflow.domain.errors import InvalidRequest
from careflow.domain.exceptions_queue import CATEGORIES, PRIORITIES, ExceptionItem

__all__ = ["DEFAULT_MINUTES", "DEFAULT_POLICY", "SlaPolicy", "figures"]

# Minutes until due, per category: (urgent, high, normal, low).
_TABLE: dict[str, tuple[int, int, int, int]] = {
    "authorization_pending": (120, 480, 1440, 4320),  # payers answer in hours to days
    "implant_short": (60, 240, 720, 2880),  # a purchase order needs lead time
    "prep_incomplete": (120, 480, 1440, 2880),
    "recoordination": (30, 120, 480, 1440),  # a patient is waiting for a new time
    "no_option": (60, 240, 1440, 4320),
    "imaging_not_ready": (60, 240, 720, 1440),  # the slot goes to the waitlist at the cut-off
    "referral_triage": (240, 1440, 4320, 10080),  # referral-to-appointment targets are days
    "bed_placement": (30, 60, 240, 720),  # a patient is waiting in ED or PACU
    "housekeeping": (30, 45, 90, 240),  # a dirty bed blocks the next admission
    "staffing": (30, 120, 480, 1440),
    "other": (120, 480, 1440, 4320),
}
DEFAULT_MINUTES: dict[tuple[str, str], int] = {
    (category, priority): minutes
    for category, row in _TABLE.items() for priority, minutes in zip(PRIORITIES, row, strict=True)}


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Minutes until due per (category, priority), and escalation steps as SLA fractions."""

    minutes: Mapping[tuple[str, str], int] = field(default_factory=lambda: dict(DEFAULT_MINUTES))
    steps: tuple[float, ...] = (0.5, 1.0, 1.5)

    def due_at(self, category: str, priority: str, raised_at: datetime) -> datetime:
        try:
            minutes = self.minutes[(category, priority)]
        except KeyError:
            raise InvalidRequest(f"no SLA for {category}/{priority}", "category") from None
        return raised_at + timedelta(minutes=minutes)

    def level_at(self, item: ExceptionItem, now: datetime) -> int:
        """The escalation level ``item`` should have at ``now`` (0: none yet)."""
        sla = item.sla_due_at - item.created_at
        return sum(1 for step in self.steps if now >= item.created_at + sla * step)


DEFAULT_POLICY = SlaPolicy()


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile by nearest rank (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def figures(unresolved: Iterable[ExceptionItem], resolved: Iterable[ExceptionItem],
            now: datetime) -> dict[str, Any]:
    """Open counts per team and category, open-item age p50/p90 in minutes, how many
    are past due now, and the share of ``resolved`` items resolved within their SLA."""
    open_items = list(unresolved)
    done = [i for i in resolved if i.resolution is not None]
    ages = [(now - i.created_at).total_seconds() / 60 for i in open_items]
    within = sum(1 for i in done if i.resolution is not None and i.resolution.at <= i.sla_due_at)
    return {
        "open": len(open_items),
        "open_by_team": dict(sorted(Counter(i.owner_team for i in open_items).items())),
        "open_by_category": {c: n for c in CATEGORIES
                             if (n := sum(1 for i in open_items if i.category == c))},
        "age_minutes_p50": _percentile(ages, 0.5),
        "age_minutes_p90": _percentile(ages, 0.9),
        "breached": sum(1 for i in open_items if i.breached(now)),
        "resolved": len(done),
        "resolved_within_sla": within,
        "share_within_sla": within / len(done) if done else None,
    }
