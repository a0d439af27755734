"""Bookings as rows (booking, allocation, stock_reservation) and back to ``Booking``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from careflow.domain.bookings import (
    Allocation,
    Booking,
    BookingStatus,
    ItemReservation,
    Override,
    Urgency,
)
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId

__all__ = [
    "allocation_rows",
    "assemble",
    "booking_row",
    "overrides_from_json",
    "overrides_to_json",
    "reservation_state",
]

Row = Mapping[Any, Any]


def overrides_to_json(overrides: Iterable[Override]) -> list[dict[str, Any]]:
    return [{"codes": list(o.codes), "reason": o.reason, "by": o.by, "at": o.at.isoformat()}
            for o in overrides]


def overrides_from_json(data: Sequence[Mapping[str, Any]] | None) -> tuple[Override, ...]:
    return tuple(Override(tuple(o["codes"]), o["reason"], o["by"], datetime.fromisoformat(o["at"]))
                 for o in data or ())


def booking_row(b: Booking) -> dict[str, Any]:
    """The ``booking`` row of a booking (every column)."""
    return {"id": b.id, "patient_id": b.patient_id, "service_id": b.service_id,
            "site_id": b.site_id, "status": b.status.value, "start_at": b.start, "end_at": b.end,
            "urgency": b.urgency.value, "expires_at": b.expires_at, "created_at": b.created_at,
            "created_by": b.created_by, "reason": b.reason,
            "overrides": overrides_to_json(b.overrides), "rule_version": b.rule_version,
            "version": b.version}


def allocation_rows(b: Booking, revision: int, active: bool) -> list[dict[str, Any]]:
    """``allocation`` rows of the booking's current allocations."""
    return [{"booking_id": b.id, "resource_id": a.resource_id, "role": a.role, "lane": a.lane,
             "start_at": a.start, "end_at": a.end, "active": active, "revision": revision}
            for a in b.allocations]


def reservation_state(status: BookingStatus) -> str:
    """Where a booking's stock reservations stand for its status."""
    if status is BookingStatus.FULFILLED:
        return "consumed"
    if status in (BookingStatus.HELD, BookingStatus.BOOKED, BookingStatus.ARRIVED):
        return "reserved"
    return "released"


def _latest(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows grouped by booking, keeping only each booking's highest revision."""
    out: dict[str, list[Row]] = {}
    top: dict[str, int] = {}
    for r in rows:
        bid, rev = r["booking_id"], r["revision"]
        best = top.get(bid)
        if best is None or rev > best:
            top[bid], out[bid] = rev, [r]
        elif rev == best:
            out[bid].append(r)
    return out


def assemble(bookings: Iterable[Row], allocations: Iterable[Row],
             reservations: Iterable[Row]) -> list[Booking]:
    """Domain bookings from their rows (children in id order), in the order given."""
    allocs = _latest(sorted(allocations, key=lambda r: r["id"]))
    items = _latest(sorted(reservations, key=lambda r: r["id"]))
    out: list[Booking] = []
    for r in bookings:
        bid = r["id"]
        out.append(Booking(
            id=BookingId(bid), patient_id=PatientId(r["patient_id"]),
            service_id=ServiceId(r["service_id"]), site_id=SiteId(r["site_id"]),
            start=r["start_at"], end=r["end_at"], status=BookingStatus(r["status"]),
            allocations=tuple(Allocation(ResourceId(a["resource_id"]), a["role"], a["start_at"],
                                         a["end_at"], a["lane"]) for a in allocs.get(bid, ())),
            items=tuple(ItemReservation(i["sku"], i["quantity"]) for i in items.get(bid, ())),
            urgency=Urgency(r["urgency"]), created_at=r["created_at"],
            created_by=r["created_by"], expires_at=r["expires_at"],
            overrides=overrides_from_json(r["overrides"]), rule_version=r["rule_version"],
            reason=r["reason"], version=r["version"]))
    return out
