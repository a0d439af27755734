"""Referrals: a request from a referring clinician to see a patient for a visit type, and
the triage rules that turn one into a recommended site and time.

Lifecycle (``Referral.status``)::

    received ──triage──▶ awaiting_choice ──choose──▶ chosen ──book──▶ booked
        │                     │   ▲                    │
        │ (auto-book)         │   └──(time taken)──────┘
        ├──────────▶ booked   └──(no choice in time)──▶ queued
        └──(nothing in reach, nothing bookable)───────▶ queued

Triage (``triage_sites``) is explicit and explained: each site that can see the patient
gets a score, lower is better, made of three terms, each reported as a reason:

| term      | points                                                                   |
|-----------|--------------------------------------------------------------------------|
| wait      | days until the site's first free slot for the visit type (its expected   |
|           | cycle time) × routine 10, urgent 60, emergent 400                        |
| travel    | km from the patient's home × routine 0.5, urgent 0.2, emergent 0         |
| specialty | 0 when a clinician on the option practises the service's specialty (or  |
|           | the visit needs no clinician); 50 otherwise                              |

The acuity sets the search horizon (emergent 2 days, urgent 14, routine 60) and whether
the best option is booked at once (``ReferralPolicy.auto_book``: urgent and emergent by
default) or the patient is offered the top ``choices`` sites to pick from.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.timespans import MAX_WINDOW

__all__ = [
    "DEFAULT_REFERRAL_POLICY",
    "Recommendation",
    "Referral",
    "ReferralPolicy",
    "ReferralStatus",
    "SiteCandidate",
    "triage_sites",
]

URGENCIES = ("routine", "urgent", "emergent")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")


class ReferralStatus(enum.StrEnum):
    RECEIVED = "received"
    AWAITING_CHOICE = "awaiting_choice"
    CHOSEN = "chosen"
    BOOKED = "booked"
    QUEUED = "queued"


@dataclass(frozen=True)
class ReferralPolicy:
    """The triage weights, horizons and the book-or-offer rule (see the module docstring)."""

    wait_per_day: dict[str, float] = field(default_factory=lambda: {
        "routine": 10.0, "urgent": 60.0, "emergent": 400.0})
    travel_per_km: dict[str, float] = field(default_factory=lambda: {
        "routine": 0.5, "urgent": 0.2, "emergent": 0.0})
    specialty_mismatch: float = 50.0
    horizon_days: dict[str, int] = field(default_factory=lambda: {
        "routine": 60, "urgent": 14, "emergent": 2})
    auto_book: frozenset[str] = frozenset({"urgent", "emergent"})
    choices: int = 3
    choice_timeout: timedelta = timedelta(hours=72)
    poll: timedelta = timedelta(minutes=15)  # how often a waiting workflow re-reads the choice
    max_rounds: int = 3  # offers made again when the chosen time was taken meanwhile

    def __post_init__(self) -> None:
        if self.choices < 1:
            raise InvalidRequest("choices must be at least 1", "choices")
        if self.choice_timeout <= timedelta(0) or self.poll <= timedelta(0):
            raise InvalidRequest("the choice timeout and poll interval must be positive", "choice_timeout")


DEFAULT_REFERRAL_POLICY = ReferralPolicy()


@dataclass(frozen=True, slots=True)
class SiteCandidate:
    """What triage knows about one site: its best option and how soon it can see the patient."""

    site_id: str
    start: datetime  # the proposed start (the site's best-ranked option)
    first_free: datetime  # the earliest free slot found there (the expected cycle time)
    distance_km: float | None  # None when the patient's home is unknown
    specialty_match: bool
    specialty: str | None
    assignments: tuple[tuple[str, str], ...]  # (role, resource id) of the proposed option


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A ranked site and time, with the reasons of its score (JSON-ready through ``to_dict``)."""

    rank: int
    site_id: str
    start: datetime
    score: float
    reasons: tuple[dict[str, Any], ...]
    assignments: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "site_id": self.site_id, "start": self.start.isoformat(),
                "score": self.score, "reasons": [dict(r) for r in self.reasons],
                "assignments": [{"role": role, "resource_id": rid} for role, rid in self.assignments]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        return cls(int(data["rank"]), str(data["site_id"]), datetime.fromisoformat(data["start"]),
                   float(data["score"]), tuple(dict(r) for r in data["reasons"]),
                   tuple((a["role"], a["resource_id"]) for a in data["assignments"]))


def _reason(factor: str, value: float, points: float, detail: str) -> dict[str, Any]:
    return {"factor": factor, "value": round(value, 2), "points": round(points, 2), "detail": detail}


