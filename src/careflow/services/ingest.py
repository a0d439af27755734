"""Facts other systems report: HR, ERP, biomedical engineering, the EHR, bed boards.

Each use case applies the fact to careflow's own records and writes its event to the
outbox in the same transaction, so nothing reported is lost and nothing happens twice:

- a call-out, an availability change, equipment down, maintenance: an availability
  exception on the resource (the catalog moves, ``find`` sees it at once), then
  re-coordination of the bookings it breaks (services/recoordination.py);
- equipment back: its open downtime is cut at that instant;
- a stock count: the item's on-hand quantity (and ``StockFellBelowThreshold`` when the
  count takes what is free below the reorder threshold);
- an authorization decision: the authorization's status and validity;
- a cancellation or a no-show from the EHR: the booking use cases;
- a discharge, a cleaned bed, a referral: the event itself, for the workflows that own
  them (bed placement, referral to appointment).

The reporter needs ``event.ingest``; the change is audited under the reporter's id as
``<record>.event.<Name>`` (``resource.event.ClinicianCalledOut``) or, for facts that only
pass through, ``event.<Name>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from careflow.domain.access import Actor, Permission
from careflow.domain.bookings import Booking
from careflow.domain.calendars import CalendarException, ExceptionKind
from careflow.domain.commands import CancelBooking, MarkNoShow
from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.domain.events import (
    AuthorizationChanged,
    BedCleaned,
    ClinicianAvailabilityChanged,
    ClinicianCalledOut,
    EquipmentCameBack,
    EquipmentWentDown,
    Event,
    MaintenanceScheduled,
    PatientDischarged,
    ReferralReceived,
    StockChanged,
    StockFellBelowThreshold,
)
from careflow.domain.ids import SiteId
from careflow.domain.patients import Authorization, AuthorizationStatus
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import require_aware
from careflow.services import booking as booking_use
from careflow.services import management
from careflow.services.booking import BookingDeps
from careflow.services.management import ManagementDeps
from careflow.services.ports import AuditEntry

__all__ = [
    "DEFAULT_DOWNTIME",
    "IngestDeps",
    "Receipt",
    "Report",
    "authorization_changed",
    "bed_cleaned",
    "booking_cancelled",
    "equipment_came_back",
    "patient_did_not_arrive",
    "patient_discharged",
    "referral_received",
    "resource_closed",
    "stock_changed",
    "stock_fell_below_threshold",
]

DEFAULT_DOWNTIME = timedelta(hours=24)  # equipment down without an expected return
MAX_CLOSURE = timedelta(days=366)
_PEOPLE = {ResourceKind.CLINICIAN, ResourceKind.STAFF_POOL}
_THINGS = {ResourceKind.EQUIPMENT, ResourceKind.ROOM, ResourceKind.BED, ResourceKind.CHAIR}
_CLOSED_KINDS = {
    "ClinicianCalledOut": (ExceptionKind.CALL_OUT, _PEOPLE),
    "ClinicianAvailabilityChanged": (ExceptionKind.VACATION, _PEOPLE),
    "EquipmentWentDown": (ExceptionKind.MAINTENANCE, _THINGS),
    "MaintenanceScheduled": (ExceptionKind.MAINTENANCE, _THINGS),
}


@dataclass(frozen=True)
class IngestDeps:
    management: ManagementDeps
    booking: BookingDeps


@dataclass(frozen=True, slots=True)
class Report:
    """Who reported it and how to recognise it: the reporting system and its own id."""

    actor: Actor
    source: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What was recorded: the event and the id of what it is about."""

    event: str
    aggregate_id: str
    detail: dict[str, Any]
    booking: Booking | None = None


def _as_writer(report: Report) -> Actor:
    """The reporter, allowed to apply the fact to the records it is about (its site limit
    still holds): reporting needs ``event.ingest``, not master-data rights."""
    report.actor.require(Permission.EVENT_INGEST)
    return Actor(report.actor.id, frozenset({"admin"}), sites=report.actor.sites)


def _span(start: datetime, end: datetime | None,
          default: timedelta | None = None) -> tuple[datetime, datetime]:
    start = require_aware(start, "start")
    if end is None:
        if default is None:
            raise InvalidRequest("end is required", "end")
        end = start + default
    end = require_aware(end, "end")
    if end <= start:
        raise InvalidRequest("end must be after start", "end")
    if end - start > MAX_CLOSURE:
        raise InvalidRequest("a reported change may span at most 366 days", "end")
    return start, end


