"""Ward rooms from careflow's beds, and a ward nurse's skill level.

careflow records beds, not the rooms they stand in (``BedProfile`` has a unit, a bed type,
a gender assignment and isolation). The plan groups them the way the profile implies:
an isolation bed or a bed open to any gender is a single room; beds assigned to one gender
are semi-private rooms of ``SEMI_PRIVATE`` consecutive beds (in id order) of one unit, bed
type and gender. A shared room's id is ``first-bed..last-bed``.
"""

from __future__ import annotations

from collections.abc import Iterable

from careflow.domain.resources import Resource, ResourceKind
from careflow.planning.admission_plan import WardRoom, acuity

__all__ = ["BED_TYPES", "SEMI_PRIVATE", "WARD_NURSE_ROLE", "nurse_serves", "nurse_skill", "ward_rooms"]

SEMI_PRIVATE = 2
WARD_NURSE_ROLE = "ward-nurse"  # the staff-pool role of ward nurses
BED_TYPES = frozenset({"surgical", "medical", "icu", "step_down", "pediatric"})


def ward_rooms(beds: Iterable[Resource]) -> tuple[WardRoom, ...]:
    """The ward rooms of these beds (active beds only), in unit and bed id order."""
    rooms: list[WardRoom] = []
    pending: list[Resource] = []

    def close() -> None:
        if pending:
            first, p = pending[0], pending[0].bed
            ident = first.id if len(pending) == 1 else f"{first.id}..{pending[-1].id}"
            rooms.append(WardRoom(ident, p.unit, p.bed_type, p.gender, p.isolation,
                                  tuple(b.id for b in pending)))
            pending.clear()

    for bed in sorted((b for b in beds if b.kind is ResourceKind.BED and b.active),
                      key=lambda b: (b.bed.unit, b.id)):
        p = bed.bed
        shared = p.gender != "any" and not p.isolation
        if pending:
            q = pending[0].bed
            if not shared or len(pending) == SEMI_PRIVATE or (q.unit, q.bed_type, q.gender) != (
                    p.unit, p.bed_type, p.gender):
                close()
        pending.append(bed)
        if not shared:
            close()
    close()
    return tuple(rooms)


def _names(resource: Resource) -> frozenset[str]:
    if resource.kind is ResourceKind.STAFF_POOL:
        return resource.pool.skills
    return resource.clinician.specialties


def nurse_skill(resource: Resource) -> int:
    """The highest acuity among the bed types a nurse's specialties (or a pool's skills) name."""
    return max((acuity(name) for name in _names(resource)), default=0)


def nurse_serves(resource: Resource, bed_types: Iterable[str]) -> bool:
    """Whether a ward nurse works on wards of one of ``bed_types``: the bed types its specialties
    (or a pool's skills) name, or every ward when they name none."""
    named = _names(resource) & BED_TYPES
    return not named or bool(named & set(bed_types))
