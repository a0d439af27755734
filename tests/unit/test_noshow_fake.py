"""The fake no-show predictor: deterministic advice that implements the port."""

from __future__ import annotations

import math

from careflow.predict.fake import FakeNoShowPredictor
from careflow.predict.ports import AppointmentFacts, NoShowPredictor

FACTS = AppointmentFacts(lead_days=20, weekday=1, hour_booked=9, reminder_sent=False, age=25, area="CENTRO",
                         prior_appointments=2, prior_no_shows=1, days_since_last=5)


def test_the_fake_implements_the_predictor_port() -> None:
    assert isinstance(FakeNoShowPredictor(), NoShowPredictor)


def test_the_fake_gives_the_same_probability_for_the_same_facts() -> None:
    assert FakeNoShowPredictor().probability(FACTS) == FakeNoShowPredictor().probability(FACTS)


def test_a_same_day_booking_is_less_risky_than_a_long_lead_time() -> None:
    fake = FakeNoShowPredictor()
    same_day = AppointmentFacts(lead_days=0, weekday=1, hour_booked=9, reminder_sent=False, age=25,
                                area="CENTRO")
    assert fake.probability(same_day) < fake.probability(FACTS)


def test_the_explanation_adds_up_to_the_probability_and_puts_the_largest_effect_first() -> None:
    fake = FakeNoShowPredictor()
    reasons = fake.explain(FACTS)
    assert [abs(v) for _, v in reasons] == sorted((abs(v) for _, v in reasons), reverse=True)
    logit = -1.6 + sum(v for _, v in reasons)
    assert math.isclose(fake.probability(FACTS), 1 / (1 + math.exp(-logit)))
    assert {"lead_days", "prior_no_shows", "age"} <= {name for name, _ in reasons}