def _publish(report: Report, events: Sequence[Event], entity_type: str, entity_id: str,
             deps: IngestDeps, detail: dict[str, Any]) -> None:
    with deps.booking.uow(write=True) as uow:
        uow.publish(events)
        uow.audit(AuditEntry(actor=report.actor.id, action=f"event.{events[0].name}", entity_type=entity_type,
                             entity_id=entity_id, outcome="ok",
                             detail=detail | {"source": report.source, "reference": report.reference}))
        uow.commit()


def resource_closed(event_name: str, resource_id: str, start: datetime, end: datetime | None,
                    report: Report, deps: IngestDeps, reason: str = "", available: bool = False,
                    capacity_delta: int | None = None) -> Receipt:
    """A call-out, an availability change, equipment down or maintenance: the resource's
    availability gets the exception, and the event goes out in the same transaction."""
    writer = _as_writer(report)
    kind, allowed = _CLOSED_KINDS[event_name]
    start, end = _span(start, end, DEFAULT_DOWNTIME if event_name == "EquipmentWentDown" else None)
    if available:
        kind = ExceptionKind.EXTRA
    if capacity_delta is not None and capacity_delta < 1:
        raise InvalidRequest("capacity_delta must be at least 1", "capacity_delta")
    note = f"{event_name}: {reason}".strip().rstrip(":")
    note += f" [{report.reference}]" if report.reference else ""
    exception = CalendarException(start, end, kind, capacity_delta, note[:500])

    def change(res: Resource) -> Resource:
        if res.kind not in allowed:
            raise InvalidRequest(f"{event_name} is about a {' or '.join(sorted(k.value for k in allowed))}; "
                                 f"resource {res.id!r} is a {res.kind.value}", "resource_id")
        if capacity_delta is not None and capacity_delta > res.capacity:
            raise InvalidRequest(f"capacity_delta {capacity_delta} exceeds resource {res.id!r}'s capacity "
                                 f"{res.capacity}", "capacity_delta")
        exceptions = (*res.availability.exceptions, exception)
        return replace(res, availability=replace(res.availability, exceptions=exceptions))

    def events(_old: Resource, new: Resource) -> list[Event]:
        common: dict[str, Any] = {"source": report.source, "reference": report.reference}
        if event_name == "ClinicianCalledOut":
            return [ClinicianCalledOut(new.id, start, end, reason, **common, capacity_delta=capacity_delta)]
        if event_name == "ClinicianAvailabilityChanged":
            return [ClinicianAvailabilityChanged(new.id, start, end, available, reason, **common)]
        if event_name == "EquipmentWentDown":
            return [EquipmentWentDown(new.id, start, end, reason, **common)]
        return [MaintenanceScheduled(new.id, start, end, reason, **common)]

    detail = {"start": start.isoformat(), "end": end.isoformat(), "kind": kind.value,
              "source": report.source, "reference": report.reference}
    management.update_item(deps.management, writer, management.RESOURCE, (resource_id,), "*", change,
                           events, action=f"event.{event_name}", detail=detail)
    return Receipt(event_name, resource_id, detail)


def equipment_came_back(resource_id: str, at: datetime, report: Report, deps: IngestDeps) -> Receipt:
    """The open downtime (maintenance exceptions covering ``at``) ends at ``at``."""
    writer = _as_writer(report)
    at = require_aware(at, "at")
    cut: list[str] = []

    def change(res: Resource) -> Resource:
        kept: list[CalendarException] = []
        for e in res.availability.exceptions:
            if e.kind is ExceptionKind.MAINTENANCE and e.start <= at < e.end:
                cut.append(f"{e.start.isoformat()}/{e.end.isoformat()}")
                if e.start < at:
                    kept.append(replace(e, end=at))
            else:
                kept.append(e)
        if not cut:
            raise Conflict(f"resource {res.id!r} has no downtime at {at.isoformat()}")
        return replace(res, availability=replace(res.availability, exceptions=tuple(kept)))

    def events(_old: Resource, new: Resource) -> list[Event]:
        return [EquipmentCameBack(new.id, at, report.source, report.reference)]

    management.update_item(deps.management, writer, management.RESOURCE, (resource_id,), "*", change,
                           events, action="event.EquipmentCameBack", detail={"at": at.isoformat()})
    return Receipt("EquipmentCameBack", resource_id, {"at": at.isoformat(), "downtime_cut": cut})


