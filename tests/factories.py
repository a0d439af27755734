"""Synthetic master data with sensible defaults, so a test states only what matters to it.

``small_system()`` is a coherent mini health system: a hospital with an orthopedic
surgeon, an anesthesiologist, an operating room, an exam room, an infusion chair, a
pre-op nurse pool, a Spanish interpreter pool, a C-arm and a surgical bed; a surgery
center next door; a clinic; a knee replacement, a consult and an infusion; three
patients ready for surgery, and implants in stock. Everything works 07:00–19:00 local
every day (beds round the clock). ``option()`` assembles a complete option for a
service from its default team, with any role swapped or dropped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from careflow.domain.calendars import Availability, CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import AuthorizationId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import Assignment, Option, build_allocations
from careflow.domain.patients import Authorization, AuthorizationStatus, Patient
from careflow.domain.preference_cards import (
    BedRequirement,
    EquipmentRequirement,
    ItemRequirement,
    PrepItem,
    Prerequisites,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
    StaffRequirement,
)
from careflow.domain.resources import (
    BedProfile,
    ClinicianProfile,
    ContractLimits,
    Credential,
    EquipmentProfile,
    Profile,
    Resource,
    ResourceKind,
    RoomProfile,
    StaffPoolProfile,
)
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.stock import StockLevel

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
MAIN = SiteId("site_main")
EVERY_DAY = frozenset(range(7))
# Monday 1 June 2026, noon in New York: "now" in most tests; cases are on Wednesday 3 June.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo(NEW_YORK))
CASE_DAY = "2026-06-03"
MIDTOWN = Position(40.76, -73.95)


def local(day: str, hhmm: str, timezone: str = NEW_YORK) -> datetime:
    """An aware datetime from a local calendar day and wall-clock time at ``timezone``."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(timezone))


def site(id: str = MAIN, *, kind: SiteKind = SiteKind.HOSPITAL, timezone: str = NEW_YORK,
         position: Position = MIDTOWN) -> Site:
    return Site(SiteId(id), id.replace("_", " ").title(), kind, timezone, position)


def block(start: str = "07:00", end: str = "19:00", *, capacity: int = 1,
          weekdays: frozenset[int] = EVERY_DAY, site_id: str | None = None) -> WeeklyBlock:
    return WeeklyBlock(weekdays, time.fromisoformat(start), time.fromisoformat(end), capacity,
                       SiteId(site_id) if site_id else None)


def closed(start: datetime, end: datetime, kind: ExceptionKind = ExceptionKind.VACATION,
           *, capacity_delta: int | None = None) -> CalendarException:
    """A vacation, call-out, maintenance or closure (all units unless ``capacity_delta``)."""
    return CalendarException(start, end, kind, capacity_delta, reason=kind.value)


def extra(start: datetime, end: datetime, units: int = 1) -> CalendarException:
    return CalendarException(start, end, ExceptionKind.EXTRA, units, reason="extra session")


def _resource(id: str, kind: ResourceKind, profile: Profile, site_id: str,
              blocks: tuple[WeeklyBlock, ...] | None, exceptions: tuple[CalendarException, ...],
              capacity: int = 1) -> Resource:
    availability = Availability(blocks if blocks is not None else (block(capacity=capacity),),
                                exceptions)
    return Resource(ResourceId(id), SiteId(site_id), kind, id, profile, availability, capacity)


def clinician(id: str = "dr_bone", *, profession: str = "surgeon",
              specialties: frozenset[str] = frozenset({"orthopedics"}),
              privileges: frozenset[str] = frozenset({"knee_arthroplasty"}),
              license_until: date = date(2030, 12, 31), contract: ContractLimits | None = None,
              languages: frozenset[str] = frozenset({"en"}), site_id: str = MAIN,
              blocks: tuple[WeeklyBlock, ...] | None = None,
              exceptions: tuple[CalendarException, ...] = ()) -> Resource:
    profile = ClinicianProfile(profession, specialties, privileges,
                               (Credential("license", license_until),), languages,
                               contract or ContractLimits())
    return _resource(id, ResourceKind.CLINICIAN, profile, site_id, blocks, exceptions)


