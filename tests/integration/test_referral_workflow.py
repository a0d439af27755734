"""Referral to appointment on DBOS, on SQLite and PostgreSQL: triage explained, auto-booking
for urgent referrals, choices offered and booked for routine ones, the referral center's
queue when nobody chooses in time, and one workflow per referral however often the
event is delivered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.care_paths import SHORT_CHOICE, Harness, running, seed

from careflow.domain.access import Actor
from careflow.domain.bookings import BookingStatus
from careflow.domain.commands import BookOption
from careflow.domain.errors import InvalidRequest, InvalidTransition, NotFound
from careflow.domain.events import ReferralReceived
from careflow.domain.ids import PatientId
from careflow.domain.referrals import Referral, ReferralStatus
from careflow.services import exception_queue
from careflow.services import referrals as use
from careflow.services.booking import book_option
from careflow.services.ports import BookingFilter
from careflow.services.workflows import referral as flow
from careflow.services.workflows import runtime

SCHEDULER = Actor("sched-1", frozenset({"scheduler"}))


def _wait_for(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {check}")


def _referral(h: Harness, patient: str, urgency: str, **kw: Any) -> Referral:
    referral = Referral(use.new_referral_id(), patient, "svc_cardio", urgency, h.app.deps.clock(), **kw)
    return use.create(referral, SCHEDULER, h.referrals)


def _status(h: Harness, referral_id: str, *wanted: ReferralStatus) -> Referral | None:
    try:
        r = use.get(referral_id, SCHEDULER, h.referrals)
    except NotFound:  # the workflow has not recorded it yet
        return None
    return r if r.status in wanted else None


def _told(h: Harness, *topics: str) -> bool:
    """The workflow records the status, then sends the notice: wait for both."""
    return _wait_for(lambda: h.notifier.topics() == list(topics)) is True


def _start_from_outbox(h: Harness, referral: Referral) -> None:
    """What the event pump does: hand the ReferralReceived payload to its handler."""
    event = ReferralReceived(referral.id, referral.patient_id, referral.service_id, referral.urgency,
                                 referral.earliest, referral.latest, referral.site_ids)
    flow.on_referral_received(event.payload(), None)


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Any:
    with running(seed(tmp_path, db_url if db_url.startswith("postgres") else None), tmp_path) as h:
        yield h


def test_an_urgent_referral_is_booked_at_the_best_site_with_the_reasons_recorded(harness: Harness) -> None:
    referral = _referral(harness, "p1", "urgent")
    _start_from_outbox(harness, referral)
    done = _wait_for(lambda: _status(harness, referral.id, ReferralStatus.BOOKED, ReferralStatus.QUEUED))
    assert done.status is ReferralStatus.BOOKED and done.decision == "auto_book"
    best = done.recommendations[0]
    assert best["site_id"] == "north"  # 1 km away, free now; south is 55 km away
    factors = {r["factor"]: r for r in best["reasons"]}
    assert set(factors) == {"wait", "travel", "specialty"}
    assert factors["travel"]["value"] < 2 and "km" in factors["travel"]["detail"]
    assert "cardiology" in factors["specialty"]["detail"]
    assert "north" in done.note and "km" in done.note
    with harness.app.deps.uow() as uow:
        booking = uow.bookings.get(done.booking_id)
    assert booking is not None and booking.status is BookingStatus.BOOKED and booking.site_id == "north"
    assert _told(harness, "referral.booked")
    assert harness.notifier.sent[0].recipient == "p1"


def test_a_referral_reported_as_an_event_alone_is_recorded_then_booked(harness: Harness) -> None:
    """The EHR's report (``POST /api/v1/events/ReferralReceived``) writes only the event."""
    event = ReferralReceived("rf_from_ehr_1", "p1", "svc_cardio", "emergency", source="ehr",
                             reference="EHR-REF-9")
    flow.on_referral_received(event.payload(), None)
    done = _wait_for(lambda: _status(harness, "rf_from_ehr_1", ReferralStatus.BOOKED, ReferralStatus.QUEUED))
    assert done.status is ReferralStatus.BOOKED and done.urgency == "emergent"
    assert (done.source, done.reference) == ("ehr", "EHR-REF-9")


def test_a_redelivered_referral_event_starts_nothing_twice(harness: Harness) -> None:
    referral = _referral(harness, "p2", "urgent")
    for _ in range(3):
        _start_from_outbox(harness, referral)
    _wait_for(lambda: _status(harness, referral.id, ReferralStatus.BOOKED))
    assert runtime.workflow_status(referral.id) is not None
    with harness.app.deps.uow() as uow:
        booked = uow.bookings.find(BookingFilter(patient_id=PatientId("p2")), 0, 10)[0]
    assert len(booked) == 1 and booked[0].site_id == "south"
    assert _told(harness, "referral.booked")


