"""Reading a site's operating day from the stores into the sequencing problem's parts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from careflow.domain.bookings import Booking, BookingStatus, Urgency
from careflow.domain.catalog import Catalog
from careflow.domain.ids import ResourceId
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site
from careflow.domain.timespans import Span, from_ts, to_ts
from careflow.planning.sequencing_problem import DayCase, FixedUse, RoomDay, Shared, SharedKind, Use
from careflow.services.ports import BookingFilter, UnitOfWork

__all__ = ["OR_ROOM_TYPES", "DayRead", "read_day"]

OR_ROOM_TYPES = frozenset({"operating"})
TAIL = 12 * 3600  # the model's day runs this long past midnight (late cases, overtime)
PAGE = 500
ADULT = 18


@dataclass(frozen=True)
class DayRead:
    """The day's parts as the problem wants them, and each case's booking version."""

    origin: int
    horizon: int
    rooms: tuple[RoomDay, ...]
    shared: tuple[Shared, ...]
    cases: tuple[DayCase, ...]
    versions: dict[str, int]


def _is_or(resource: Resource | None) -> bool:
    return (resource is not None and resource.kind is ResourceKind.ROOM and resource.active
            and resource.room.room_type in OR_ROOM_TYPES)


def _bookings(uow: UnitOfWork, catalog: Catalog, site: Site, day: Span, now: datetime) -> list[Booking]:
    """Active OR cases at the site overlapping the day (an expired hold is no longer one)."""
    out: list[Booking] = []
    flt = BookingFilter(site_id=site.id, start_from=from_ts(day[0] - 86400), start_to=from_ts(day[1]))
    offset = 0
    while True:
        page, total = uow.bookings.find(flt, offset, PAGE)
        for b in page:
            if (b.active and not b.hold_expired(now) and to_ts(b.end) > day[0]
                    and any(a.role == "room" and _is_or(catalog.resources.get(a.resource_id))
                            for a in b.allocations)):
                out.append(b)
        offset += len(page)
        if not page or offset >= total:
            return sorted(out, key=lambda b: (b.start, b.id))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _priority(uow: UnitOfWork, b: Booking, day: date) -> tuple[str, ...]:
    out: list[str] = []
    if b.urgency is not Urgency.ROUTINE:
        out.append(b.urgency.value)
    patient = uow.master.patient(b.patient_id)
    if patient is not None and _age(patient.birth_date, day) < ADULT:
        out.append("child")
    return tuple(out)


def _shared_kind(r: Resource) -> SharedKind:
    if r.kind is ResourceKind.CLINICIAN:
        return SharedKind.ANESTHESIA if r.clinician.profession == "anesthesiologist" else SharedKind.SURGEON
    if r.kind is ResourceKind.STAFF_POOL:
        return SharedKind.ANESTHESIA if r.pool.role == "anesthesia" else SharedKind.STAFF
    return SharedKind.EQUIPMENT


def _on_duty(catalog: Catalog, r: Resource, site: Site, window: Span,
             ratio: int) -> tuple[tuple[int, int, int], ...]:
    """The resource's capacity at the site over the window (a named anesthesiologist's times the ratio)."""
    scale = ratio if r.kind is ResourceKind.CLINICIAN and _shared_kind(r) is SharedKind.ANESTHESIA else 1
    ready = to_ts(r.equipment.ready_at) if r.kind is ResourceKind.EQUIPMENT and r.equipment.ready_at else None
    out: list[tuple[int, int, int]] = []
    for p in catalog.capacity(r, site.id, window):
        lo = max(p.start, ready) if ready is not None else p.start
        if lo < p.end and p.count > 0:
            out.append((lo, p.end, p.count * scale))
    return tuple(out)


def _open(catalog: Catalog, room: Resource, site: Site, window: Span, day_end: int) -> tuple[Span, ...]:
    """The room's open spans that begin on the day (one may run past midnight)."""
    spans: list[Span] = []
    for p in catalog.capacity(room, site.id, window):
        if p.count <= 0 or p.start >= day_end:
            continue
        if spans and spans[-1][1] == p.start:
            spans[-1] = (spans[-1][0], p.end)
        else:
            spans.append((p.start, p.end))
    return tuple(spans)


def _fits(room: Resource, b: Booking, catalog: Catalog) -> bool:
    service = catalog.services.get(b.service_id)
    need = service.room if service is not None else None
    return (need is not None and room.kind is need.kind and room.room.room_type == need.room_type
            and need.capabilities <= room.room.capabilities)