def room(id: str = "or_1", *, room_type: str = "operating",
         capabilities: frozenset[str] = frozenset({"laminar_flow"}), capacity: int = 1,
         kind: ResourceKind = ResourceKind.ROOM, site_id: str = MAIN,
         blocks: tuple[WeeklyBlock, ...] | None = None,
         exceptions: tuple[CalendarException, ...] = ()) -> Resource:
    return _resource(id, kind, RoomProfile(room_type, capabilities), site_id, blocks, exceptions,
                     capacity)


def chair(id: str = "chair_1", **kwargs: object) -> Resource:
    return room(id, room_type="infusion", capabilities=frozenset(), kind=ResourceKind.CHAIR,
                **kwargs)  # type: ignore[arg-type]


def bed(id: str = "bed_1", *, bed_type: str = "surgical", gender: str = "any",
        isolation: bool = False, site_id: str = MAIN,
        exceptions: tuple[CalendarException, ...] = ()) -> Resource:
    round_the_clock = (block("00:00", "12:00"), block("12:00", "00:00"))
    return _resource(id, ResourceKind.BED, BedProfile("surgical_ward", bed_type, gender, isolation),
                     site_id, round_the_clock, exceptions)


def equipment(id: str = "c_arm_1", *, equipment_type: str = "c_arm", sterilization_minutes: int = 30,
              ready_at: datetime | None = None, mobile: bool = True, room_id: str | None = None,
              site_id: str = MAIN, exceptions: tuple[CalendarException, ...] = ()) -> Resource:
    profile = EquipmentProfile(equipment_type, mobile, ResourceId(room_id) if room_id else None,
                               sterilization_minutes, ready_at)
    return _resource(id, ResourceKind.EQUIPMENT, profile, site_id, None, exceptions)


def staff_pool(id: str = "preop_nurses", *, role: str = "preop_nurse", headcount: int = 2,
               languages: frozenset[str] = frozenset(), site_id: str = MAIN,
               blocks: tuple[WeeklyBlock, ...] | None = None,
               exceptions: tuple[CalendarException, ...] = ()) -> Resource:
    return _resource(id, ResourceKind.STAFF_POOL, StaffPoolProfile(role, languages), site_id,
                     blocks, exceptions, headcount)


def knee_replacement(**changes: object) -> Service:
    """Total knee arthroplasty: the full preference card (roles, pool, room, C-arm, implant,
    authorization, clearance, bed)."""
    knee = Service(
        ServiceId("svc_knee"), "TKA", "Total knee arthroplasty", ServiceKind.SURGERY,
        duration_minutes=120, specialty="orthopedics", setup_minutes=30, turnover_minutes=30,
        roles=(RoleRequirement("surgeon", "surgeon", specialty="orthopedics",
                               privilege="knee_arthroplasty"),
               RoleRequirement("anesthesiologist", "anesthesiologist")),
        staff=(StaffRequirement("preop_nurse"),),
        room=RoomRequirement("operating", frozenset({"laminar_flow"})),
        equipment=(EquipmentRequirement("c_arm"),),
        items=(ItemRequirement("knee_implant", 1),),
        prerequisites=Prerequisites(authorization=True, prep=(PrepItem("pre_op_clearance", 7),)),
        bed=BedRequirement("surgical", los_hours=24),
        site_kinds=frozenset({SiteKind.HOSPITAL, SiteKind.SURGERY_CENTER}),
    )
    return replace(knee, **changes)  # type: ignore[arg-type]


def consult(**changes: object) -> Service:
    """A 30-minute orthopedic consult in an exam room."""
    visit = Service(ServiceId("svc_consult"), "CONSULT", "Orthopedic consult", ServiceKind.VISIT,
                    duration_minutes=30, specialty="orthopedics",
                    roles=(RoleRequirement("clinician", "surgeon", specialty="orthopedics"),),
                    room=RoomRequirement("exam"))
    return replace(visit, **changes)  # type: ignore[arg-type]


