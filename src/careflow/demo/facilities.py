"""Rooms, chairs, beds, equipment and staff pools of the demo sites, with their templates.

Hours (site-local): operating rooms Mon–Fri 07:00–17:00; exam rooms 07:30–17:30 (and
Saturday mornings where the site opens then); imaging 07:00–19:00 at hospitals,
07:30–18:00 at clinics; infusion chairs 07:30–18:30; beds and equipment around the
clock; ward nurses every day in three shifts (07:00, 15:00, 23:00). Staff pools carry their
headcount as template capacities, in shifts.
"""

from __future__ import annotations

import math

from careflow.demo.sites import SiteSpec
from careflow.demo.templates import WEEKDAYS, around_the_clock, block
from careflow.domain.calendars import Availability, WeeklyBlock
from careflow.domain.ids import ResourceId
from careflow.domain.resources import (
    BedProfile,
    EquipmentProfile,
    Resource,
    ResourceKind,
    RoomProfile,
    StaffPoolProfile,
)
from careflow.domain.sites import SiteKind

__all__ = ["facilities", "short"]

SATURDAY = 5
UNIT_NAMES = {"surgical": ("surg", "4 West Surgical"), "medical": ("med", "5 East Medical"),
              "icu": ("icu", "Intensive Care"), "step_down": ("sdu", "3 North Step-Down")}
FIXED_BY_CAPABILITY = {"ophthalmic": "phaco-machine", "hybrid": "angio-system"}


def short(site_id: str) -> str:
    """``site-h1`` → ``h1``: the site part of resource ids."""
    return site_id.removeprefix("site-")


def _av(*blocks: WeeklyBlock) -> Availability:
    return Availability(tuple(blocks))


def _weekly(spec: SiteSpec, start: str, end: str, capacity: int = 1,
            sat: tuple[str, str] | None = None) -> Availability:
    blocks = [block(WEEKDAYS, start, end, capacity)]
    if spec.saturday and sat is not None:
        blocks.append(block(SATURDAY, sat[0], sat[1], capacity))
    return Availability(tuple(blocks))


def _pool(spec: SiteSpec, role: str, name: str, blocks: tuple[WeeklyBlock, ...],
          languages: frozenset[str] = frozenset(), suffix: str = "") -> Resource:
    s = short(spec.id)
    # The headcount peaks where a day's shifts overlap (all of a day's blocks do here).
    capacity = max(sum(b.capacity for b in blocks if d in b.weekdays) for d in range(7))
    return Resource(ResourceId(f"pool-{s}-{suffix or role}"), spec.id, ResourceKind.STAFF_POOL,
                    name, StaffPoolProfile(role, languages), Availability(blocks), capacity)


