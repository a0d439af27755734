"""Finding, checking, holding, booking and the booking lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import AfterValidator

from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.schemas import (
    ID_PATTERN,
    BookBody,
    BookingOut,
    CancelBody,
    CheckBody,
    CheckOut,
    FindBody,
    FindOut,
    HoldBody,
    Instant,
    OptionIO,
    Page,
    Problem,
    RescheduleBody,
    ViolationOut,
    clean_optional,
    no_control_characters,
)
from careflow.api.security import audit_read
from careflow.domain.access import Actor, Permission
from careflow.domain.bookings import Booking, BookingStatus
from careflow.domain.commands import (
    BookHold,
    BookOption,
    CancelBooking,
    CheckOption,
    MarkArrived,
    MarkFulfilled,
    MarkNoShow,
    OverrideRequest,
    PlaceHold,
    RescheduleBooking,
)
from careflow.domain.errors import InvalidRequest, NotFound, PermissionDenied
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.services import booking as use
from careflow.services.finding import find
from careflow.services.ports import BookingFilter

router = APIRouter(prefix="/api/v1", tags=["booking"])

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
BookingIdPath = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                          AfterValidator(no_control_characters)]
IdFilter = Annotated[str | None, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                     AfterValidator(clean_optional)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": Problem, "description": "unknown id"},
    409: {"model": Problem, "description": "a dependency fails or a race was lost; see violations"},
    422: {"model": Problem, "description": "malformed input; `field` names it"},
}


OPTION_FIELDS = frozenset(OptionIO.model_fields)
# Checked before the body is read: a caller who may not act is refused (403, audited),
# not told what was wrong with its body.
WRITE = [needs(Permission.BOOKING_WRITE)]


@contextmanager
def _about_the_option() -> Iterator[None]:
    """The domain names an option's fields relative to the option (``allocations``); on
    the wire they sit under ``option``."""
    try:
        yield
    except InvalidRequest as exc:
        if exc.field in OPTION_FIELDS:
            raise InvalidRequest(exc.message, f"option.{exc.field}") from exc
        raise


def _override(body_override: object) -> OverrideRequest | None:
    reason = getattr(body_override, "reason", None)
    return OverrideRequest(reason) if reason is not None else None


def _visible(app: AppDep, actor: Actor, booking_id: str) -> Booking:
    """The booking, if it exists and the actor's site limit lets it see it (else 404)."""
    with app.deps.uow() as uow:
        found = uow.bookings.get(booking_id)
    if found is None or not actor.may_see_site(found.site_id):
        raise NotFound("booking", booking_id)
    return found


@router.post("/availability/find", responses=ERRORS,
             dependencies=[needs(Permission.BOOKING_READ, Permission.PATIENT_READ)])
def find_options(body: FindBody, app: AppDep, actor: ActorDep) -> FindOut:
    """Ranked options where every required person, room, unit, item and bed is free at once."""
    request = body.to_domain(app.deps.clock())
    request = replace(request, site_ids=actor.search_sites(request.site_ids))
    result = find(request, app.deps)
    audit_read(app, actor, "availability.find", "patient", request.patient_id,
                service_id=request.service_id, options=len(result.options))
    return FindOut(options=[OptionIO.of(o, i + 1) for i, o in enumerate(result.options)],
                   blockers=[ViolationOut.of(v) for v in result.blockers], considered=result.considered,
                   proven=result.proven, cp_sat=result.cp_sat,
                   earliest=request.earliest, latest=request.latest)


@router.post("/bookings/check", responses=ERRORS, dependencies=[needs(Permission.BOOKING_READ)])
def check_option(body: CheckBody, app: AppDep, actor: ActorDep) -> CheckOut:
    """Every violation the option would meet if booked now; nothing is written (``booking.read``,
    checked before the body: the violations tell a patient's readiness and authorizations)."""
    actor.require_site(body.option.site_id)
    with _about_the_option():
        violations = use.check(CheckOption(body.option.to_domain(), actor), app.deps)
    hard = any(v.is_hard for v in violations)
    return CheckOut(ok=not violations, bookable_with_override=not hard and bool(violations),
                    violations=[ViolationOut.of(v) for v in violations])


@router.post("/holds", status_code=status.HTTP_201_CREATED, responses=ERRORS, dependencies=WRITE)
def place_hold(body: HoldBody, app: AppDep, actor: ActorDep) -> BookingOut:
    """Hold an option's resources and items until the hold expires (10 minutes by default)."""
    actor.require_site(body.option.site_id)
    cmd = PlaceHold(body.option.to_domain(), actor, body.hold_minutes, _override(body.override))
    with _about_the_option():
        return BookingOut.of(use.place_hold(cmd, app.deps))


