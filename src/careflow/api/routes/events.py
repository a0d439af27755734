"""Ingest: other systems report what happened, ``POST /api/v1/events/{EventName}``.

HR reports call-outs and availability changes; biomedical engineering reports equipment
down, back and maintenance; the ERP reports stock counts and alerts; the payer gateway
reports authorization decisions; the EHR reports cancellations, no-shows, discharges and
referrals; the bed board reports cleaned beds. Each answer is 202: the fact is recorded
and its event is in the outbox; re-coordination and the workflows follow within moments
(``GET /api/v1/recoordination/runs?subject=...`` shows what re-coordination did).
Send an ``Idempotency-Key`` to make a retried report safe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.routes.manage_common import deps_of
from careflow.api.schemas import Id, Input, Instant, Problem, Text
from careflow.bootstrap import App
from careflow.domain.access import Actor, Permission
from careflow.services import ingest as use

router = APIRouter(prefix="/api/v1/events", tags=["events"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "lacks event.ingest (or booking.write), or another site"},
    404: {"model": Problem, "description": "unknown resource, booking, stock item or patient"},
    409: {"model": Problem, "description": "the fact contradicts the record (e.g. no downtime to end)"},
    422: {"model": Problem, "description": "malformed report; `field` names it"},
}
INGEST = [needs(Permission.EVENT_INGEST)]
Source = Annotated[str, Field(default="", max_length=100, pattern=r"^[A-Za-z0-9 ._:/\-]*$",
                              description="the reporting system, e.g. `hr-workday`")]
Reference = Annotated[str, Field(default="", max_length=200, pattern=r"^[A-Za-z0-9 ._:/#\-]*$",
                                 description="the reporting system's own id for this fact")]
Reason = Annotated[str, Field(default="", max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


class Reported(Input):
    source: Source = ""
    reference: Reference = ""


class Accepted(BaseModel):
    """The fact is recorded; its event is in the outbox."""

    event: str
    aggregate_id: str
    detail: dict[str, Any]
    status: str | None = Field(default=None, description="the booking's status, for booking events")


def _report(body: Reported, actor: Actor) -> use.Report:
    return use.Report(actor, body.source, body.reference)


def _deps(app: App) -> use.IngestDeps:
    return use.IngestDeps(deps_of(app), app.deps)


def _accepted(receipt: use.Receipt, request: Request) -> Accepted:
    pump = getattr(request.app.state.careflow, "events", None)
    if pump is not None and hasattr(pump, "wake"):
        pump.wake()  # deliver now rather than at the next sweep
    return Accepted(event=receipt.event, aggregate_id=receipt.aggregate_id, detail=receipt.detail,
                    status=receipt.booking.status.value if receipt.booking else None)


class ResourceWindow(Reported):
    resource_id: Id
    start: Instant
    end: Instant
    reason: Reason = ""


class CalledOut(ResourceWindow):
    capacity_delta: int | None = Field(default=None, ge=1, le=10_000,
                                       description="for a staff pool: how many units called out (all: omit)")


class AvailabilityChanged(ResourceWindow):
    available: bool = Field(description="false removes the time (vacation, training); true adds a session")


class WentDown(Reported):
    resource_id: Id
    start: Instant
    end: Instant | None = Field(default=None, description="expected back (default: start + 24 h)")
    reason: Reason = ""


class CameBack(Reported):
    resource_id: Id
    at: Instant


class StockCount(Reported):
    site_id: Id
    sku: Id
    on_hand: int = Field(ge=0, le=10_000_000)


class StockAlert(Reported):
    site_id: Id
    sku: Id
    available: int = Field(ge=-10_000_000, le=10_000_000)
    threshold: int = Field(ge=0, le=10_000_000)


class AuthorizationDecision(Reported):
    authorization_id: Id
    status: Literal["approved", "pending", "denied", "not_required"]
    valid_from: date | None = None
    valid_to: date | None = None
    payer_reference: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


class Cancelled(Reported):
    booking_id: Id
    reason: Text


class NoShow(Reported):
    booking_id: Id


class Discharged(Reported):
    bed_id: Id
    patient_id: Id
    at: Instant
    booking_id: str = Field(default="", max_length=200, pattern=r"^[A-Za-z0-9._:\-]*$")


class Cleaned(Reported):
    bed_id: Id
    at: Instant


class Referral(Reported):
    patient_id: Id
    service_id: Id
    urgency: Literal["routine", "urgent", "emergency"] = "routine"
    earliest: Instant | None = None
    latest: Instant | None = None
    site_ids: list[Id] = Field(default_factory=list, max_length=100)
    referring: str = Field(default="", max_length=200, pattern=r"^[A-Za-z0-9 ._:/#\-]*$",
                           description="the referring clinician's or practice's id")


Apply = Callable[[Any, App, Actor], use.Receipt]
REPORTS: dict[str, tuple[type[Reported], Apply]] = {
    "ClinicianCalledOut": (CalledOut, lambda b, app, a: use.resource_closed(
        "ClinicianCalledOut", b.resource_id, b.start, b.end, _report(b, a), _deps(app), b.reason,
        capacity_delta=b.capacity_delta)),
    "ClinicianAvailabilityChanged": (AvailabilityChanged, lambda b, app, a: use.resource_closed(
        "ClinicianAvailabilityChanged", b.resource_id, b.start, b.end, _report(b, a), _deps(app), b.reason,
        available=b.available)),
    "EquipmentWentDown": (WentDown, lambda b, app, a: use.resource_closed(
        "EquipmentWentDown", b.resource_id, b.start, b.end, _report(b, a), _deps(app), b.reason)),
    "EquipmentCameBack": (CameBack, lambda b, app, a: use.equipment_came_back(
        b.resource_id, b.at, _report(b, a), _deps(app))),
    "MaintenanceScheduled": (ResourceWindow, lambda b, app, a: use.resource_closed(
        "MaintenanceScheduled", b.resource_id, b.start, b.end, _report(b, a), _deps(app), b.reason)),
    "StockChanged": (StockCount, lambda b, app, a: use.stock_changed(
        b.site_id, b.sku, b.on_hand, _report(b, a), _deps(app))),
    "StockFellBelowThreshold": (StockAlert, lambda b, app, a: use.stock_fell_below_threshold(
        b.site_id, b.sku, b.available, b.threshold, _report(b, a), _deps(app))),
    "AuthorizationChanged": (AuthorizationDecision, lambda b, app, a: use.authorization_changed(
        b.authorization_id, b.status, _report(b, a), _deps(app), b.valid_from, b.valid_to,
        b.payer_reference)),
    "BookingCancelled": (Cancelled, lambda b, app, a: use.booking_cancelled(
        b.booking_id, b.reason, _report(b, a), _deps(app))),
    "PatientDidNotArrive": (NoShow, lambda b, app, a: use.patient_did_not_arrive(
        b.booking_id, _report(b, a), _deps(app))),
    "PatientDischarged": (Discharged, lambda b, app, a: use.patient_discharged(
        b.bed_id, b.patient_id, b.at, _report(b, a), _deps(app), b.booking_id)),
    "BedCleaned": (Cleaned, lambda b, app, a: use.bed_cleaned(b.bed_id, b.at, _report(b, a), _deps(app))),
    "ReferralReceived": (Referral, lambda b, app, a: use.referral_received(
        b.patient_id, b.service_id, _report(b, a), _deps(app), urgency=b.urgency, earliest=b.earliest,
        latest=b.latest, site_ids=b.site_ids, referring=b.referring)),
}
"""Each reportable event: its body and what applying it runs (the routes and the CLI share it)."""


SUMMARIES = {
    "ClinicianCalledOut": "A clinician (or staff-pool units) cannot work a window",
    "ClinicianAvailabilityChanged": "A clinician's availability changed (time removed or added)",
    "EquipmentWentDown": "Equipment (or a room, bed or chair) is out of service",
    "EquipmentCameBack": "Equipment is usable again: its open downtime ends",
    "MaintenanceScheduled": "Planned maintenance or sterilization downtime",
    "StockChanged": "A stock count: the on-hand quantity of an item at a site",
    "StockFellBelowThreshold": "An inventory system's low-stock alert",
    "AuthorizationChanged": "A payer's decision on an authorization",
    "BookingCancelled": "The EHR cancelled a visit (needs booking.write too)",
    "PatientDidNotArrive": "The patient did not arrive (needs booking.write too)",
    "PatientDischarged": "An inpatient left a bed (bed placement sends housekeeping)",
    "BedCleaned": "Housekeeping finished a bed",
    "ReferralReceived": "A referral from the EHR (the referral workflow takes it)",
}


def _add_route(name: str, model: type[Reported]) -> None:
    """``POST /api/v1/events/{name}`` with its own body model (so OpenAPI documents each)."""

    def report(body: Any, app: AppDep, actor: ActorDep, request: Request) -> Accepted:
        return _accepted(REPORTS[name][1](body, app, actor), request)

    report.__annotations__["body"] = model  # the body each event's route validates
    report.__name__ = report.__qualname__ = f"report_{name}"
    router.post(f"/{name}", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS, dependencies=INGEST,
                summary=SUMMARIES[name], operation_id=f"report_{name}")(report)


for _name, (_model, _) in REPORTS.items():
    _add_route(_name, _model)
