"""Stable, documented ids of the demo (docs/demo.md), and the patients they describe.

Patients ``pat-00001`` to ``pat-00011`` are kept out of the pre-filled bookings so that
each tells one clean story to ``find``; ``pat-00012`` always has pre-filled bookings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from careflow.demo.authorizations import AuthorizationBook
from careflow.demo.patients import Draft
from careflow.domain.ids import PatientId, ResourceId, ServiceId
from careflow.domain.patients import AuthorizationStatus
from careflow.domain.sites import Position

__all__ = ["HAS_BOOKINGS", "RESERVED", "STORIES", "Story", "apply_stories"]

APPROVED, PENDING, DENIED = (AuthorizationStatus.APPROVED, AuthorizationStatus.PENDING,
                             AuthorizationStatus.DENIED)
JOINT_PREP = ("pre-anesthesia-clearance", "surgical-consent")
TKA = "svc-tka"


@dataclass(frozen=True)
class Story:
    """One well-known patient: who they are and what the demo prepared for them."""

    id: str
    summary: str
    name: str
    sex: str
    age: int
    language: str = "en"
    needs_interpreter: bool = False
    home: tuple[float, float] = (35.9606, -83.9207)
    usual: tuple[str, ...] = ()
    prep: tuple[str, ...] = ()
    auths: tuple[tuple[str, AuthorizationStatus, int, int], ...] = ()  # service, status, from, to
    isolation: bool = False


STORIES: tuple[Story, ...] = (
    Story("pat-00001", "English speaker ready for a total knee replacement: approved "
          "authorization, pre-anesthesia clearance and consent done", "Ada Alderwick", "female", 67,
          usual=("clin-ortho-04",), prep=JOINT_PREP, auths=((TKA, APPROVED, -10, 120),)),
    Story("pat-00002", "Spanish speaker who needs an interpreter, due a new internal-medicine "
          "visit", "Rosa Corriveau", "female", 54, "es", True, (35.9231, -84.0102),
          usual=("clin-im-01",)),
    Story("pat-00003", "Ready for MRI: approved authorizations for MRI knee and MRI brain",
          "Cal Dunmere", "male", 45, home=(35.93, -84.0),
          auths=(("svc-mri-knee", APPROVED, -5, 85), ("svc-mri-brain", APPROVED, -5, 85))),
    Story("pat-00004", "Knee replacement with the authorization still pending",
          "Bea Fenwright", "female", 71, prep=JOINT_PREP, auths=((TKA, PENDING, 0, 0),)),
    Story("pat-00005", "Knee replacement with the authorization denied", "Hal Greystead", "male", 63,
          prep=JOINT_PREP, auths=((TKA, DENIED, 0, 0),)),
    Story("pat-00006", "Knee replacement whose approved authorization expired yesterday",
          "Iris Hollins", "female", 69, prep=JOINT_PREP, auths=((TKA, APPROVED, -100, -1),)),
    Story("pat-00007", "Knee replacement approved, but pre-anesthesia clearance and consent not "
          "done (refused within 3 days, fine later)", "Otis Larkspur", "male", 66,
          auths=((TKA, APPROVED, -10, 120),)),
    Story("pat-00008", "Mandarin speaker who needs an interpreter, followed in cardiology",
          "Mina Oakhurst", "female", 71, "zh", True, usual=("clin-cardio-03",)),
    Story("pat-00009", "A child (7) for pediatric visits", "Leo Pebblewood", "male", 7,
          home=(35.8682, -83.5618), usual=("clin-peds-01",)),
    Story("pat-00010", "Oncology patient ready for chemotherapy: approved authorization, "
          "labs done", "Nora Redmere", "female", 58, home=(35.9498, -83.9402),
          prep=("chemo-labs",), auths=(("svc-infusion-chemo", APPROVED, -7, 90),)),
    Story("pat-00011", "Knee replacement for a patient who needs an isolation bed",
          "Gus Saltmarsh", "male", 72, prep=JOINT_PREP, auths=((TKA, APPROVED, -10, 120),),
          isolation=True),
    Story("pat-00013", "Hip replacement approved and ready; North's hip implants are below "
          "their reorder point, so options there carry STOCK_BELOW_THRESHOLD", "Vera Umberleigh",
          "female", 74, home=(36.1, -84.13), prep=JOINT_PREP, auths=(("svc-tha", APPROVED, -10, 120),)),
    Story("pat-00014", "TAVR approved and ready; North has no TAVR valves left "
          "(STOCK_INSUFFICIENT there), the Medical Center has", "Emil Vantaran", "male", 81,
          home=(36.1, -84.13), prep=JOINT_PREP, auths=(("svc-tavr", APPROVED, -10, 120),)),
)
RESERVED = frozenset(s.id for s in STORIES)
HAS_BOOKINGS = "pat-00012"


def apply_stories(drafts: Mapping[str, Draft], anchor: date, book: AuthorizationBook,
                  known_services: set[str], known_clinicians: set[str]) -> None:
    """Shape the well-known patients present in ``drafts`` and file their authorizations."""
    for story in STORIES:
        d = drafts.get(story.id)
        if d is None:
            continue
        d.name, d.sex, d.age = story.name, story.sex, story.age
        d.birth_date = anchor - timedelta(days=story.age * 365 + 40)
        d.language, d.needs_interpreter = story.language, story.needs_interpreter
        d.home = Position(*story.home)
        d.isolation_required = story.isolation
        d.usual = [ResourceId(c) for c in story.usual if c in known_clinicians]
        d.prep = {code: anchor - timedelta(days=6) for code in story.prep}
        for service, status, lo, hi in story.auths:
            if service not in known_services:
                continue
            window = (anchor + timedelta(days=lo), anchor + timedelta(days=hi)) if status is APPROVED \
                else (None, None)
            book.add(PatientId(d.id), ServiceId(service), status, *window)