def stock_changed(site_id: str, sku: str, on_hand: int, report: Report, deps: IngestDeps) -> Receipt:
    """A count of what is on the shelf; below the reorder threshold it says so too.

    A count below what booked cases have reserved (a recall, breakage, a miscount) cannot
    take their reservations away silently: the record keeps ``on_hand`` at the reserved
    quantity (nothing new can be booked against the item) and the event carries the
    ``shortfall``, which re-coordination turns into queue items for the latest cases."""
    writer = _as_writer(report)
    if on_hand < 0:
        raise InvalidRequest("on_hand cannot be negative", "on_hand")

    def change(item: StockLevel) -> StockLevel:
        return replace(item, on_hand=max(on_hand, item.reserved))

    def events(old: StockLevel, new: StockLevel) -> list[Event]:
        shortfall = max(0, new.reserved - on_hand)
        out: list[Event] = [StockChanged(f"{site_id}/{sku}", site_id, sku, on_hand, old.on_hand,
                                         new.reserved, report.source, report.reference, shortfall)]
        available, before = on_hand - new.reserved, old.on_hand - old.reserved
        if available < new.reorder_threshold <= before:
            out.append(StockFellBelowThreshold(f"{site_id}/{sku}", site_id, sku, available,
                                               new.reorder_threshold))
        return out

    saved = management.update_item(deps.management, writer, management.STOCK_ITEM, (site_id, sku), "*",
                                   change, events, action="event.StockChanged", detail={"on_hand": on_hand})
    reserved = saved.item.reserved
    return Receipt("StockChanged", f"{site_id}/{sku}",
                   {"on_hand": on_hand, "reserved": reserved, "shortfall": max(0, reserved - on_hand)})


def stock_fell_below_threshold(site_id: str, sku: str, available: int, threshold: int, report: Report,
                               deps: IngestDeps) -> Receipt:
    """An inventory system's own alert: recorded and passed on (the count itself comes
    through ``stock_changed``)."""
    _as_writer(report)
    report.actor.require_site(site_id)
    with deps.booking.uow() as uow:
        if not uow.master.stock(SiteId(site_id), [sku]):
            raise NotFound("stock item", f"{site_id}/{sku}")
    detail: dict[str, Any] = {"site_id": site_id, "sku": sku, "available": available,
                              "threshold": threshold}
    extra = {"source": report.source, "reference": report.reference}
    _publish(report, [StockFellBelowThreshold(f"{site_id}/{sku}", site_id, sku, available, threshold,
                                              extra=extra)],
             "stock_item", f"{site_id}/{sku}", deps, detail)
    return Receipt("StockFellBelowThreshold", f"{site_id}/{sku}", detail)


def authorization_changed(authorization_id: str, status: str, report: Report, deps: IngestDeps,
                          valid_from: Any = None, valid_to: Any = None,
                          reference: str | None = None) -> Receipt:
    """A payer's decision: the authorization's status (and validity) change."""
    writer = _as_writer(report)
    try:
        new_status = AuthorizationStatus(status)
    except ValueError:
        raise InvalidRequest(f"status must be one of {', '.join(s.value for s in AuthorizationStatus)}",
                             "status") from None

    def change(a: Authorization) -> Authorization:
        return replace(a, status=new_status,
                       valid_from=valid_from if valid_from is not None else a.valid_from,
                       valid_to=valid_to if valid_to is not None else a.valid_to,
                       reference=reference if reference is not None else a.reference)

    def events(old: Authorization, new: Authorization) -> list[Event]:
        return [AuthorizationChanged(new.id, new.patient_id, new.service_id, new.status.value,
                                     old.status.value,
                                     new.valid_from.isoformat() if new.valid_from else "",
                                     new.valid_to.isoformat() if new.valid_to else "",
                                     report.source, report.reference)]

    management.update_item(deps.management, writer, management.AUTHORIZATION, (authorization_id,), "*",
                           change, events, action="event.AuthorizationChanged", detail={"status": status})
    return Receipt("AuthorizationChanged", authorization_id, {"status": status})