def test_a_routine_referral_offers_choices_and_books_the_one_chosen(harness: Harness) -> None:
    referral = _referral(harness, "p3", "routine")
    _start_from_outbox(harness, referral)
    offered = _wait_for(lambda: _status(harness, referral.id, ReferralStatus.AWAITING_CHOICE))
    assert offered.decision == "offer" and len(offered.recommendations) == 2  # two clinics can see p3
    assert _told(harness, "referral.offer")
    assert "1." in harness.notifier.sent[0].body and "2." in harness.notifier.sent[0].body
    with pytest.raises(InvalidRequest):
        use.choose(referral.id, 7, SCHEDULER, harness.referrals)
    second = offered.recommendations[1]
    use.choose(referral.id, 2, SCHEDULER, harness.referrals)
    assert flow.wake(referral.id)
    done = _wait_for(lambda: _status(harness, referral.id, ReferralStatus.BOOKED))
    with harness.app.deps.uow() as uow:
        booking = uow.bookings.get(done.booking_id)
    assert booking is not None and booking.site_id == second["site_id"]
    assert done.chosen_by == SCHEDULER.id and done.chosen_rank == 2
    assert _told(harness, "referral.offer", "referral.booked")
    with pytest.raises(InvalidTransition):
        use.choose(referral.id, 1, SCHEDULER, harness.referrals)


def test_a_chosen_time_taken_meanwhile_brings_fresh_options(harness: Harness) -> None:
    referral = _referral(harness, "p3", "routine")
    _start_from_outbox(harness, referral)
    offered = _wait_for(lambda: _status(harness, referral.id, ReferralStatus.AWAITING_CHOICE))
    first = offered.recommendation(1)
    taken = use.option_of(replace(offered, patient_id="p1"), first, harness.referrals)
    book_option(BookOption(taken, SCHEDULER), harness.app.deps)  # someone else books that time
    use.choose(referral.id, 1, SCHEDULER, harness.referrals)
    flow.wake(referral.id)
    again = _wait_for(lambda: _status(harness, referral.id, ReferralStatus.AWAITING_CHOICE)
                      if harness.notifier.topics() == ["referral.offer", "referral.offer"] else None)
    assert "taken meanwhile" in again.note and again.chosen_rank is None
    assert again.recommendation(1).start != first.start or again.recommendation(1).site_id != first.site_id
    use.choose(referral.id, 1, SCHEDULER, harness.referrals)
    flow.wake(referral.id)
    done = _wait_for(lambda: _status(harness, referral.id, ReferralStatus.BOOKED))
    assert done.booking_id is not None


def test_no_choice_in_time_goes_to_the_referral_center_with_the_ranked_options(
        db_url: str, tmp_path: Path) -> None:
    url = seed(tmp_path, db_url if db_url.startswith("postgres") else None)
    with running(url, tmp_path, referral_policy=SHORT_CHOICE) as h:
        referral = _referral(h, "p1", "routine")
        _start_from_outbox(h, referral)
        queued = _wait_for(lambda: _status(h, referral.id, ReferralStatus.QUEUED), seconds=30)
        item = exception_queue.get(queued.exception_id or "", SCHEDULER, h.app.deps.uow)
        assert (item.category, item.owner_team) == ("referral_triage", "referral_center")
        assert item.case_id == referral.id
        assert [a["rank"] for a in item.alternatives] == [1, 2]
        assert all(a["reasons"] for a in item.alternatives)
        assert "no choice made" in queued.note
        with pytest.raises(InvalidTransition):  # too late to choose: a person has it now
            use.choose(referral.id, 1, SCHEDULER, h.referrals)


def test_triage_prefers_a_farther_site_when_the_near_one_cannot_see_the_patient_for_days(
        db_url: str, tmp_path: Path) -> None:
    url = seed(tmp_path, db_url if db_url.startswith("postgres") else None, north_away_days=5)
    with running(url, tmp_path) as h:
        referral = _referral(h, "p1", "routine")
        ranked = use.triage(referral.id, h.referrals)
    assert [r.site_id for r in ranked] == ["south", "north"]
    south, north = ({x["factor"]: x for x in r.reasons} for r in ranked)
    assert north["wait"]["value"] >= 4.9 and south["wait"]["value"] < 0.1
    assert south["travel"]["value"] > 50
    assert ranked[0].score < ranked[1].score


def test_a_referral_naming_an_unknown_site_is_refused_and_nothing_is_written(harness: Harness) -> None:
    with pytest.raises(NotFound):
        _referral(harness, "p1", "routine", site_ids=("nowhere",))
    assert use.list_referrals(None, None, SCHEDULER, harness.referrals)[1] == 0