def _case(uow: UnitOfWork, catalog: Catalog, b: Booking, day: date, now: datetime,
          ors: list[Resource]) -> DayCase:
    room = next(a for a in b.allocations if a.role == "room")
    service = catalog.services.get(b.service_id)
    locked = b.status not in (BookingStatus.BOOKED, BookingStatus.HELD) or b.start <= now or service is None
    if service is None or locked:  # as allocated
        duration, setup, turnover = b.span[1] - b.span[0], b.span[0] - room.span[0], room.span[1] - b.span[1]
    else:  # as the card allocates it when the case moves
        duration, setup = service.duration, service.setup_minutes * 60
        turnover = service.turnover_minutes * 60
    held = [a for a in b.allocations if a.role != "room"
            and (r := catalog.resources.get(a.resource_id)) is not None and r.kind is not ResourceKind.BED]
    units = Counter(a.resource_id for a in held)
    lanes = {rid: tuple(sorted(a.lane for a in held if a.resource_id == rid)) for rid in units
             if catalog.resources[rid].laned}
    fixed_equipment = any(catalog.resources[rid].kind is ResourceKind.EQUIPMENT
                          and not catalog.resources[rid].equipment.mobile for rid in units)
    rooms = () if fixed_equipment else tuple(r.id for r in ors
                                             if r.id != room.resource_id and _fits(r, b, catalog))
    lead = service.window.min_lead_minutes * 60 if service is not None else 0
    return DayCase(b.id, b.patient_id, service.code if service else str(b.service_id), room.resource_id,
                   to_ts(b.start), duration, setup, turnover,
                   tuple(Use(rid, n, lanes.get(rid, ())) for rid, n in sorted(units.items())),
                   _priority(uow, b, day), rooms,
                   locked, to_ts(now) + lead)


def read_day(uow: UnitOfWork, catalog: Catalog, site: Site, day: Span, now: datetime,
             anesthesia_ratio: int = 1) -> DayRead:
    """The site's operating day ``day`` (its local midnight to midnight) as problem parts."""
    local_day = datetime.fromtimestamp(day[0], site.zone).date()
    window = (day[0], day[1] + TAIL)
    # A case whose room time began the day before (running past midnight, or set up before it) is
    # not the day's to order: it holds its room and resources into the day as any other booking.
    bookings = [b for b in _bookings(uow, catalog, site, day, now)
                if min(to_ts(a.start) for a in b.allocations) >= day[0]]
    ors = [r for r in catalog.at_site(site.id, ResourceKind.ROOM) if _is_or(r)]
    cases = tuple(_case(uow, catalog, b, local_day, now, ors) for b in bookings)
    ours = {c.booking_id for c in cases}
    room_ids = sorted({c.room_id for c in cases} | {r for c in cases for r in c.rooms})
    shared_ids = sorted({u.resource_id for c in cases for u in c.uses})
    busy = uow.bookings.busy([ResourceId(r) for r in room_ids + shared_ids], window)

    def fixed(rid: str) -> tuple[FixedUse, ...]:
        res = catalog.resources[ResourceId(rid)]
        laned = res.laned

        def lane(x: int) -> int | None:  # a lane beyond the pool (its capacity cut since) holds none
            return x if laned and x < res.capacity else None

        return tuple(FixedUse((x.start, x.end), 1, x.booking_id, lane(x.lane))
                     for x in busy.get(ResourceId(rid), []) if x.booking_id not in ours)

    ors_by_id = {r.id: r for r in ors}
    used = [ors_by_id[ResourceId(rid)] for rid in room_ids]
    rooms = tuple(RoomDay(r.id, _open(catalog, r, site, window, day[1]), r.room.room_type,
                          r.room.capabilities, fixed(r.id)) for r in used)
    shared: list[Shared] = []
    for rid in shared_ids:
        r = catalog.resources[ResourceId(rid)]
        tail = r.equipment.sterilization_minutes * 60 if r.kind is ResourceKind.EQUIPMENT else 0
        duty = _on_duty(catalog, r, site, window, anesthesia_ratio)
        lanes = r.capacity if r.laned else 0
        shared.append(Shared(r.id, _shared_kind(r), duty, tail, fixed(rid), lanes))
    return DayRead(day[0], window[1] - window[0], rooms, tuple(shared), cases,
                   {b.id: b.version for b in bookings})