@router.post("/bookings", status_code=status.HTTP_201_CREATED, responses=ERRORS, dependencies=WRITE)
def book(body: BookBody, app: AppDep, actor: ActorDep) -> BookingOut:
    """Book from a hold or straight from an option: all allocations, items and bed, or nothing."""
    override = _override(body.override)
    if body.hold_id is not None:
        _visible(app, actor, body.hold_id)
        return BookingOut.of(use.book_hold(BookHold(body.hold_id, actor, override), app.deps))
    assert body.option is not None
    actor.require_site(body.option.site_id)
    with _about_the_option():
        return BookingOut.of(use.book_option(BookOption(body.option.to_domain(), actor, override), app.deps))


@router.get("/bookings", responses=ERRORS)
def list_bookings(app: AppDep, actor: ActorDep, patient_id: IdFilter = None, site_id: IdFilter = None,
                  resource_id: IdFilter = None, status: BookingStatus | None = None,
                  start_from: Annotated[Instant | None, Query(description="starts at or after")] = None,
                  start_to: Annotated[Instant | None, Query(description="starts before")] = None,
                  offset: Offset = 0,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[BookingOut]:
    """Bookings filtered by patient, site, resource, status and start time, by start time."""
    actor.require(Permission.BOOKING_READ)
    if site_id is not None and not actor.may_see_site(site_id):
        raise PermissionDenied("site", f"actor {actor.id!r} may not see bookings at site {site_id!r}")
    flt = BookingFilter(PatientId(patient_id) if patient_id else None, SiteId(site_id) if site_id else None,
                        ResourceId(resource_id) if resource_id else None, status, start_from, start_to,
                        None if actor.sites is None or actor.break_glass or site_id
                        else frozenset(SiteId(s) for s in actor.sites))
    with app.deps.uow() as uow:
        rows, total = uow.bookings.find(flt, offset, limit)
    audit_read(app, actor, "booking.search", "patient" if patient_id else "booking", patient_id or "",
                total=total, ids=[b.id for b in rows][:50])
    return Page[BookingOut](items=[BookingOut.of(b) for b in rows], total=total, offset=offset, limit=limit)


@router.get("/bookings/{booking_id}", responses=ERRORS)
def get_booking(booking_id: BookingIdPath, app: AppDep, actor: ActorDep) -> BookingOut:
    """One booking with its allocations, items and overrides."""
    actor.require(Permission.BOOKING_READ)
    found = _visible(app, actor, booking_id)
    audit_read(app, actor, "booking.read", "booking", found.id, patient_id=found.patient_id)
    return BookingOut.of(found)


@router.post("/bookings/{booking_id}/cancel", responses=ERRORS, dependencies=WRITE)
def cancel(booking_id: BookingIdPath, body: CancelBody, app: AppDep, actor: ActorDep) -> BookingOut:
    """Cancel with a reason; everything the booking held is released."""
    _visible(app, actor, booking_id)
    return BookingOut.of(use.cancel(CancelBooking(booking_id, body.reason, actor), app.deps))


@router.post("/bookings/{booking_id}/reschedule", responses=ERRORS, dependencies=WRITE)
def reschedule(booking_id: BookingIdPath, body: RescheduleBody, app: AppDep, actor: ActorDep) -> BookingOut:
    """Move to another option atomically; on refusal the booking keeps its time."""
    _visible(app, actor, booking_id)
    actor.require_site(body.option.site_id)
    cmd = RescheduleBooking(booking_id, body.option.to_domain(), body.reason, actor, _override(body.override))
    with _about_the_option():
        return BookingOut.of(use.reschedule(cmd, app.deps))


@router.post("/bookings/{booking_id}/arrive", responses=ERRORS, dependencies=WRITE)
def arrive(booking_id: BookingIdPath, app: AppDep, actor: ActorDep) -> BookingOut:
    """The patient checked in."""
    _visible(app, actor, booking_id)
    return BookingOut.of(use.arrive(MarkArrived(booking_id, actor), app.deps))


@router.post("/bookings/{booking_id}/fulfil", responses=ERRORS, dependencies=WRITE)
def fulfil(booking_id: BookingIdPath, app: AppDep, actor: ActorDep) -> BookingOut:
    """The visit or case took place; reserved items are consumed."""
    _visible(app, actor, booking_id)
    return BookingOut.of(use.fulfil(MarkFulfilled(booking_id, actor), app.deps))


@router.post("/bookings/{booking_id}/no-show", responses=ERRORS, dependencies=WRITE)
def no_show(booking_id: BookingIdPath, app: AppDep, actor: ActorDep) -> BookingOut:
    """The patient did not arrive (only after the start); resources are released."""
    _visible(app, actor, booking_id)
    return BookingOut.of(use.mark_no_show(MarkNoShow(booking_id, actor), app.deps))
