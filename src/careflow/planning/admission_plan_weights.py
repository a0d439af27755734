"""The admission plan's cost weights: one non-negative integer per IHTC cost, per site.

Names are the cost names of PROBLEM.md and ``ihtc.score.COSTS`` (``PatientDelay``, ...).
The defaults are those of the IHTC-2024 public instance i01, a balanced site:

| cost | default | one unit is |
|---|---|---|
| RoomAgeMix | 5 | one age group of spread in a ward room for a day |
| RoomSkillLevel | 10 | one skill level a patient needs beyond the nurse's, per shift |
| ContinuityOfCare | 1 | one more nurse a patient meets during the stay |
| ExcessiveNurseWorkload | 10 | one workload unit beyond a nurse's maximum in a shift |
| OpenOperatingTheater | 30 | one operating room opened for a day |
| SurgeonTransfer | 10 | one more operating room a surgeon works in on a day |
| PatientDelay | 10 | one day between a case's earliest date and its surgery |
| ElectiveUnscheduledPatients | 350 | one optional case left out of the horizon |

A site keeps its own weights in the site setting ``planning.weights`` (services/site_settings.py);
a site without one plans with the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.instance import Weights
from careflow.planning.ihtc.score import COSTS

__all__ = ["COST_NAMES", "MAX_WEIGHT", "SETTING", "PlanningWeights"]

SETTING = "planning.weights"
COST_NAMES: tuple[str, ...] = tuple(COSTS)
MAX_WEIGHT = 1_000_000  # keeps weighted totals far from overflow in any solver


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@dataclass(frozen=True, slots=True)
class PlanningWeights:
    """The weight of each of the eight IHTC costs (attribute names are the cost names in snake case)."""

    room_age_mix: int = 5
    room_skill_level: int = 10
    continuity_of_care: int = 1
    excessive_nurse_workload: int = 10
    open_operating_theater: int = 30
    surgeon_transfer: int = 10
    patient_delay: int = 10
    elective_unscheduled_patients: int = 350

    def as_dict(self) -> dict[str, int]:
        """The weights by cost name (``{"RoomAgeMix": 5, ...}``), as stored in the site setting."""
        return {name: int(getattr(self, _snake(name))) for name in COST_NAMES}

    def changed(self, changes: Mapping[str, Any]) -> PlanningWeights:
        """These weights with ``changes`` (cost name → value) applied, each checked.

        ``InvalidRequest`` names the field: an unknown cost name, or a value that is not an
        integer between 0 and ``MAX_WEIGHT``.
        """
        if not isinstance(changes, Mapping):
            raise InvalidRequest("weights must be an object of cost name to integer", "weights")
        values: dict[str, int] = {}
        for name, value in changes.items():
            if name not in COST_NAMES:
                raise InvalidRequest(f"unknown cost {name!r}: use one of {', '.join(COST_NAMES)}",
                                     f"weights.{name}")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WEIGHT:
                raise InvalidRequest(f"weights.{name} must be an integer from 0 to {MAX_WEIGHT}",
                                     f"weights.{name}")
            values[_snake(name)] = value
        return replace(self, **values)

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> PlanningWeights:
        """The weights a site setting holds (missing names keep their default); None: the defaults."""
        return cls() if stored is None else cls().changed(stored)

    def ihtc(self) -> Weights:
        """The same weights under the IHTC instance's keys."""
        return Weights(**{COSTS[name][1]: getattr(self, _snake(name)) for name in COST_NAMES})