def operating_rooms(spec: SiteSpec) -> list[Resource]:
    """ORs, their fixed equipment, and the perioperative staff pools."""
    s, n = short(spec.id), len(spec.operating_rooms)
    if n == 0:
        return []
    out: list[Resource] = []
    for i, caps in enumerate(spec.operating_rooms, 1):
        rid = ResourceId(f"or-{s}-{i:02d}")
        out.append(Resource(rid, spec.id, ResourceKind.ROOM, f"OR {i}",
                            RoomProfile("operating", caps, "Perioperative"),
                            _weekly(spec, "07:00", "17:00")))
        for cap in sorted(caps):
            kind = FIXED_BY_CAPABILITY.get(cap)
            if kind is not None:
                out.append(Resource(ResourceId(f"eq-{s}-{kind}-{i:02d}"), spec.id,
                                    ResourceKind.EQUIPMENT, f"{kind} (OR {i})",
                                    EquipmentProfile(kind, mobile=False, room_id=rid),
                                    _av(*around_the_clock())))
    late = min(2, n)
    anesthesia = (block(WEEKDAYS, "06:30", "17:30", n), block(WEEKDAYS, "15:00", "19:00", late))
    out.append(_pool(spec, "anesthesia", "Anesthesia team", anesthesia))
    day = (block(WEEKDAYS, "06:30", "17:30", n),)
    out.append(_pool(spec, "circulating-nurse", "Circulating nurses", day, suffix="circulating"))
    out.append(_pool(spec, "scrub-tech", "Scrub technologists", day, suffix="scrub"))
    preop = n if spec.site.kind is SiteKind.SURGERY_CENTER else max(2, n // 2 + 1)
    out.append(_pool(spec, "preop-nurse", "Pre-op nurses",
                     (block(WEEKDAYS, "06:00", "17:00", preop),), suffix="preop"))
    return out


def imaging_rooms(spec: SiteSpec) -> list[Resource]:
    """CT, MRI and ultrasound rooms with a technologist pool per modality."""
    s = short(spec.id)
    hospital = spec.site.kind is SiteKind.HOSPITAL
    hours = ("07:00", "19:00") if hospital else ("07:30", "18:00")
    sat = ("08:00", "14:00") if hospital else ("08:00", "12:00")
    prefix = {"ct": "ct", "mri": "mri", "ultrasound": "us"}
    out: list[Resource] = []
    for modality, count in spec.imaging:
        p = prefix[modality]
        for i in range(1, count + 1):
            out.append(Resource(ResourceId(f"{p}-{s}-{i}"), spec.id, ResourceKind.ROOM,
                                f"{modality.upper() if p != 'us' else 'Ultrasound'} {i}",
                                RoomProfile(modality, frozenset(), "Imaging"),
                                _weekly(spec, *hours, sat=sat)))
        out.append(_pool(spec, f"{p}-tech", f"{modality.upper()} technologists",
                         _weekly(spec, *hours, count, sat).blocks))
    return out


def infusion(spec: SiteSpec) -> list[Resource]:
    """Infusion chairs and the infusion-nurse pool (two overlapping shifts)."""
    s, n = short(spec.id), spec.chairs
    if n == 0:
        return []
    out = [Resource(ResourceId(f"chair-{s}-{i:02d}"), spec.id, ResourceKind.CHAIR, f"Chair {i}",
                    RoomProfile("infusion", frozenset(), "Infusion"),
                    _weekly(spec, "07:30", "18:30"))
           for i in range(1, n + 1)]
    early, late = max(1, (n * 7 + 9) // 10), max(1, (n * 35 + 99) // 100)
    out.append(_pool(spec, "infusion-nurse", "Infusion nurses",
                     (block(WEEKDAYS, "07:30", "16:00", early), block(WEEKDAYS, "10:00", "18:30", late)),
                     suffix="infusion"))
    return out


def beds(spec: SiteSpec) -> list[Resource]:
    """Inpatient beds: mostly private, some gendered semi-private rooms, some isolation."""
    s = short(spec.id)
    out: list[Resource] = []
    for bed_type, count in spec.beds:
        code, unit = UNIT_NAMES[bed_type]
        for i in range(1, count + 1):
            slot = i % 10
            gender = "any"
            if bed_type in ("medical", "surgical") and slot in (7, 8):
                gender = "female"
            elif bed_type in ("medical", "surgical") and slot in (9, 0):
                gender = "male"
            isolation = slot == 1 or (bed_type == "icu" and slot in (1, 5))
            out.append(Resource(ResourceId(f"bed-{s}-{code}-{i:03d}"), spec.id, ResourceKind.BED,
                                f"{unit} bed {i}", BedProfile(unit, bed_type, gender, isolation),
                                _av(*around_the_clock())))
    return out


# Ward nurses on duty per bed in each shift (early 07-15, late 15-23, night 23-07), by bed type.
WARD_NURSES_PER_BED = {"icu": (1 / 2, 1 / 2, 1 / 2), "step_down": (1 / 3, 1 / 3, 1 / 4)}
WARD_NURSES_DEFAULT = (1 / 5, 1 / 6, 1 / 8)


def ward_nurses(spec: SiteSpec) -> list[Resource]:
    """One ward-nurse pool per bed unit, on duty every day in three shifts (the admission plan's nurses)."""
    s = short(spec.id)
    every = frozenset(range(7))
    out: list[Resource] = []
    for bed_type, count in spec.beds:
        code, unit = UNIT_NAMES[bed_type]
        early, late, night = (max(1, math.ceil(count * r)) for r in
                              WARD_NURSES_PER_BED.get(bed_type, WARD_NURSES_DEFAULT))
        blocks = (block(every, "07:00", "15:00", early), block(every, "15:00", "23:00", late),
                  block(every, "23:00", "07:00", night))
        out.append(Resource(ResourceId(f"pool-{s}-ward-{code}"), spec.id, ResourceKind.STAFF_POOL,
                            f"{unit} nurses", StaffPoolProfile("ward-nurse", skills=frozenset({bed_type})),
                            Availability(blocks), max(early, late, night)))
    return out


def mobile_equipment(spec: SiteSpec) -> list[Resource]:
    """Mobile equipment, ready around the clock, with its reprocessing time."""
    s = short(spec.id)
    return [Resource(ResourceId(f"eq-{s}-{kind}-{i}"), spec.id, ResourceKind.EQUIPMENT,
                     f"{kind} {i}", EquipmentProfile(kind, True, None, sterilization),
                     _av(*around_the_clock()))
            for kind, count, sterilization in spec.equipment for i in range(1, count + 1)]


def interpreters(spec: SiteSpec) -> list[Resource]:
    """One interpreter pool per language at the site."""
    return [_pool(spec, "interpreter", f"Interpreters ({lang})",
                  _weekly(spec, "07:00", "18:00", count, ("08:00", "14:00")).blocks,
                  frozenset({lang}), f"interp-{lang}")
            for lang, count in spec.interpreters]


def exam_rooms(spec: SiteSpec, count: int) -> list[Resource]:
    """Exam rooms (clinic, or a hospital's outpatient area)."""
    s = short(spec.id)
    unit = "Outpatient" if spec.site.kind is SiteKind.HOSPITAL else "Clinic"
    return [Resource(ResourceId(f"exam-{s}-{i:02d}"), spec.id, ResourceKind.ROOM, f"Exam {i}",
                     RoomProfile("exam", frozenset(), unit),
                     _weekly(spec, "07:30", "17:30", sat=("07:30", "12:30")))
            for i in range(1, count + 1)]


def facilities(spec: SiteSpec, exam_count: int) -> list[Resource]:
    """Every non-clinician resource of a site."""
    return (operating_rooms(spec) + exam_rooms(spec, exam_count) + imaging_rooms(spec)
            + infusion(spec) + beds(spec) + ward_nurses(spec) + mobile_equipment(spec) + interpreters(spec))
