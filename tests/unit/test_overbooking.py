"""Overbooking advice: the Poisson-binomial risk, the policy's caps, opt-outs and the drivers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from careflow.domain.errors import InvalidRequest
from careflow.predict.overbooking import (
    BookedPatient,
    OverbookingPolicy,
    Session,
    advise,
    overflow_probability,
)

SESSION = Session("dr_a", "site_main", "2026-06-03", datetime(2026, 6, 3, 13, tzinfo=UTC),
                  datetime(2026, 6, 3, 17, tzinfo=UTC), capacity=10)
WIDE = OverbookingPolicy(max_per_session=10, risk_tolerance=0.1)


def _booked(*risks: float) -> list[BookedPatient]:
    return [BookedPatient(f"bk_{i:02d}", p, (("lead_days", 0.6),)) for i, p in enumerate(risks)]


def test_overflow_probability_is_the_poisson_binomial_tail() -> None:
    assert overflow_probability([1.0, 1.0, 1.0], 2) == pytest.approx(1.0)
    assert overflow_probability([0.5, 0.5], 1) == pytest.approx(0.25)
    assert overflow_probability([0.5, 0.5], 2) == 0.0


def test_a_full_session_with_likely_no_shows_is_advised_overbooks_within_the_risk() -> None:
    advice = advise(SESSION, _booked(*[0.3] * 10), WIDE,
                    "fake")
    assert advice.extra >= 1
    assert advice.bound == "risk"
    assert advice.overflow_risk <= 0.1
    more = advise(SESSION, _booked(*[0.3] * 10), replace(WIDE, risk_tolerance=0.3), "fake")
    assert more.extra > advice.extra  # a higher tolerance allows more


def test_patients_who_always_come_get_no_overbooks() -> None:
    advice = advise(SESSION, _booked(*[0.0] * 10), OverbookingPolicy(max_per_session=5), "fake")
    assert (advice.extra, advice.bound) == (0, "risk")


def test_the_site_maximum_caps_the_advice_and_says_so() -> None:
    advice = advise(SESSION, _booked(*[0.5] * 10), OverbookingPolicy(max_per_session=1, risk_tolerance=0.2),
                    "fake")
    assert advice.recommended_by_risk > 1
    assert (advice.extra, advice.bound) == (1, "max_per_session")
    assert "maximum per session" in advice.explanation()


def test_a_clinician_who_opted_out_gets_none() -> None:
    policy = OverbookingPolicy(max_per_session=3, clinicians_opted_out=frozenset({"dr_a"}))
    advice = advise(SESSION, _booked(*[0.5] * 10), policy, "fake")
    assert advice.recommended_by_risk > 0
    assert (advice.extra, advice.bound) == (0, "opted_out")
    assert "opt-out" in advice.explanation()


def test_the_explanation_names_the_patients_who_drive_the_expected_no_shows() -> None:
    risks = [0.05] * 8 + [0.7, 0.6]
    advice = advise(SESSION, _booked(*risks), OverbookingPolicy(), "noshow-fake-1")
    assert advice.expected_no_shows == pytest.approx(sum(risks))
    assert [d.booking_id for d in advice.drivers[:2]] == ["bk_08", "bk_09"]
    text = advice.explanation()
    assert "bk_08 70%" in text and "bk_09 60%" in text and "noshow-fake-1" in text


def test_free_seats_are_filled_first() -> None:
    half = advise(SESSION, _booked(*[0.3] * 5), WIDE, "f")
    full = advise(SESSION, _booked(*[0.3] * 10), WIDE, "f")
    assert half.extra == full.extra  # five free seats at the same risk: the same overbooks on top


def test_a_declining_predictor_advises_nothing_and_explains_why() -> None:
    advice = advise(SESSION, _booked(0.3), OverbookingPolicy(), "observed-rate", declined="only 3 finished")
    assert (advice.extra, advice.bound) == (0, "predictor")
    assert "only 3 finished" in advice.explanation()


def test_the_advice_id_is_stable_for_the_same_inputs_and_changes_with_them() -> None:
    one = advise(SESSION, _booked(0.3, 0.2), OverbookingPolicy(), "fake").id
    assert one == advise(SESSION, _booked(0.3, 0.2), OverbookingPolicy(), "fake").id
    assert one != advise(SESSION, _booked(0.3, 0.25), OverbookingPolicy(), "fake").id


@pytest.mark.parametrize("value", [{"mode": "auto"}, {"max_per_session": -1}, {"max_per_session": "2"},
                                   {"risk_tolerance": 0.9}, {"clinicians_opted_out": "dr_a"},
                                   {"colour": "red"}])
def test_a_bad_policy_is_refused_naming_the_field(value: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as err:
        OverbookingPolicy.of(value)
    assert err.value.field == next(iter(value))


def test_a_policy_survives_its_stored_form() -> None:
    policy = OverbookingPolicy("executable", 3, 0.05, frozenset({"dr_b", "dr_a"}))
    assert OverbookingPolicy.of(policy.to_value()) == policy
