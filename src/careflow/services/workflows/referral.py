"""Referral to appointment, as a DBOS workflow (its id is the referral id).

    ensure the referral ─▶ triage ─┬─ nothing in reach ─────────────────────▶ queue
                                   ├─ auto-book (urgent, emergent) ─▶ book best ─▶ notify
                                   └─ offer the top sites ─▶ notify ─▶ wait for the choice
                                        ├─ chosen ─▶ book ─▶ notify (taken meanwhile: offer anew)
                                        └─ not chosen in time ─▶ queue (referral_triage)

Every step is one transaction of ``services/referrals.py`` and safe to repeat; waiting
is ``DBOS.recv`` in slices of the policy's poll interval, so a choice recorded where no
DBOS runs (no wake-up message) is still found at the next slice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dbos import DBOS
from dbos._error import DBOSException

from careflow.domain.referrals import Recommendation, ReferralStatus
from careflow.services import referrals as use
from careflow.services.workflows import care_paths, runtime

__all__ = ["CHOICE_TOPIC", "NAME", "on_referral_received", "referral_workflow", "start", "wake"]

log = logging.getLogger("careflow.workflows.referral")
CHOICE_TOPIC = "referral.choice"
PRIORITY = {"emergent": "urgent", "urgent": "high", "routine": "normal"}


NAME = "careflow.referral"


def start(payload: dict[str, Any]) -> str:
    """Start the workflow of a ``ReferralReceived`` payload (once per referral id)."""
    referral_id = str(payload["aggregate_id"])
    runtime.enqueue(referral_workflow, NAME, referral_id, dict(payload))
    return referral_id


def on_referral_received(payload: dict[str, Any], _uow: object) -> None:
    """The ``ReferralReceived`` handler: a redelivered event finds the workflow started."""
    start(payload)


def wake(referral_id: str) -> bool:
    """Tell the waiting workflow a choice was recorded; False when it cannot be reached
    now (no workflow runtime here): the workflow then finds the choice at its next poll."""
    try:
        runtime.send(referral_id, {"chosen": True}, CHOICE_TOPIC)
        return True
    except (DBOSException, RuntimeError) as exc:
        log.warning("referral %s: choice recorded, workflow not woken (%s)", referral_id, type(exc).__name__)
        return False


@DBOS.step(name="careflow.referral.ensure")
def _ensure(payload: dict[str, Any]) -> str:
    referral = use.ensure(payload, care_paths.referral_deps())
    return referral.urgency


@DBOS.step(name="careflow.referral.triage")
def _triage(referral_id: str) -> dict[str, Any]:
    recs, why = use.triage_or_none(referral_id, care_paths.referral_deps())
    return {"recommendations": [r.to_dict() for r in recs], "why": why}


@DBOS.step(name="careflow.referral.book")
def _book(referral_id: str, rank: int, recs: list[dict[str, Any]], decision: str) -> str | None:
    deps = care_paths.referral_deps()
    booking = use.book_recommendation(referral_id, rank, [Recommendation.from_dict(r) for r in recs],
                                      decision, deps)
    if booking is None:
        return None
    use.notify_booked(referral_id, booking, runtime.deps().notifier)
    return booking.id


@DBOS.step(name="careflow.referral.offer")
def _offer(referral_id: str, recs: list[dict[str, Any]], round_no: int) -> str:
    deps = care_paths.referral_deps()
    note = ("choose one of the offered times" if round_no == 1
            else "the chosen time was taken meanwhile; new times are offered")
    referral = use.offer(referral_id, [Recommendation.from_dict(r) for r in recs], deps, note)
    use.notify_offer(referral, round_no, runtime.deps().notifier)
    assert referral.choice_due_at is not None
    return referral.choice_due_at.isoformat()


@DBOS.step(name="careflow.referral.chosen")
def _chosen(referral_id: str) -> int | None:
    referral = use.refresh(referral_id, care_paths.referral_deps())
    return referral.chosen_rank if referral.status is ReferralStatus.CHOSEN else None


@DBOS.step(name="careflow.referral.now")
def _now() -> str:
    return runtime.deps().booking.clock().isoformat()


@DBOS.step(name="careflow.referral.queue")
def _queue(referral_id: str, summary: str, priority: str) -> str:
    referral = use.queue(referral_id, summary, priority, care_paths.referral_deps())
    return referral.exception_id or ""


def _await_choice(referral_id: str, due: datetime) -> int | None:
    poll = care_paths.paths().referral_policy.poll.total_seconds()
    while True:
        rank = _chosen(referral_id)
        if rank is not None:
            return rank
        remaining = (due - datetime.fromisoformat(_now())).total_seconds()
        if remaining <= 0:
            return None
        DBOS.recv(CHOICE_TOPIC, timeout_seconds=min(remaining, poll))


@DBOS.workflow(name=NAME)
def referral_workflow(payload: dict[str, Any]) -> str:
    """Triage, then book or offer choices; returns the referral's final status."""
    referral_id = str(payload["aggregate_id"])
    urgency = _ensure(payload)
    policy = care_paths.paths().referral_policy
    priority = PRIORITY.get(urgency, "normal")
    triaged = _triage(referral_id)
    recs: list[dict[str, Any]] = triaged["recommendations"]
    if not recs:
        why = triaged["why"] or "no site in reach has a free slot within the acuity's horizon"
        _queue(referral_id, f"referral {referral_id}: {why}", priority)
        return ReferralStatus.QUEUED.value
    if urgency in policy.auto_book:
        for rec in recs[:policy.choices]:
            if _book(referral_id, rec["rank"], recs, "auto_book") is not None:
                return ReferralStatus.BOOKED.value
        _queue(referral_id, f"referral {referral_id}: the recommended times were taken before "
                            "they could be booked", priority)
        return ReferralStatus.QUEUED.value
    for round_no in range(1, policy.max_rounds + 1):
        due = datetime.fromisoformat(_offer(referral_id, recs, round_no))
        rank = _await_choice(referral_id, due)
        if rank is None:
            _queue(referral_id, f"referral {referral_id}: no choice made by {due.isoformat()}", priority)
            return ReferralStatus.QUEUED.value
        if _book(referral_id, rank, recs, "offer") is not None:
            return ReferralStatus.BOOKED.value
        recs = _triage(referral_id)["recommendations"]
        if not recs:
            break
    _queue(referral_id, f"referral {referral_id}: the chosen times were taken and no other "
                        "time could be offered", priority)
    return ReferralStatus.QUEUED.value
