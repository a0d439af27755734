"""Dependency checks: each a named pure function returning violations.

``check_case`` runs them all for one proposed case against a ``CheckContext``, the
snapshot the service layer assembles inside the booking transaction. The same functions
screen candidates in ``find`` (``suitability``) so that find never proposes what check
would refuse. ``RULESET_VERSION`` is recorded with every decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from careflow.domain.bookings import Allocation
from careflow.domain.ids import ResourceId
from careflow.domain.occupancy import Busy, Occupancy
from careflow.domain.options import equipment_tail
from careflow.domain.patients import Authorization, AuthorizationStatus, Patient
from careflow.domain.preference_cards import ItemRequirement, Need, Service
from careflow.domain.resources import Resource, ResourceKind, limit_seconds
from careflow.domain.sites import Site
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span, overlaps, to_ts
from careflow.domain.violations import Violation, ViolationCode, hard, soft

__all__ = [
    "RULESET_VERSION",
    "CheckContext",
    "check_authorization",
    "check_booking_window",
    "check_case",
    "check_clinician_hours",
    "check_each_unit_once",
    "check_hold",
    "check_patient_free",
    "check_prep",
    "check_requirements_filled",
    "check_resource_time",
    "check_service_offered",
    "check_stock",
    "suitability",
]

RULESET_VERSION = "careflow-core-checks/1"

V = ViolationCode


@dataclass(frozen=True)
class CheckContext:
    """Everything the checks read, as of one moment, for one case at one site.

    ``occupancy`` holds, for each resource in the case, its capacity at the site and
    the allocations of *other* bookings; for clinicians its window spans the weeks of
    the case so working hours can be totalled.
    """

    now: datetime
    service: Service
    patient: Patient
    site: Site
    resources: Mapping[ResourceId, Resource]
    occupancy: Mapping[ResourceId, Occupancy]
    stock: Mapping[str, StockLevel] = field(default_factory=dict)
    authorizations: Sequence[Authorization] = ()
    patient_busy: Sequence[Span] = ()
    hold_expires_at: datetime | None = None
    requested_at: datetime | None = None  # when the hold being booked was placed

    @property
    def zone(self) -> ZoneInfo:
        return self.site.zone

    def local_date(self, ts: int) -> date:
        return datetime.fromtimestamp(ts, self.zone).date()


def _kind_code(need: Need) -> ViolationCode:
    """The code that explains a missing or unusable unit for this kind of need."""
    if need.kind is ResourceKind.BED:
        return V.BED_UNAVAILABLE
    if need.role == "interpreter":
        return V.INTERPRETER_UNAVAILABLE
    if need.kind is ResourceKind.STAFF_POOL:
        return V.STAFF_COVERAGE_SHORT
    return V.REQUIREMENT_UNFILLED


def check_service_offered(service: Service, site: Site) -> list[Violation]:
    """The site offers the service (its kind is allowed, the service is active)."""
    if not service.active:
        return [hard(V.SERVICE_NOT_OFFERED, service.id, f"service {service.code} is inactive")]
    if service.site_kinds and site.kind not in service.site_kinds:
        kinds = ", ".join(sorted(k.value for k in service.site_kinds))
        return [hard(V.SERVICE_NOT_OFFERED, site.id,
                     f"{service.code} is performed only at {kinds}; {site.id} is a {site.kind.value}")]
    return []


def check_booking_window(service: Service, start: int, now: datetime,
                         requested_at: datetime | None = None) -> list[Violation]:
    """The start is not in the past, respects the minimum lead time and the horizon.

    Lead time and horizon count from ``requested_at`` when given (a hold's creation), so
    a hold placed in time stays bookable while it lasts.
    """
    now_ts = to_ts(now)
    asked = to_ts(requested_at) if requested_at is not None else now_ts
    earliest = asked + service.window.min_lead_minutes * 60
    latest = asked + service.window.max_days_ahead * 86400
    if start < now_ts:
        return [hard(V.OUTSIDE_BOOKING_WINDOW, service.id, "the start is in the past")]
    if start < earliest:
        return [hard(V.OUTSIDE_BOOKING_WINDOW, service.id,
                     f"{service.code} needs {service.window.min_lead_minutes} minutes' notice")]
    if start > latest:
        return [hard(V.OUTSIDE_BOOKING_WINDOW, service.id,
                     f"{service.code} may be booked at most {service.window.max_days_ahead} days ahead")]
    return []


def check_requirements_filled(needs: Sequence[Need], allocations: Sequence[Allocation]) -> list[Violation]:
    """Every role has as many units as the card asks (distinct people and units; pool lanes)."""
    out: list[Violation] = []
    for need in needs:
        mine = [a for a in allocations if a.role == need.role]
        have = len(mine) if need.kind is ResourceKind.STAFF_POOL else len({a.resource_id for a in mine})
        if have < need.count:
            out.append(hard(_kind_code(need), need.role,
                            f"role {need.role} needs {need.count}, the option has {have}", need.role))
    return out


def check_each_unit_once(allocations: Sequence[Allocation],
                         resources: Mapping[ResourceId, Resource]) -> list[Violation]:
    """A single resource (not a pool or shared room) fills one role of the case at a time."""
    out: list[Violation] = []
    for i, a in enumerate(allocations):
        resource = resources.get(a.resource_id)
        if resource is None or resource.laned:
            continue
        first = next((b for b in allocations[:i]
                      if b.resource_id == a.resource_id and overlaps(b.span, a.span)), None)
        if first is not None:
            out.append(hard(V.REQUIREMENT_UNFILLED, a.resource_id,
                            f"{a.resource_id} already fills role {first.role} then; "
                            f"role {a.role} needs another", a.role))
    return out


def suitability(need: Need, resource: Resource, site: Site, patient: Patient, day: date,
                room_id: ResourceId | None = None) -> list[Violation]:
    """Whether ``resource`` can fill ``need`` at all, regardless of time."""
    rid, role = resource.id, need.role
    if resource.kind is not need.kind or not resource.active:
        what = "inactive" if not resource.active else f"a {resource.kind.value}"
        return [hard(_kind_code(need), rid, f"{rid} is {what}; role {role} needs a {need.kind.value}",
                     role)]
    if resource.kind is not ResourceKind.CLINICIAN and resource.site_id != site.id:
        return [hard(V.RESOURCE_WRONG_SITE, rid, f"{rid} belongs to {resource.site_id}, not {site.id}",
                     role)]
    if need.clinician is not None:
        return _clinician_suitability(need, resource, day)
    if need.room is not None:
        room = resource.room
        missing = need.room.capabilities - room.capabilities
        if room.room_type != need.room.room_type or missing:
            detail = (f"is a room of type {room.room_type}" if room.room_type != need.room.room_type
                      else f"lacks {', '.join(sorted(missing))}")
            return [hard(V.ROOM_UNSUITABLE, rid, f"{rid} {detail}", role)]
    if need.equipment_type is not None:
        eq = resource.equipment
        if eq.equipment_type != need.equipment_type:
            return [hard(V.REQUIREMENT_UNFILLED, rid,
                         f"{rid} is a {eq.equipment_type}, not a {need.equipment_type}", role)]
        if not eq.mobile and room_id is not None and eq.room_id != room_id:
            return [hard(V.ROOM_UNSUITABLE, rid, f"{rid} is fixed in {eq.room_id}, not {room_id}", role)]
    if need.pool_role is not None:
        pool = resource.pool
        if pool.role != need.pool_role:
            return [hard(_kind_code(need), rid, f"{rid} is a {pool.role} pool", role)]
        if need.language is not None and need.language not in pool.languages:
            return [hard(V.INTERPRETER_UNAVAILABLE, rid,
                         f"{rid} has no interpreter for language {need.language}", role)]
    if need.bed is not None:
        return _bed_suitability(need, resource, patient)
    return []


def _clinician_suitability(need: Need, resource: Resource, day: date) -> list[Violation]:
    req, prof, rid = need.clinician, resource.clinician, resource.id
    assert req is not None
    if prof.profession != req.profession:
        return [hard(V.CLINICIAN_NOT_PRIVILEGED, rid,
                     f"{rid} is a {prof.profession}, role {need.role} needs a {req.profession}", need.role)]
    if req.specialty is not None and req.specialty not in prof.specialties:
        return [hard(V.CLINICIAN_NOT_PRIVILEGED, rid, f"{rid} is not in {req.specialty}", need.role)]
    if req.privilege is not None and req.privilege not in prof.privileges:
        return [hard(V.CLINICIAN_NOT_PRIVILEGED, rid,
                     f"{rid} holds no privilege for {req.privilege}", need.role)]
    out: list[Violation] = []
    for code in sorted(req.credentials):
        cred = prof.credential(code)
        if cred is None:
            out.append(hard(V.CLINICIAN_CREDENTIAL_EXPIRED, rid, f"{rid} has no {code} on file", need.role))
        elif not cred.valid_on(day):
            out.append(hard(V.CLINICIAN_CREDENTIAL_EXPIRED, rid,
                            f"{rid}'s {code} expires {cred.expires_on.isoformat()}, before {day.isoformat()}",
                            need.role))
    return out


def _bed_suitability(need: Need, resource: Resource, patient: Patient) -> list[Violation]:
    bed, req, rid = resource.bed, need.bed, resource.id
    assert req is not None
    if bed.bed_type != req.bed_type:
        return [hard(V.BED_UNAVAILABLE, rid, f"{rid} is a {bed.bed_type} bed, not {req.bed_type}", need.role)]
    if bed.gender != "any" and patient.sex in ("female", "male") and bed.gender != patient.sex:
        return [hard(V.BED_UNAVAILABLE, rid, f"{rid} is in a {bed.gender} room", need.role)]
    if patient.isolation_required and not bed.isolation:
        return [hard(V.BED_UNAVAILABLE, rid, f"{rid} cannot isolate", need.role)]
    return []


def check_resource_time(need: Need, occ: Occupancy, allocs: Sequence[Allocation],
                        site: Site | None = None) -> list[Violation]:
    """The resource is on duty and free for each allocation (lanes, for pools)."""
    resource, rid, role = occ.resource, occ.resource.id, need.role
    tail = equipment_tail(resource)  # reprocessing: allocated, but not needing the unit on duty
    out: list[Violation] = []
    if resource.laned:
        span = allocs[0].span
        duty = (span[0], span[1] - tail)
        free = len(occ.lanes_free(span, duty))
        if free < len(allocs):
            on_duty = occ.min_capacity(duty)
            if resource.kind is not ResourceKind.STAFF_POOL and on_duty < len(allocs):
                return [_off_duty(need, occ, duty, site)]  # closed, not full
            code = (_kind_code(need) if resource.kind in (ResourceKind.STAFF_POOL, ResourceKind.BED)
                    else V.CAPACITY_EXCEEDED)
            out.append(hard(code, rid, f"{rid} has {free} of {on_duty} on duty free, "
                                       f"the case needs {len(allocs)}", role))
        return out
    for alloc in allocs:
        span = alloc.span
        duty = (span[0], span[1] - tail)
        if not occ.on_duty(duty):
            out.append(_off_duty(need, occ, duty, site))
            continue
        out.extend(_overlap_violations(need, occ, alloc))
    return out


def _off_duty(need: Need, occ: Occupancy, duty: Span, site: Site | None) -> Violation:
    """Why a resource is not on duty for (part of) ``duty``."""
    resource, rid, role = occ.resource, occ.resource.id, need.role
    if resource.kind is ResourceKind.EQUIPMENT and occ.maintenance_overlapping(duty):
        return hard(V.EQUIPMENT_IN_MAINTENANCE, rid, f"{rid} is in maintenance then", role)
    if resource.kind is ResourceKind.BED:
        return hard(V.BED_UNAVAILABLE, rid, f"{rid} is closed for part of the stay", role)
    if (elsewhere := _works_elsewhere(resource, site, duty)) is not None:
        return hard(V.RESOURCE_WRONG_SITE, rid, f"{rid} works at {elsewhere} then", role)
    return hard(V.RESOURCE_UNAVAILABLE, rid, f"{rid} is not scheduled then", role)


def _works_elsewhere(resource: Resource, site: Site | None, span: Span) -> str | None:
    """The other site a clinician's template puts them at on the case's weekday, if any."""
    if resource.kind is not ResourceKind.CLINICIAN or site is None:
        return None
    day = datetime.fromtimestamp(span[0], site.zone).date()
    for block in resource.availability.blocks:
        where = block.site_id or resource.site_id
        if where != site.id and block.applies_on(day):
            return where
    return None


def _overlap_violations(need: Need, occ: Occupancy, alloc: Allocation) -> list[Violation]:
    resource, rid, role = occ.resource, occ.resource.id, need.role
    span = alloc.span
    if resource.kind is ResourceKind.EQUIPMENT:
        tail = equipment_tail(resource)
        ready = resource.equipment.ready_at
        if ready is not None and to_ts(ready) > span[0]:
            return [hard(V.EQUIPMENT_NOT_STERILE, rid,
                         f"{rid} is in sterilization until {ready.isoformat()}", role)]
        clinical_end = span[1] - tail
        for other in occ.conflicts(span):
            if other.end - tail <= span[0] or clinical_end <= other.start:
                return [hard(V.EQUIPMENT_NOT_STERILE, rid,
                             f"{rid} needs {tail // 60} minutes of reprocessing between uses", role)]
            return [hard(V.RESOURCE_BOOKED, rid, f"{rid} is in use by another case then", role)]
        return []
    clash = occ.conflicts(span)
    if not clash:
        return []
    code = V.BED_UNAVAILABLE if resource.kind is ResourceKind.BED else V.RESOURCE_BOOKED
    return [hard(code, rid, f"{rid} is already booked then", role)]


def check_clinician_hours(occ: Occupancy, alloc: Allocation, zone: ZoneInfo) -> list[Violation]:
    """The case keeps the clinician within the contract's daily and weekly limits.

    Every local day and ISO week the case touches is checked: a night case from 23:00 to
    01:00 adds an hour to each of two days (and, on a Sunday night, to two weeks).
    """
    resource = occ.resource
    contract = resource.clinician.contract
    first = datetime.fromtimestamp(alloc.span[0], zone).date()
    last = datetime.fromtimestamp(alloc.span[1] - 1, zone).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    weeks = list(dict.fromkeys(d - timedelta(days=d.weekday()) for d in days))

    def local_span(start: date, days: int) -> Span:
        lo = datetime.combine(start, datetime.min.time(), tzinfo=zone)
        hi = datetime.combine(start + timedelta(days=days), datetime.min.time(), tzinfo=zone)
        return (to_ts(lo), to_ts(hi))

    def seconds_in(window: Span) -> int:
        seconds = sum(min(b.end, window[1]) - max(b.start, window[0]) for b in occ.conflicts(window))
        case = min(alloc.span[1], window[1]) - max(alloc.span[0], window[0])
        return seconds + max(case, 0)

    rid = resource.id
    for day in days:
        day_seconds = seconds_in(local_span(day, 1))
        if day_seconds > limit_seconds(contract.max_hours_day):
            return [hard(V.CLINICIAN_HOURS_EXCEEDED, rid, f"{rid} would work {day_seconds / 3600:.1f} h on "
                         f"{day.isoformat()} (max {contract.max_hours_day:g})", alloc.role)]
    week_seconds = [(week0, seconds_in(local_span(week0, 7))) for week0 in weeks]
    for week0, seconds in week_seconds:
        if seconds > limit_seconds(contract.max_hours_week):
            return [hard(V.CLINICIAN_HOURS_EXCEEDED, rid, f"{rid} would work {seconds / 3600:.1f} h in the "
                         f"week of {week0.isoformat()} (max {contract.max_hours_week:g})", alloc.role)]
    for week0, seconds in week_seconds:
        if seconds > limit_seconds(contract.overtime_threshold_week):
            return [soft(V.CLINICIAN_OVERTIME_NEEDS_APPROVAL, rid,
                         f"{rid} would work {seconds / 3600:.1f} h in the week of {week0.isoformat()} "
                         f"(overtime past {contract.overtime_threshold_week:g})", alloc.role)]
    return []


def check_stock(items: Sequence[ItemRequirement], stock: Mapping[str, StockLevel],
                site: Site) -> list[Violation]:
    """Enough unreserved stock at the site; a soft warning when it dips under the reorder point."""
    out: list[Violation] = []
    for item in items:
        level = stock.get(item.sku)
        available = level.available if level is not None else 0
        subject = f"{site.id}/{item.sku}"
        if available < item.quantity:
            out.append(hard(V.STOCK_INSUFFICIENT, subject, f"{site.id} has {available} {item.sku} "
                            f"available, the case needs {item.quantity}"))
        elif level is not None and available - item.quantity < level.reorder_threshold:
            out.append(soft(V.STOCK_BELOW_THRESHOLD, subject,
                            f"{item.sku} at {site.id} would fall to {available - item.quantity}, "
                            f"below its reorder threshold {level.reorder_threshold}"))
    return out


def check_authorization(service: Service, auths: Sequence[Authorization], day: date) -> list[Violation]:
    """A payer authorization covers the case's date when the service needs one."""
    if not service.prerequisites.authorization:
        return []
    mine = [a for a in auths if a.service_id == service.id]
    subject = f"authorization:{service.id}"
    if any(a.status is AuthorizationStatus.NOT_REQUIRED or
           (a.status is AuthorizationStatus.APPROVED and a.covers(day)) for a in mine):
        return []
    if any(a.status is AuthorizationStatus.PENDING for a in mine):
        return [hard(V.AUTHORIZATION_PENDING, subject, f"the payer has not decided on {service.code}")]
    approved = [a for a in mine if a.status is AuthorizationStatus.APPROVED]
    if approved:
        a = approved[0]
        return [hard(V.AUTHORIZATION_EXPIRED, subject, f"authorization {a.id} is valid {a.valid_from} "
                     f"to {a.valid_to}, not on {day.isoformat()}")]
    if any(a.status is AuthorizationStatus.DENIED for a in mine):
        return [hard(V.AUTHORIZATION_DENIED, subject, f"the payer denied {service.code}")]
    return [hard(V.AUTHORIZATION_MISSING, subject, f"{service.code} needs a payer authorization")]


def check_prep(service: Service, patient: Patient, case_day: date, today: date) -> list[Violation]:
    """Every readiness item is complete, or its due date has not passed yet."""
    out: list[Violation] = []
    for item in service.prerequisites.prep:
        if item.code in patient.completed_prep:
            continue
        due = case_day - timedelta(days=item.due_days_before)
        if today > due:
            out.append(hard(V.PREP_INCOMPLETE, f"prep:{item.code}",
                            f"{item.code} was due {due.isoformat()} and is not complete"))
    return out


def check_patient_free(patient: Patient, busy: Sequence[Span], span: Span) -> list[Violation]:
    """The patient has no other active booking overlapping the case."""
    if any(overlaps(b, span) for b in busy):
        return [hard(V.PATIENT_DOUBLE_BOOKED, patient.id, "the patient has another booking then")]
    return []


def check_hold(expires_at: datetime | None, now: datetime) -> list[Violation]:
    """A hold being booked has not expired."""
    if expires_at is not None and expires_at <= now:
        return [hard(V.HOLD_EXPIRED, "hold", f"the hold expired at {expires_at.isoformat()}")]
    return []


def check_case(ctx: CheckContext, start: datetime, end: datetime,
               allocations: Sequence[Allocation]) -> list[Violation]:
    """All checks for one case; hard violations first, then soft, each once."""
    service, patient, site = ctx.service, ctx.patient, ctx.site
    span = (to_ts(start), to_ts(end))
    day = ctx.local_date(span[0])
    needs = service.needs(patient.interpreter_language)
    out = check_hold(ctx.hold_expires_at, ctx.now)
    out += check_service_offered(service, site)
    out += check_booking_window(service, span[0], ctx.now, ctx.requested_at)
    out += check_requirements_filled(needs, allocations)
    out += check_each_unit_once(allocations, ctx.resources)
    room_id = next((a.resource_id for a in allocations if a.role == "room"), None)
    by_need = {n.role: n for n in needs}
    grouped: dict[tuple[str, ResourceId], list[Allocation]] = {}
    for a in allocations:
        grouped.setdefault((a.role, a.resource_id), []).append(a)
    for (role, rid), allocs in grouped.items():
        need, resource = by_need.get(role), ctx.resources.get(rid)
        if need is None or resource is None:
            out.append(hard(V.REQUIREMENT_UNFILLED, rid, f"unknown resource {rid} for role {role}", role))
            continue
        problems = suitability(need, resource, site, patient, day, room_id)
        if problems:
            out += problems
            continue
        occ = ctx.occupancy[rid]
        timing = check_resource_time(need, occ, allocs, site)
        out += timing
        if not timing and resource.kind is ResourceKind.CLINICIAN:
            out += check_clinician_hours(occ, allocs[0], ctx.zone)
    out += check_stock(service.items, ctx.stock, site)
    out += check_authorization(service, ctx.authorizations, day)
    out += check_prep(service, patient, day, ctx.now.astimezone(ctx.zone).date())
    out += check_patient_free(patient, ctx.patient_busy, span)
    unique = list(dict.fromkeys(out))
    return sorted(unique, key=lambda v: not v.is_hard)


def busy_of(allocations: Sequence[Allocation], booking_id: str) -> list[Busy]:
    """Allocations of a booking as busy entries (to build occupancies in memory)."""
    return [Busy(a.span[0], a.span[1], a.lane, booking_id, a.role) for a in allocations]