def infusion(**changes: object) -> Service:
    """A one-hour infusion in a chair."""
    drip = Service(ServiceId("svc_infusion"), "INFUSION", "Infusion", ServiceKind.INFUSION,
                   duration_minutes=60, room=RoomRequirement("infusion", kind=ResourceKind.CHAIR))
    return replace(drip, **changes)  # type: ignore[arg-type]


def patient(id: str = "pt_1", *, language: str = "en", needs_interpreter: bool = False,
            sex: str = "female", isolation_required: bool = False,
            completed_prep: dict[str, date] | None = None) -> Patient:
    done = {"pre_op_clearance": date(2026, 5, 20)} if completed_prep is None else completed_prep
    return Patient(PatientId(id), f"MRN-{id}", f"Synthetic {id}", date(1960, 1, 1), sex, language,
                   needs_interpreter, isolation_required=isolation_required, completed_prep=done)


def authorization(patient_id: str = "pt_1", service_id: str = "svc_knee", *,
                  status: AuthorizationStatus = AuthorizationStatus.APPROVED,
                  valid_from: date | None = date(2026, 1, 1),
                  valid_to: date | None = date(2026, 12, 31)) -> Authorization:
    return Authorization(AuthorizationId(f"auth_{patient_id}_{service_id}"), PatientId(patient_id),
                         ServiceId(service_id), "Synthetic Payer", status, valid_from, valid_to)


def stock(sku: str = "knee_implant", *, site_id: str = MAIN, on_hand: int = 5, reserved: int = 0,
          threshold: int = 1) -> StockLevel:
    return StockLevel(SiteId(site_id), sku, sku.replace("_", " "), on_hand, reserved, threshold)


# The default team for each service of small_system(): role -> resource id(s).
TEAMS: dict[str, dict[str, str | list[str]]] = {
    "svc_knee": {"room": "or_1", "surgeon": "dr_bone", "anesthesiologist": "dr_sleep",
                 "preop_nurse": "preop_nurses", "c_arm": "c_arm_1", "bed": "bed_1"},
    "svc_consult": {"room": "exam_1", "clinician": "dr_bone"},
    "svc_infusion": {"room": "chair_1"},
}


def small_system(timezone: str = NEW_YORK) -> HealthSystem:
    """A coherent mini health system (see the module docstring)."""
    patients = [patient("pt_1"), patient("pt_2", sex="male"),
                patient("pt_3", language="es", needs_interpreter=True)]
    return HealthSystem(
        name="Synthetic Health",
        sites=[site(timezone=timezone),
               site("site_asc", kind=SiteKind.SURGERY_CENTER, timezone=timezone),
               site("site_clinic", kind=SiteKind.CLINIC, timezone=timezone)],
        resources=[
            clinician("dr_bone"),
            clinician("dr_sleep", profession="anesthesiologist",
                      specialties=frozenset({"anesthesiology"}), privileges=frozenset()),
            room("or_1"), room("exam_1", room_type="exam", capabilities=frozenset()), chair(),
            staff_pool(), staff_pool("interpreters", role="interpreter", headcount=1,
                                     languages=frozenset({"es"})),
            equipment(), bed(), room("or_asc_1", site_id="site_asc"),
        ],
        services=[knee_replacement(), consult(), infusion()],
        stock=[stock(), stock(site_id="site_asc", on_hand=2)],
        patients=patients,
        authorizations=[authorization(p.id) for p in patients],
    )


def option(service: Service, start: datetime, *, patient_id: str = "pt_1", site_id: str = MAIN,
           **roles: str | list[str] | None) -> Option:
    """A complete option for ``service`` at ``start`` from its default team.

    Pass ``role=resource_id`` to swap a member, ``role=None`` to leave the role unfilled,
    and a list of ids to take several units (pool lanes, or several clinicians).
    """
    team = {**TEAMS.get(service.id, {}), **roles}
    assignments = [Assignment(role, ResourceId(rid))
                   for role, ids in team.items() if ids is not None
                   for rid in ([ids] if isinstance(ids, str) else ids)]
    # Any language, so that an interpreter role is on the card; booking re-derives the card.
    end, allocations = build_allocations(service, service.needs("any"), start, assignments, {})
    return Option(service.id, PatientId(patient_id), SiteId(site_id), start, end, allocations)
