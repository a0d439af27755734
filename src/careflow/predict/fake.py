"""A deterministic, rule-based no-show predictor for unit tests and the demo.

No model file and no data: a handful of additive log-odds rules shaped like what the real
model learns (long lead times and earlier no-shows raise the risk; same-day bookings,
reminders and older age lower it). Its explanation is exactly the rules that fired.
"""

from __future__ import annotations

import math

from careflow.predict.ports import AppointmentFacts, Contribution

__all__ = ["FAKE_VERSION", "FakeNoShowPredictor"]

FAKE_VERSION = "noshow-fake-1"
BASE_LOG_ODDS = -1.6  # about a 17 % no-show rate for an unremarkable appointment


class FakeNoShowPredictor:
    """Implements ``NoShowPredictor`` with fixed rules; the same facts always give the same answer."""

    version = FAKE_VERSION

    def probability(self, facts: AppointmentFacts) -> float:
        """The logistic of the base log-odds plus every rule's contribution."""
        logit = BASE_LOG_ODDS + sum(value for _, value in self._rules(facts))
        return 1.0 / (1.0 + math.exp(-logit))

    def explain(self, facts: AppointmentFacts) -> list[Contribution]:
        """The rules that fired, largest effect first."""
        return sorted(self._rules(facts), key=lambda item: (-abs(item[1]), item[0]))

    @staticmethod
    def _rules(facts: AppointmentFacts) -> list[Contribution]:
        rules: list[Contribution] = []
        if facts.same_day_booking:
            rules.append(("same_day_booking", -1.5))
        elif facts.lead_days > 14:
            rules.append(("lead_days", 0.6))
        elif facts.lead_days > 3:
            rules.append(("lead_days", 0.3))
        if facts.reminder_sent:
            rules.append(("reminder_sent", -0.2))
        if facts.age is not None and facts.age >= 60:
            rules.append(("age", -0.4))
        elif facts.age is not None and 15 <= facts.age < 30:
            rules.append(("age", 0.2))
        if facts.prior_appointments:
            missed = facts.prior_no_shows / facts.prior_appointments
            rules.append(("prior_no_shows", round(2.0 * missed - 0.3, 6)))
        if facts.weekday == 5:
            rules.append(("weekday", 0.3))
        return rules
