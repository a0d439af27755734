"""The bed board: per unit, each bed's status now and the admissions waiting for one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from careflow.domain.access import Actor, Permission
from careflow.domain.beds import Admission, BedStatus
from careflow.domain.errors import NotFound
from careflow.domain.resources import ResourceKind
from careflow.domain.timespans import to_ts
from careflow.services.beds.ports import BedDeps

__all__ = ["BedLine", "Board", "UnitBoard", "board"]


@dataclass(frozen=True, slots=True)
class BedLine:
    """One bed: ``status`` is clean, occupied, dirty or out_of_service (ids only)."""

    bed_id: str
    bed_type: str
    gender: str
    isolation: bool
    status: str
    since: datetime | None
    booking_id: str | None = None
    until: datetime | None = None
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class UnitBoard:
    unit: str
    beds: tuple[BedLine, ...]
    waiting: tuple[Admission, ...]

    def count(self, status: str) -> int:
        return sum(1 for b in self.beds if b.status == status)


@dataclass(frozen=True, slots=True)
class Board:
    site_id: str
    at: datetime
    units: tuple[UnitBoard, ...]
    waiting: tuple[Admission, ...]  # every waiting admission at the site, in placement order


def board(site_id: str, actor: Actor, deps: BedDeps) -> Board:
    """The site's beds by unit (occupied: an active booking holds the bed now; else the
    housekeeping status) and the admissions waiting, each under the unit it asked for
    (or every unit with beds of its type)."""
    actor.require(Permission.BED_READ)
    with deps.booking.uow() as uow:
        catalog = deps.booking.catalogs.get(uow)
        if site_id not in catalog.sites or not actor.may_see_site(site_id):
            raise NotFound("site", site_id)
        now = deps.booking.clock()
        beds = sorted((r for r in catalog.at_site(catalog.site(site_id).id, ResourceKind.BED) if r.active),
                      key=lambda r: (r.bed.unit, r.id))
        states = deps.beds_of(uow).states(site_id)
        start = to_ts(now)
        busy = uow.bookings.busy([b.id for b in beds], (start, start + 1))
        waiting = tuple(deps.beds_of(uow).waiting(site_id))
    lines: dict[str, list[BedLine]] = {}
    types: dict[str, set[str]] = {}
    for bed in beds:
        p, state, held = bed.bed, states.get(bed.id), busy.get(bed.id, [])
        types.setdefault(p.unit, set()).add(p.bed_type)
        if held:
            line = BedLine(bed.id, p.bed_type, p.gender, p.isolation, "occupied",
                           datetime.fromtimestamp(held[0].start, now.tzinfo), held[0].booking_id,
                           datetime.fromtimestamp(held[0].end, now.tzinfo))
        elif state is not None:
            line = BedLine(bed.id, p.bed_type, p.gender, p.isolation, state.status.value, state.since,
                           task_id=state.task_id)
        else:
            line = BedLine(bed.id, p.bed_type, p.gender, p.isolation, BedStatus.CLEAN.value, None)
        lines.setdefault(p.unit, []).append(line)
    units = tuple(UnitBoard(unit, tuple(ls), tuple(
        a for a in waiting if a.unit == unit or (a.unit is None and a.bed_type in types[unit])))
        for unit, ls in lines.items())
    return Board(site_id, now, units, waiting)