def triage_sites(candidates: list[SiteCandidate], urgency: str, now: datetime,
                 policy: ReferralPolicy = DEFAULT_REFERRAL_POLICY) -> list[Recommendation]:
    """Rank the sites by the triage score (ties: earlier start, then site id)."""
    if urgency not in URGENCIES:
        raise InvalidRequest(f"urgency must be one of {', '.join(URGENCIES)}", "urgency")
    scored: list[tuple[float, datetime, str, SiteCandidate, tuple[dict[str, Any], ...]]] = []
    for c in candidates:
        days = max(0.0, (c.first_free - now).total_seconds() / 86400)
        reasons = [_reason("wait", days, days * policy.wait_per_day[urgency],
                           f"first free slot in {days:.1f} days")]
        if c.distance_km is None:
            reasons.append(_reason("travel", 0, 0, "the patient's home is unknown"))
        else:
            reasons.append(_reason("travel", c.distance_km, c.distance_km * policy.travel_per_km[urgency],
                                   f"{c.distance_km:.1f} km from the patient's home"))
        if c.specialty is None:
            reasons.append(_reason("specialty", 1, 0, "the visit names no specialty"))
        elif c.specialty_match:
            reasons.append(_reason("specialty", 1, 0, f"a {c.specialty} clinician sees the patient"))
        else:
            reasons.append(_reason("specialty", 0, policy.specialty_mismatch,
                                   f"no {c.specialty} clinician on the option"))
        score = round(sum(r["points"] for r in reasons), 2)
        scored.append((score, c.start, c.site_id, c, tuple(reasons)))
    scored.sort(key=lambda s: (s[0], s[1], s[2]))
    return [Recommendation(i, c.site_id, c.start, score, reasons, c.assignments)
            for i, (score, _, _, c, reasons) in enumerate(scored, 1)]


@dataclass(slots=True)
class Referral:
    """One referral and where its workflow stands (ids only: never a name)."""

    id: str
    patient_id: str
    service_id: str
    urgency: str
    created_at: datetime
    earliest: datetime | None = None
    latest: datetime | None = None
    site_ids: tuple[str, ...] = ()
    referring: str = ""
    source: str = ""
    reference: str = ""
    status: ReferralStatus = ReferralStatus.RECEIVED
    decision: str = ""  # auto_book or offer, once triaged
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    choice_due_at: datetime | None = None
    chosen_rank: int | None = None
    chosen_by: str | None = None
    booking_id: str | None = None
    exception_id: str | None = None
    note: str = ""
    updated_at: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise InvalidRequest("a referral id is 1-64 letters, digits or _.:-", "id")
        if self.urgency not in URGENCIES:
            raise InvalidRequest(f"urgency must be one of {', '.join(URGENCIES)}", "urgency")
        if self.earliest and self.latest and self.latest <= self.earliest:
            raise InvalidRequest("latest must be after earliest", "latest")
        if self.earliest and self.latest and self.latest - self.earliest > MAX_WINDOW:
            raise InvalidRequest(f"the referral's window is longer than {MAX_WINDOW.days} days", "latest")

    def _move(self, allowed: tuple[ReferralStatus, ...], to: ReferralStatus, at: datetime) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"referral {self.id} is {self.status.value}; cannot become {to.value}")
        self.status, self.updated_at, self.version = to, at, self.version + 1

    def offer(self, recommendations: list[Recommendation], due: datetime, at: datetime, note: str) -> None:
        self._move((ReferralStatus.RECEIVED, ReferralStatus.CHOSEN), ReferralStatus.AWAITING_CHOICE, at)
        self.decision = "offer"
        self.recommendations = [r.to_dict() for r in recommendations]
        self.choice_due_at, self.chosen_rank, self.chosen_by, self.note = due, None, None, note

    def choose(self, rank: int, by: str, at: datetime) -> None:
        if self.status is not ReferralStatus.AWAITING_CHOICE:
            raise InvalidTransition(f"referral {self.id} is {self.status.value}, not awaiting a choice")
        if not any(r["rank"] == rank for r in self.recommendations):
            raise InvalidRequest(f"rank must be one of the offered ranks "
                                 f"{[r['rank'] for r in self.recommendations]}", "rank")
        self._move((ReferralStatus.AWAITING_CHOICE,), ReferralStatus.CHOSEN, at)
        self.chosen_rank, self.chosen_by = rank, by

    def booked(self, booking_id: str, at: datetime, note: str) -> None:
        self._move((ReferralStatus.RECEIVED, ReferralStatus.CHOSEN), ReferralStatus.BOOKED, at)
        self.booking_id, self.note = booking_id, note

    def queued(self, exception_id: str, at: datetime, note: str) -> None:
        self._move((ReferralStatus.RECEIVED, ReferralStatus.AWAITING_CHOICE, ReferralStatus.CHOSEN),
                   ReferralStatus.QUEUED, at)
        self.exception_id, self.note = exception_id, note

    def recommendation(self, rank: int) -> Recommendation:
        for r in self.recommendations:
            if r["rank"] == rank:
                return Recommendation.from_dict(r)
        raise InvalidRequest(f"no recommendation ranked {rank}", "rank")
