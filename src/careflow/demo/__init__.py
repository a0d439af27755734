"""Demo health systems and the health-system file loader.

``build("regional")`` makes Ridgeline Health, a fictional regional system with a 30-day
horizon pre-filled with about 20,000 valid bookings; ``build("tiny")`` a minimal one for
fast tests. ``load_file`` reads a documented YAML or JSON description
(docs/health-system-file.md). The well-known ids are listed in docs/demo.md.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

from careflow.domain.errors import InvalidRequest
from careflow.domain.health_system import HealthSystem

__all__ = ["SCENARIOS", "build", "load_file"]

SCENARIOS = ("regional", "tiny")


def build(scenario: str, seed: int = 7, anchor: date | None = None) -> HealthSystem:
    """The demo health system ``scenario`` ("regional" or "tiny").

    Deterministic: the same (scenario, seed, anchor) gives an identical system.
    ``anchor`` is the first day of the 30-day horizon (default: today in New York).
    """
    first = anchor or datetime.now(ZoneInfo("America/New_York")).date()
    if scenario == "regional":
        from careflow.demo.regional import build_regional

        return build_regional(seed, first)
    if scenario == "tiny":
        from careflow.demo.tiny import build_tiny

        return build_tiny(seed, first)
    raise InvalidRequest(f"unknown demo scenario {scenario!r} (choose from {', '.join(SCENARIOS)})",
                         "scenario")


def load_file(path: str | os.PathLike[str]) -> HealthSystem:
    """Read a health-system file (YAML or JSON), validating every cross reference.

    Every problem is an ``InvalidRequest`` whose ``field`` names the exact path
    (``resources[3].profile.room_type``); see docs/health-system-file.md.
    """
    from careflow.demo.files import load_file as load

    return load(path)
