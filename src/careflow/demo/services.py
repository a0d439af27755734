"""The demo's services and their preference cards.

Ids are stable (``svc-tka``, ``svc-mri-knee``, ``svc-cardio-new`` ...) and documented in
docs/demo.md. ``AUDIENCE`` says which synthetic patients a service suits (adults,
seniors, children, women), which the placement uses to pick patients plausibly.
"""

from __future__ import annotations

from careflow.domain.ids import ServiceId
from careflow.domain.preference_cards import (
    BedRequirement,
    BookingWindow,
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
from careflow.domain.resources import ResourceKind
from careflow.domain.sites import SiteKind

__all__ = ["AUDIENCE", "CLINIC_SPECIALTIES", "all_services", "clinic_service_ids"]

H = frozenset({SiteKind.HOSPITAL})
H_ASC = frozenset({SiteKind.HOSPITAL, SiteKind.SURGERY_CENTER})
H_CLINIC = frozenset({SiteKind.HOSPITAL, SiteKind.CLINIC})
BOARD = frozenset({"license", "board"})
OR_TEAM = (StaffRequirement("anesthesia"), StaffRequirement("circulating-nurse"),
           StaffRequirement("scrub-tech"))
OUTPATIENT_TEAM = (*OR_TEAM, StaffRequirement("preop-nurse"))
CLEARANCE = PrepItem("pre-anesthesia-clearance", 3)
CONSENT = PrepItem("surgical-consent", 1)
SURGERY_WINDOW = BookingWindow(min_lead_minutes=24 * 60, max_days_ahead=180)

# (specialty, short id, profession) of every specialty with new and follow-up clinic visits.
CLINIC_SPECIALTIES: tuple[tuple[str, str, str], ...] = (
    ("orthopedics", "ortho", "surgeon"),
    ("general_surgery", "gsurg", "surgeon"),
    ("neurosurgery", "neuro", "surgeon"),
    ("ophthalmology", "ophth", "surgeon"),
    ("urology", "uro", "surgeon"),
    ("otolaryngology", "ent", "surgeon"),
    ("cardiology", "cardio", "physician"),
    ("oncology", "onc", "physician"),
    ("internal_medicine", "im", "physician"),
    ("family_medicine", "fm", "physician"),
    ("pediatrics", "peds", "physician"),
    ("obstetrics_gynecology", "obgyn", "physician"),
)

AUDIENCE: dict[str, str] = {
    "svc-tka": "senior", "svc-tha": "senior", "svc-cataract": "senior", "svc-tavr": "senior",
    "svc-robotic-prostatectomy": "male_adult", "svc-peds-new": "child", "svc-peds-fu": "child",
    "svc-obgyn-new": "female_adult", "svc-obgyn-fu": "female_adult",
    "svc-tonsillectomy": "any",
}


def _surgeon(specialty: str, privilege: str, profession: str = "surgeon",
             credentials: frozenset[str] = BOARD) -> tuple[RoleRequirement, ...]:
    role = "interventionalist" if profession == "physician" else "surgeon"
    return (RoleRequirement(role, profession, 1, specialty, privilege, credentials),)


def _surgeries() -> list[Service]:
    joint = Prerequisites(authorization=True, prep=(CLEARANCE, CONSENT))
    day_case = Prerequisites(prep=(CONSENT,))
    return [
        Service(ServiceId("svc-tka"), "TKA", "Total knee arthroplasty", ServiceKind.SURGERY, 110,
                "orthopedics", 30, 30, _surgeon("orthopedics", "tka"), OR_TEAM,
                RoomRequirement("operating", frozenset({"laminar-flow"})),
                (EquipmentRequirement("knee-instrument-set"),),
                (ItemRequirement("IMP-KNEE-TOTAL", 1), ItemRequirement("SUP-BONE-CEMENT", 2)),
                joint, BedRequirement("surgical", 48), SURGERY_WINDOW, H),
        Service(ServiceId("svc-tha"), "THA", "Total hip arthroplasty", ServiceKind.SURGERY, 100,
                "orthopedics", 30, 30, _surgeon("orthopedics", "tha"), OR_TEAM,
                RoomRequirement("operating", frozenset({"laminar-flow"})),
                (EquipmentRequirement("hip-instrument-set"), EquipmentRequirement("c-arm")),
                (ItemRequirement("IMP-HIP-TOTAL", 1),),
                joint, BedRequirement("surgical", 48), SURGERY_WINDOW, H),
        Service(ServiceId("svc-knee-arthroscopy"), "KNEE-SCOPE", "Knee arthroscopy",
                ServiceKind.SURGERY, 50, "orthopedics", 20, 20,
                _surgeon("orthopedics", "knee-arthroscopy"), OUTPATIENT_TEAM,
                RoomRequirement("operating", frozenset({"laminar-flow"})), (),
                (ItemRequirement("SUP-ARTHRO-SHAVER", 1),), day_case, None, SURGERY_WINDOW, H_ASC),
        Service(ServiceId("svc-spinal-fusion"), "SPINE-FUSION", "Lumbar spinal fusion",
                ServiceKind.SURGERY, 210, "neurosurgery", 40, 40,
                _surgeon("neurosurgery", "spinal-fusion"), OR_TEAM,
                RoomRequirement("operating", frozenset({"fluoroscopy"})),
                (EquipmentRequirement("c-arm"), EquipmentRequirement("spine-instrument-set")),
                (ItemRequirement("IMP-SPINE-ROD", 2), ItemRequirement("IMP-PEDICLE-SCREW", 4)),
                joint, BedRequirement("step_down", 72), SURGERY_WINDOW, H),
        Service(ServiceId("svc-lap-chole"), "LAP-CHOLE", "Laparoscopic cholecystectomy",
                ServiceKind.SURGERY, 75, "general_surgery", 20, 25,
                _surgeon("general_surgery", "lap-chole"), OUTPATIENT_TEAM,
                RoomRequirement("operating"), (), (ItemRequirement("SUP-LAP-CLIP", 1),),
                day_case, None, SURGERY_WINDOW, H_ASC),
        Service(ServiceId("svc-hernia-repair"), "HERNIA", "Inguinal hernia repair with mesh",
                ServiceKind.SURGERY, 60, "general_surgery", 20, 20,
                _surgeon("general_surgery", "hernia-repair"), OUTPATIENT_TEAM,
                RoomRequirement("operating"), (), (ItemRequirement("IMP-HERNIA-MESH", 1),),
                day_case, None, SURGERY_WINDOW, H_ASC),
        Service(ServiceId("svc-colectomy"), "COLECTOMY", "Laparoscopic colectomy",
                ServiceKind.SURGERY, 180, "general_surgery", 30, 30,
                _surgeon("general_surgery", "colectomy"), OR_TEAM, RoomRequirement("operating"),
                (), (ItemRequirement("SUP-LAP-CLIP", 2),), joint, BedRequirement("surgical", 72),
                SURGERY_WINDOW, H),
        Service(ServiceId("svc-cataract"), "CATARACT", "Cataract extraction with lens implant",
                ServiceKind.SURGERY, 25, "ophthalmology", 10, 15,
                _surgeon("ophthalmology", "cataract"), OUTPATIENT_TEAM,
                RoomRequirement("operating", frozenset({"ophthalmic"})),
                (EquipmentRequirement("phaco-machine"),), (ItemRequirement("IMP-IOL", 1),),
                day_case, None, SURGERY_WINDOW, H_ASC),
        Service(ServiceId("svc-cystoscopy"), "CYSTO", "Diagnostic cystoscopy", ServiceKind.PROCEDURE,
                30, "urology", 10, 15, _surgeon("urology", "cystoscopy"),
                (StaffRequirement("circulating-nurse"), StaffRequirement("preop-nurse")),
                RoomRequirement("operating"), (), (ItemRequirement("SUP-CYSTO-KIT", 1),),
                Prerequisites(), None, BookingWindow(), H_ASC),
        Service(ServiceId("svc-robotic-prostatectomy"), "RALP", "Robotic prostatectomy",
                ServiceKind.SURGERY, 180, "urology", 45, 45,
                _surgeon("urology", "robotic-prostatectomy"), OR_TEAM,
                RoomRequirement("operating", frozenset({"robotic"})),
                (EquipmentRequirement("surgical-robot"),), (ItemRequirement("SUP-ROBOT-DRAPE", 1),),
                joint, BedRequirement("surgical", 24), SURGERY_WINDOW, H),
        Service(ServiceId("svc-tonsillectomy"), "TONSIL", "Tonsillectomy", ServiceKind.SURGERY, 45,
                "otolaryngology", 15, 20, _surgeon("otolaryngology", "tonsillectomy"),
                OUTPATIENT_TEAM, RoomRequirement("operating"), (), (), day_case, None,
                SURGERY_WINDOW, H_ASC),
        Service(ServiceId("svc-sinus-surgery"), "FESS", "Functional endoscopic sinus surgery",
                ServiceKind.SURGERY, 90, "otolaryngology", 20, 25,
                _surgeon("otolaryngology", "sinus-surgery"), OUTPATIENT_TEAM,
                RoomRequirement("operating"), (), (),
                Prerequisites(authorization=True, prep=(CONSENT,)), None, SURGERY_WINDOW, H_ASC),
        Service(ServiceId("svc-tavr"), "TAVR", "Transcatheter aortic valve replacement",
                ServiceKind.SURGERY, 90, "cardiology", 40, 30,
                _surgeon("cardiology", "tavr", "physician", frozenset({"license", "board", "acls"})),
                OR_TEAM, RoomRequirement("operating", frozenset({"hybrid"})),
                (EquipmentRequirement("angio-system"),), (ItemRequirement("IMP-TAVR-VALVE", 1),),
                joint, BedRequirement("icu", 24), SURGERY_WINDOW, H),
    ]


def _visits() -> list[Service]:
    out: list[Service] = []
    for specialty, short, profession in CLINIC_SPECIALTIES:
        role = (RoleRequirement("clinician", profession, 1, specialty),)
        room = RoomRequirement("exam")
        label = specialty.replace("_", " ")
        out.append(Service(ServiceId(f"svc-{short}-new"), f"{short.upper()}-NEW",
                           f"{label.capitalize()} new patient visit", ServiceKind.VISIT, 40,
                           specialty, 0, 0, role, (), room, slot_minutes=10, site_kinds=H_CLINIC))
        out.append(Service(ServiceId(f"svc-{short}-fu"), f"{short.upper()}-FU",
                           f"{label.capitalize()} follow-up visit", ServiceKind.VISIT, 20,
                           specialty, 0, 0, role, (), room, slot_minutes=10, site_kinds=H_CLINIC))
    out.append(Service(ServiceId("svc-preanesthesia"), "PREOP-EVAL", "Pre-anesthesia evaluation",
                       ServiceKind.VISIT, 30, "anesthesiology", 0, 0,
                       (RoleRequirement("clinician", "anesthesiologist", 1, "anesthesiology"),),
                       (), RoomRequirement("exam"), slot_minutes=10, site_kinds=H))
    return out


def _imaging() -> list[Service]:
    auth = Prerequisites(authorization=True)
    contrast = Prerequisites(prep=(PrepItem("renal-function-labs", 2),))
    lead = BookingWindow(min_lead_minutes=60, max_days_ahead=90)
    return [
        Service(ServiceId("svc-mri-brain"), "MRI-BRAIN", "MRI brain with and without contrast",
                ServiceKind.IMAGING, 45, "radiology", 10, 10, (), (StaffRequirement("mri-tech"),),
                RoomRequirement("mri"), prerequisites=auth, window=lead, site_kinds=H_CLINIC),
        Service(ServiceId("svc-mri-knee"), "MRI-KNEE", "MRI knee without contrast",
                ServiceKind.IMAGING, 30, "radiology", 10, 10, (), (StaffRequirement("mri-tech"),),
                RoomRequirement("mri"), prerequisites=auth, window=lead, site_kinds=H_CLINIC),
        Service(ServiceId("svc-ct-chest"), "CT-CHEST", "CT chest without contrast",
                ServiceKind.IMAGING, 15, "radiology", 5, 10, (), (StaffRequirement("ct-tech"),),
                RoomRequirement("ct"), window=lead, site_kinds=H_CLINIC),
        Service(ServiceId("svc-ct-abdomen"), "CT-ABD", "CT abdomen and pelvis with contrast",
                ServiceKind.IMAGING, 20, "radiology", 5, 10, (), (StaffRequirement("ct-tech"),),
                RoomRequirement("ct"), prerequisites=contrast, window=lead, site_kinds=H_CLINIC),
        Service(ServiceId("svc-us-abdomen"), "US-ABD", "Ultrasound abdomen complete",
                ServiceKind.IMAGING, 30, "radiology", 5, 5, (), (StaffRequirement("us-tech"),),
                RoomRequirement("ultrasound"), window=lead, site_kinds=H_CLINIC),
        Service(ServiceId("svc-us-biopsy"), "US-BIOPSY", "Ultrasound-guided core biopsy",
                ServiceKind.PROCEDURE, 45, "radiology", 10, 15,
                (RoleRequirement("radiologist", "radiologist", 1, "radiology", "us-biopsy"),),
                (StaffRequirement("us-tech"),), RoomRequirement("ultrasound"),
                prerequisites=Prerequisites(prep=(PrepItem("biopsy-consent", 1),)),
                window=BookingWindow(min_lead_minutes=24 * 60), site_kinds=H),
    ]


def _infusions() -> list[Service]:
    chair = RoomRequirement("infusion", kind=ResourceKind.CHAIR)
    nurse = (StaffRequirement("infusion-nurse"),)
    return [
        Service(ServiceId("svc-infusion-chemo"), "INF-CHEMO", "Chemotherapy infusion (3 h)",
                ServiceKind.INFUSION, 180, "oncology", 15, 15, (), nurse, chair,
                prerequisites=Prerequisites(authorization=True, prep=(PrepItem("chemo-labs", 1),)),
                slot_minutes=30, site_kinds=H_CLINIC),
        Service(ServiceId("svc-infusion-iron"), "INF-IRON", "Iron infusion (1 h)",
                ServiceKind.INFUSION, 60, "oncology", 10, 10, (), nurse, chair,
                slot_minutes=30, site_kinds=H_CLINIC),
    ]


def all_services() -> list[Service]:
    """Every regional service, sorted by id."""
    return sorted(_surgeries() + _visits() + _imaging() + _infusions(), key=lambda s: s.id)


def clinic_service_ids(specialty: str) -> tuple[ServiceId, ServiceId] | None:
    """The (new, follow-up) visit ids of a specialty, or None when it has no clinic visits."""
    if specialty == "anesthesiology":
        return ServiceId("svc-preanesthesia"), ServiceId("svc-preanesthesia")
    for spec, short, _ in CLINIC_SPECIALTIES:
        if spec == specialty:
            return ServiceId(f"svc-{short}-new"), ServiceId(f"svc-{short}-fu")
    return None
