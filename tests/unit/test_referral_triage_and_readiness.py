"""The pure rules of the two workflows: referral triage (each term explained) and the
readiness checkpoints (reminders, cut-off, what is missing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.ids import ServiceId
from careflow.domain.preference_cards import PrepItem, Prerequisites, RoomRequirement, Service, ServiceKind
from careflow.domain.readiness import ReadinessPolicy, checkpoints, missing_prep, needs_readiness
from careflow.domain.referrals import Recommendation, Referral, ReferralStatus, SiteCandidate, triage_sites

NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def _site(site: str, days: float, km: float | None, match: bool = True) -> SiteCandidate:
    first = NOW + timedelta(days=days)
    return SiteCandidate(site, first, first, km, match, "cardiology", (("clinician", f"dr_{site}"),))


def test_routine_triage_trades_a_few_days_of_waiting_against_travel() -> None:
    near_later, far_now = _site("near", 4, 2.0), _site("far", 0, 60.0)
    ranked = triage_sites([near_later, far_now], "routine", NOW)
    assert [r.site_id for r in ranked] == ["far", "near"]  # 60 km × 0.5 = 30 < 4 days × 10 = 40
    far = {r["factor"]: r for r in ranked[0].reasons}
    assert far["travel"]["points"] == 30 and far["travel"]["detail"] == "60.0 km from the patient's home"
    assert far["wait"]["detail"] == "first free slot in 0.0 days"
    assert ranked[0].score == 30 and ranked[1].score == 41


def test_urgency_weighs_waiting_more_and_travel_less() -> None:
    ranked = triage_sites([_site("near", 1, 2.0), _site("far", 0, 60.0)], "urgent", NOW)
    assert [r.site_id for r in ranked] == ["far", "near"]  # a day costs 60 for an urgent referral
    ranked = triage_sites([_site("near", 0.5, 2.0), _site("far", 0, 60.0)], "routine", NOW)
    assert [r.site_id for r in ranked] == ["near", "far"]


def test_a_site_without_the_specialty_pays_for_it_and_says_so() -> None:
    sites = [_site("generalist", 0, 1.0, match=False), _site("specialist", 0, 1.0)]
    ranked = triage_sites(sites, "routine", NOW)
    assert [r.site_id for r in ranked] == ["specialist", "generalist"]
    miss = {r["factor"]: r for r in ranked[1].reasons}["specialty"]
    assert miss["points"] == 50 and miss["detail"] == "no cardiology clinician on the option"


def test_an_unknown_home_costs_no_travel_and_is_explained() -> None:
    ranked = triage_sites([_site("a", 0, None)], "routine", NOW)
    assert {r["factor"]: r for r in ranked[0].reasons}["travel"]["detail"] == "the patient's home is unknown"
    with pytest.raises(InvalidRequest):
        triage_sites([], "sometime", NOW)


def test_recommendations_survive_their_json_form() -> None:
    rec = triage_sites([_site("a", 1, 3.0)], "routine", NOW)[0]
    assert Recommendation.from_dict(rec.to_dict()) == rec


def test_a_referral_moves_only_along_its_lifecycle() -> None:
    referral = Referral("rf_1", "p1", "svc", "routine", NOW)
    with pytest.raises(InvalidTransition):
        referral.choose(1, "someone", NOW)
    recs = triage_sites([_site("a", 1, 3.0), _site("b", 2, 3.0)], "routine", NOW)
    referral.offer(recs, NOW + timedelta(hours=72), NOW, "choose")
    with pytest.raises(InvalidRequest):
        referral.choose(3, "someone", NOW)
    referral.choose(2, "someone", NOW)
    assert referral.recommendation(2).site_id == "b"
    referral.booked("bk_1", NOW, "booked")
    assert referral.status is ReferralStatus.BOOKED and referral.version == 4
    with pytest.raises(InvalidTransition):
        referral.queued("ex_1", NOW, "too late")
    with pytest.raises(InvalidRequest):
        Referral("bad id with spaces", "p1", "svc", "routine", NOW)


CT = Service(ServiceId("ct"), "CT", "CT with contrast", ServiceKind.IMAGING, 20, "radiology",
             room=RoomRequirement("ct"),
             prerequisites=Prerequisites(prep=(PrepItem("contrast-labs", 2), PrepItem("implant-screening"))))


def test_imaging_with_prep_needs_the_readiness_workflow_and_a_plain_visit_does_not() -> None:
    assert needs_readiness(CT)
    plain = Service(ServiceId("ct0"), "CT0", "CT without contrast", ServiceKind.IMAGING, 15, "radiology",
                    room=RoomRequirement("ct"))
    visit = Service(ServiceId("v"), "V", "Visit", ServiceKind.VISIT, 15, "cardiology",
                    room=RoomRequirement("exam"), prerequisites=Prerequisites(prep=(PrepItem("consent"),)))
    assert not needs_readiness(plain) and not needs_readiness(visit)
    assert missing_prep(CT, {"implant-screening"}) == ["contrast-labs"]
    assert missing_prep(CT, {"implant-screening", "contrast-labs"}) == []


def test_checkpoints_are_the_reminders_then_the_cut_off_still_ahead() -> None:
    start = NOW + timedelta(days=5)
    points = checkpoints(start, NOW, ReadinessPolicy())
    assert [(p.kind, p.label, start - p.at) for p in points] == [
        ("reminder", "72h", timedelta(hours=72)), ("reminder", "24h", timedelta(hours=24)),
        ("cutoff", "24h", timedelta(hours=24))]
    later = checkpoints(start, start - timedelta(hours=30), ReadinessPolicy())
    assert [p.kind for p in later] == ["reminder", "cutoff"]


def test_a_booking_made_inside_its_cut_off_gets_one_reminder_and_is_never_cancelled() -> None:
    start = NOW + timedelta(hours=10)
    points = checkpoints(start, NOW, ReadinessPolicy())
    assert [(p.kind, p.label, p.at) for p in points] == [("reminder", "late", NOW)]
    assert checkpoints(NOW - timedelta(hours=1), NOW, ReadinessPolicy()) == []
    with pytest.raises(InvalidRequest):
        ReadinessPolicy((timedelta(0),))
