"""The tiny scenario: one hospital with two operating rooms and one clinic, three
clinicians, five services, 20 patients and about 30 bookings, for fast tests."""

from __future__ import annotations

from datetime import date

from careflow.demo.clinicians import TINY_ROSTER
from careflow.demo.generator import Scenario, generate
from careflow.demo.sites import tiny_sites
from careflow.demo.sweeps import Tuning
from careflow.domain.health_system import HealthSystem

__all__ = ["TINY_SERVICES", "build_tiny"]

TINY_SERVICES = frozenset({"svc-tka", "svc-lap-chole", "svc-ortho-new", "svc-mri-knee",
                           "svc-infusion-iron"})


def build_tiny(seed: int, anchor: date) -> HealthSystem:
    """The tiny demo health system."""
    scenario = Scenario("Tiny General (demo)", tiny_sites(), TINY_ROSTER, 20,
                        Tuning(days=10, per_day_cap=1), TINY_SERVICES, spread_authorizations=4)
    return generate(scenario, seed, anchor)
