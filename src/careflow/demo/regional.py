"""The regional scenario: Ridgeline Health, 11 sites, 250 clinicians, 5,000 patients and
about 20,000 bookings over a 30-day horizon."""

from __future__ import annotations

from datetime import date

from careflow.demo.clinicians import REGIONAL_ROSTER
from careflow.demo.generator import Scenario, generate
from careflow.demo.sites import regional_sites
from careflow.demo.sweeps import Tuning
from careflow.domain.health_system import HealthSystem

__all__ = ["build_regional"]


def build_regional(seed: int, anchor: date) -> HealthSystem:
    """The regional demo health system."""
    scenario = Scenario("Ridgeline Health (regional demo)", regional_sites(), REGIONAL_ROSTER,
                        5000, Tuning(), spread_authorizations=900)
    return generate(scenario, seed, anchor)
