"""A small synthetic hospital for the admission plan's tests: two operating rooms (one with
laminar flow), two surgeons, eight surgical beds (four open, two female, two male) and one
ICU bed, a ward-nurse pool in three shifts, synthetic patients, a knee replacement (laminar
flow, 48 h bed), a laparoscopic case (24 h bed), a day case (no bed), an inpatient already in
a bed, and surgical cases waiting for their day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from careflow.domain.bookings import Allocation, Booking, BookingStatus, Urgency
from careflow.domain.calendars import Availability, WeeklyBlock
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import (
    BedRequirement,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
)
from careflow.domain.resources import (
    BedProfile,
    ClinicianProfile,
    Resource,
    ResourceKind,
    RoomProfile,
    StaffPoolProfile,
)
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.surgical_cases import CaseRequest, CaseStatus, SurgicalCase

__all__ = ["MONDAY", "SITE", "ZONE", "case", "ward_system"]

SITE = SiteId("wh")
ZONE = ZoneInfo("America/New_York")
MONDAY = date(2030, 1, 7)
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
ALL_DAY = (WeeklyBlock(EVERY_DAY, time(0), time(12)), WeeklyBlock(EVERY_DAY, time(12), time(0)))
OR_HOURS = Availability((WeeklyBlock(WEEKDAYS, time(7), time(17)),))


def _bed(n: int, gender: str = "any", bed_type: str = "surgical", isolation: bool = False) -> Resource:
    unit = "4W" if bed_type == "surgical" else "ICU"
    return Resource(ResourceId(f"bed-{unit}-{n:02d}"), SITE, ResourceKind.BED, f"{unit} bed {n}",
                    BedProfile(unit, bed_type, gender, isolation), Availability(ALL_DAY))


def ward_system(nurses: int = 3) -> HealthSystem:
    """The hospital; ``nurses`` ward nurses on duty in each shift (0: none recorded)."""
    site = Site(SITE, "Ward Hospital", SiteKind.HOSPITAL, "America/New_York", Position(40.0, -75.0))
    resources = [
        Resource(ResourceId("or-1"), SITE, ResourceKind.ROOM, "OR 1",
                 RoomProfile("operating", frozenset({"laminar-flow"})), OR_HOURS),
        Resource(ResourceId("or-2"), SITE, ResourceKind.ROOM, "OR 2", RoomProfile("operating"), OR_HOURS),
        *(Resource(ResourceId(f"surgeon-{n}"), SITE, ResourceKind.CLINICIAN, f"Surgeon {n}",
                   ClinicianProfile("surgeon", frozenset({"orthopedics"}), frozenset({"tka", "lap"})),
                   Availability((WeeklyBlock(WEEKDAYS, time(7), time(15)),))) for n in (1, 2)),
        *(_bed(n) for n in (1, 2, 3, 4)), _bed(5, "female"), _bed(6, "female"), _bed(7, "male"),
        _bed(8, "male"), _bed(1, bed_type="icu", isolation=True),
    ]
    if nurses:
        shifts = tuple(WeeklyBlock(EVERY_DAY, start, end, nurses)
                       for start, end in ((time(7), time(15)), (time(15), time(23)), (time(23), time(7))))
        resources.append(Resource(ResourceId("ward-nurses"), SITE, ResourceKind.STAFF_POOL, "4W nurses",
                                  StaffPoolProfile("ward-nurse", skills=frozenset({"surgical"})),
                                  Availability(shifts), nurses))
    surgeon = (RoleRequirement("surgeon", "surgeon", 1, "orthopedics"),)
    services = [
        Service(ServiceId("svc-tka"), "TKA", "Knee replacement", ServiceKind.SURGERY, 120, "orthopedics",
                15, 15, surgeon, room=RoomRequirement("operating", frozenset({"laminar-flow"})),
                bed=BedRequirement("surgical", 48)),
        Service(ServiceId("svc-lap"), "LAP", "Laparoscopic case", ServiceKind.SURGERY, 60, "orthopedics",
                10, 10, surgeon, room=RoomRequirement("operating"), bed=BedRequirement("surgical", 24)),
        Service(ServiceId("svc-day"), "DAY", "Day case", ServiceKind.SURGERY, 30, "orthopedics",
                0, 0, surgeon, room=RoomRequirement("operating")),
    ]
    patients = [Patient(PatientId(f"p{i}"), f"MRN{i}", f"Synthetic {i}", date(1950 + 5 * i, 3, 1),
                        ("female", "male", "unknown")[i % 3]) for i in range(9)]
    stay_start = datetime.combine(MONDAY - timedelta(days=1), time(10), tzinfo=ZONE).astimezone(UTC)
    stay_end = stay_start + timedelta(days=3)  # in bed 7 (a male room) until Wednesday
    inpatient = Booking(BookingId("bk-inpatient"), PatientId("p1"), ServiceId("svc-lap"), SITE, stay_start,
                        stay_end, BookingStatus.BOOKED,
                        (Allocation(ResourceId("bed-4W-07"), "bed", stay_start, stay_end),))
    return HealthSystem("ward", [site], resources, services, [], patients, [], [inpatient])


def case(n: int, service: str = "svc-lap", patient: int = 0, surgeon: int = 1, first: int = 0, days: int = 14,
         urgency: Urgency = Urgency.ROUTINE, status: str = CaseStatus.REQUESTED) -> SurgicalCase:
    """Case ``c{n}`` wanted from day ``first`` of the horizon for ``days`` days."""
    earliest = datetime.combine(MONDAY + timedelta(days=first), time(0), tzinfo=ZONE)
    request = CaseRequest(f"surgeon-{surgeon}", service, f"p{patient}", earliest,
                          earliest + timedelta(days=days), urgency, (SITE,))
    at = datetime(2030, 1, 1, tzinfo=UTC)
    return SurgicalCase(f"c{n}", request, status, "coordinator", at, at)
