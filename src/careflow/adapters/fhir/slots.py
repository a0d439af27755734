"""Slots: a resource's time, computed from its availability and its bookings.

A Slot is a stretch of one local day in which the resource's state does not change:
``free`` while fewer of its units are allocated than are on duty (the slot-capacity
extension says how many are left), ``busy`` while all are (or while an allocation runs
off duty, e.g. reprocessing after hours). Slots are computed over whole local days of the
resource's site, so a slot's id is stable whatever window a search asks for:
``{schedule id}-{start}-{end}`` with POSIX seconds in hex. Reading a slot recomputes its
day; a slot whose stretch has changed since (a booking split it) is gone (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from careflow.adapters.fhir.directory import service_concept
from careflow.adapters.fhir.ids import from_fhir_id, to_fhir_id
from careflow.adapters.fhir.wire import instant, validated
from careflow.domain.calendars import CapacityPiece
from careflow.domain.occupancy import Busy
from careflow.domain.preference_cards import Service
from careflow.domain.timespans import Span, from_ts, to_ts

__all__ = ["SLOT_CAPACITY", "SlotView", "compute_slots", "day_window", "parse_slot_id", "slot", "slot_id"]

SLOT_CAPACITY = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"


@dataclass(frozen=True, slots=True)
class SlotView:
    """One stretch of a resource's day: ``free`` units left (0 when busy)."""

    resource_id: str
    start: int
    end: int
    status: str
    free: int


def day_window(lo: datetime, hi: datetime, zone: ZoneInfo) -> Span:
    """Whole local days of ``zone`` covering [lo, hi)."""
    first = lo.astimezone(zone).date()
    last = (hi - timedelta(microseconds=1)).astimezone(zone).date() + timedelta(days=1)
    return (to_ts(datetime.combine(first, time(), zone)), to_ts(datetime.combine(last, time(), zone)))


def _midnights(window: Span, zone: ZoneInfo) -> list[int]:
    day = from_ts(window[0]).astimezone(zone).date()
    out: list[int] = []
    while True:
        day += timedelta(days=1)
        ts = to_ts(datetime.combine(day, time(), zone))
        if ts >= window[1]:
            return out
        out.append(ts)


def compute_slots(resource_id: str, window: Span, zone: ZoneInfo, pieces: Sequence[CapacityPiece],
                  busy: Sequence[Busy]) -> list[SlotView]:
    """The resource's slots over ``window`` (whole local days) from capacity and allocations."""
    cuts = {window[0], window[1], *_midnights(window, zone)}
    for p in pieces:
        cuts.update((p.start, p.end))
    for b in busy:
        cuts.update((b.start, b.end))
    points = sorted(c for c in cuts if window[0] <= c <= window[1])
    days = set(_midnights(window, zone))
    out: list[SlotView] = []
    for lo, hi in pairwise(points):
        cap = sum(p.count for p in pieces if p.start <= lo and p.end >= hi)
        used = len({b.lane for b in busy if b.start <= lo and b.end >= hi})
        if cap == 0 and used == 0:
            continue
        status, free = ("free", cap - used) if used < cap else ("busy", 0)
        last = out[-1] if out else None
        if (last is not None and last.end == lo and lo not in days and last.status == status
                and last.free == free):
            out[-1] = SlotView(resource_id, last.start, hi, status, free)
        else:
            out.append(SlotView(resource_id, lo, hi, status, free))
    return out


def slot_id(view: SlotView) -> str:
    return f"{to_fhir_id(view.resource_id)}-{view.start:x}-{view.end:x}"


def parse_slot_id(fhir_id: str) -> tuple[str, int, int] | None:
    """(resource id, start, end) of a slot id, or None when it is not one."""
    head, _, tail = fhir_id.rpartition("-")
    schedule, _, start = head.rpartition("-")
    resource_id = from_fhir_id(schedule) if schedule else None
    try:
        lo, hi = int(start, 16), int(tail, 16)
    except ValueError:
        return None
    if resource_id is None or not 0 <= lo < hi < 2**34:
        return None
    return resource_id, lo, hi


def slot(view: SlotView, services: Sequence[Service]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "Slot", "id": slot_id(view),
        "schedule": {"reference": f"Schedule/{to_fhir_id(view.resource_id)}"},
        "status": view.status, "start": instant(from_ts(view.start)), "end": instant(from_ts(view.end)),
        "serviceType": [service_concept(s) for s in services],
    }
    if view.status == "free":
        doc["extension"] = [{"url": SLOT_CAPACITY, "valueInteger": view.free}]
    return validated(doc)
