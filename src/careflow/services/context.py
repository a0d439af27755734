"""Assembles the snapshot the checks read, from the stores, for one case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from careflow.domain.bookings import Allocation, Booking
from careflow.domain.catalog import Catalog
from careflow.domain.checks import CheckContext
from careflow.domain.errors import NotFound
from careflow.domain.ids import ResourceId
from careflow.domain.occupancy import Occupancy
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import ResourceKind
from careflow.domain.sites import Site
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span, to_ts
from careflow.services.ports import UnitOfWork

__all__ = ["case_context", "load_patient", "stock_without", "week_hull"]

WEEK = 7 * 86400


def load_patient(uow: UnitOfWork, patient_id: str) -> Patient:
    patient = uow.master.patient(patient_id)
    if patient is None:
        raise NotFound("patient", patient_id)
    return patient


def week_hull(span: Span, site: Site) -> Span:
    """``span`` widened to the local ISO weeks it touches (for working-hours totals)."""
    zone = site.zone
    first = datetime.fromtimestamp(span[0], zone).date()
    last = datetime.fromtimestamp(span[1], zone).date()
    monday = first - timedelta(days=first.weekday())
    after = last + timedelta(days=7 - last.weekday())
    lo = to_ts(datetime.combine(monday, datetime.min.time(), tzinfo=zone))
    hi = to_ts(datetime.combine(after, datetime.min.time(), tzinfo=zone))
    return (min(lo, span[0]), max(hi, span[1]))


def case_context(
    uow: UnitOfWork,
    catalog: Catalog,
    service: Service,
    site: Site,
    patient: Patient,
    start: datetime,
    end: datetime,
    allocations: Sequence[Allocation],
    now: datetime,
    own: Booking | None = None,
    hold_expires_at: datetime | None = None,
    lock: bool = False,
) -> CheckContext:
    """The check context for one case; ``own`` is a booking being confirmed or moved,
    whose allocations, reservations and patient time must not count against itself.
    ``lock`` (the write path) makes concurrent writers for the same clinicians take turns,
    so that working-hour limits, which no constraint can guard, hold under concurrency."""
    ids = {a.resource_id for a in allocations if a.resource_id in catalog.resources}
    spans = [a.span for a in allocations] + [(to_ts(start), to_ts(end))]
    hull: Span = (min(s[0] for s in spans), max(s[1] for s in spans))
    clinicians = sorted(i for i in ids if catalog.resources[i].kind is ResourceKind.CLINICIAN)
    window = week_hull(hull, site) if clinicians else hull
    if lock and clinicians:
        uow.bookings.lock_resources(clinicians)
    busy = uow.bookings.busy(ids, window)
    skip = {own.id} if own is not None else set()
    occupancy: dict[ResourceId, Occupancy] = {}
    for rid in ids:
        resource = catalog.resources[rid]
        entries = [b for b in busy.get(rid, []) if b.booking_id not in skip]
        occupancy[rid] = Occupancy(resource, window, catalog.capacity(resource, site.id, window), entries)
    stock = uow.master.stock(site.id, [i.sku for i in service.items])
    if own is not None and own.site_id == site.id and own.active:
        stock = stock_without(stock, own)
    case: Span = (to_ts(start), to_ts(end))
    patient_busy = uow.bookings.patient_busy(patient.id, case, own.id if own else None)
    return CheckContext(
        now=now, service=service, patient=patient, site=site, resources=catalog.resources,
        occupancy=occupancy, stock=stock,
        authorizations=uow.master.authorizations(patient.id) if service.prerequisites.authorization else (),
        patient_busy=patient_busy, hold_expires_at=hold_expires_at,
        requested_at=own.created_at if own is not None and hold_expires_at is not None else None,
    )


def stock_without(stock: dict[str, StockLevel], own: Booking) -> dict[str, StockLevel]:
    """Stock as if ``own``'s reservations were released (it is being re-checked)."""
    out = dict(stock)
    for item in own.items:
        level = out.get(item.sku)
        if level is not None:
            out[item.sku] = StockLevel(level.site_id, level.sku, level.name, level.on_hand,
                                       max(0, level.reserved - item.quantity),
                                       level.reorder_threshold, level.lead_time_days)
    return out