def booking_cancelled(booking_id: str, reason: str, report: Report, deps: IngestDeps) -> Receipt:
    """The EHR cancelled the visit: careflow releases everything it held for it."""
    report.actor.require(Permission.EVENT_INGEST)
    booking = booking_use.cancel(CancelBooking(booking_id, reason, report.actor), deps.booking)
    return Receipt("BookingCancelled", booking.id, {"status": booking.status.value}, booking)


def patient_did_not_arrive(booking_id: str, report: Report, deps: IngestDeps) -> Receipt:
    report.actor.require(Permission.EVENT_INGEST)
    booking = booking_use.mark_no_show(MarkNoShow(booking_id, report.actor), deps.booking)
    return Receipt("PatientDidNotArrive", booking.id, {"status": booking.status.value}, booking)


def _bed(bed_id: str, report: Report, deps: IngestDeps) -> Resource:
    with deps.booking.uow() as uow:
        catalog = deps.booking.catalogs.get(uow)
    bed = catalog.resource(bed_id)
    if bed.kind is not ResourceKind.BED:
        raise InvalidRequest(f"resource {bed_id!r} is a {bed.kind.value}, not a bed", "bed_id")
    report.actor.require_site(bed.site_id)
    return bed


def patient_discharged(bed_id: str, patient_id: str, at: datetime, report: Report, deps: IngestDeps,
                       booking_id: str = "") -> Receipt:
    """The patient left the bed; bed placement takes it from here (housekeeping first)."""
    report.actor.require(Permission.EVENT_INGEST)
    at = require_aware(at, "at")
    _bed(bed_id, report, deps)
    with deps.booking.uow() as uow:
        if uow.master.patient(patient_id) is None:
            raise NotFound("patient", patient_id)
    detail = {"patient_id": patient_id, "booking_id": booking_id, "at": at.isoformat()}
    _publish(report, [PatientDischarged(bed_id, patient_id, booking_id, at, report.source, report.reference)],
             "resource", bed_id, deps, detail)
    return Receipt("PatientDischarged", bed_id, detail)


def bed_cleaned(bed_id: str, at: datetime, report: Report, deps: IngestDeps) -> Receipt:
    report.actor.require(Permission.EVENT_INGEST)
    at = require_aware(at, "at")
    _bed(bed_id, report, deps)
    detail = {"at": at.isoformat()}
    _publish(report, [BedCleaned(bed_id, at, report.source, report.reference)], "resource", bed_id, deps,
             detail)
    return Receipt("BedCleaned", bed_id, detail)


def referral_received(patient_id: str, service_id: str, report: Report, deps: IngestDeps, *,
                      urgency: str = "routine", earliest: datetime | None = None,
                      latest: datetime | None = None, site_ids: Sequence[str] = (),
                      referring: str = "") -> Receipt:
    """A referral from the EHR, under a new referral id; the referral workflow books it
    or offers the patient choices."""
    report.actor.require(Permission.EVENT_INGEST)
    if urgency not in ("routine", "urgent", "emergency"):
        raise InvalidRequest("urgency must be routine, urgent or emergency", "urgency")
    now = deps.booking.clock()
    earliest = require_aware(earliest, "earliest") if earliest else now
    latest = require_aware(latest, "latest") if latest else earliest + timedelta(days=30)
    if latest <= earliest:
        raise InvalidRequest("latest must be after earliest", "latest")
    with deps.booking.uow() as uow:
        catalog = deps.booking.catalogs.get(uow)
        service = catalog.service(service_id)
        for site_id in site_ids:
            catalog.site(site_id)
            report.actor.require_site(site_id)
        if uow.master.patient(patient_id) is None:
            raise NotFound("patient", patient_id)
    referral_id = f"rf_{uuid.uuid4().hex[:20]}"
    detail = {"patient_id": patient_id, "service_id": service.id, "urgency": urgency}
    _publish(report, [ReferralReceived(referral_id, patient_id, service.id, urgency, earliest, latest,
                                       tuple(site_ids), referring, report.source, report.reference)],
             "referral", referral_id, deps, detail)
    return Receipt("ReferralReceived", referral_id, detail)


