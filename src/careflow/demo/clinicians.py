"""The demo's clinicians: roster, privileges, credentials, languages and contracts.

Ids are ``clin-<specialty short>-<nn>`` (``clin-ortho-01``). Templates come from
``schedules``; a few credentials expire inside the horizon on purpose (see
``EXPIRING``), so that checks show CLINICIAN_CREDENTIAL_EXPIRED on realistic data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from careflow.demo.names import clinician_name
from careflow.domain.resources import ClinicianProfile, ContractLimits, Credential

__all__ = ["EXPIRING", "REGIONAL_ROSTER", "TINY_ROSTER", "Person", "RosterLine", "people"]


@dataclass(frozen=True)
class RosterLine:
    """``count`` clinicians of a specialty with ``sessions`` half-day clinics a week."""

    specialty: str
    short: str
    profession: str
    count: int
    sessions: int
    session_sites: tuple[str, ...] = ()


@dataclass
class Person:
    """A clinician before their templates exist."""

    id: str
    line: RosterLine
    index: int
    name: str
    profile: ClinicianProfile


HOSPITALS = ("site-h1", "site-h2", "site-h3")
PRIMARY = ("site-c1", "site-c3", "site-c4", "site-c5")
SURGEON_CLINICS = (*HOSPITALS, "site-c1", "site-c3", "site-c4", "site-c5")

REGIONAL_ROSTER = (
    RosterLine("orthopedics", "ortho", "surgeon", 24, 1, SURGEON_CLINICS),
    RosterLine("general_surgery", "gsurg", "surgeon", 22, 1, SURGEON_CLINICS),
    RosterLine("neurosurgery", "neuro", "surgeon", 8, 1, HOSPITALS),
    RosterLine("ophthalmology", "ophth", "surgeon", 10, 1, ("site-c1", "site-c4", "site-h3")),
    RosterLine("urology", "uro", "surgeon", 10, 1, SURGEON_CLINICS),
    RosterLine("otolaryngology", "ent", "surgeon", 8, 1, ("site-c1", "site-c3", "site-h2")),
    RosterLine("cardiology", "cardio", "physician", 20, 1, ("site-h1", "site-h2", "site-c1", "site-c3")),
    RosterLine("oncology", "onc", "physician", 16, 2, ("site-c2", "site-h1", "site-h2")),
    RosterLine("internal_medicine", "im", "physician", 30, 1, PRIMARY),
    RosterLine("family_medicine", "fm", "physician", 24, 1, PRIMARY),
    RosterLine("pediatrics", "peds", "physician", 20, 1, PRIMARY),
    RosterLine("obstetrics_gynecology", "obgyn", "physician", 16, 1,
               ("site-c1", "site-c4", "site-c5", "site-h3")),
    RosterLine("hospital_medicine", "hosp", "physician", 14, 0, HOSPITALS),
    RosterLine("radiology", "rad", "radiologist", 12, 0, HOSPITALS),
    RosterLine("anesthesiology", "anes", "anesthesiologist", 16, 1, HOSPITALS),
)

TINY_ROSTER = (
    RosterLine("orthopedics", "ortho", "surgeon", 2, 2, ("site-c1", "site-h1")),
    RosterLine("general_surgery", "gsurg", "surgeon", 1, 1, ("site-c1",)),
)

# (clinician, credential, days after the anchor it expires): inside the 30-day horizon.
EXPIRING: tuple[tuple[str, str, int], ...] = (
    ("clin-gsurg-04", "license", 8),
    ("clin-ortho-03", "board", 12),
    ("clin-cardio-02", "acls", 15),
    ("clin-im-05", "license", 18),
    ("clin-neuro-02", "board", 20),
    ("clin-peds-03", "license", 25),
)

FIXED_PRIVILEGES = {
    "neurosurgery": frozenset({"spinal-fusion"}),
    "ophthalmology": frozenset({"cataract"}),
    "otolaryngology": frozenset({"tonsillectomy", "sinus-surgery"}),
}
OTHER_LANGUAGES = ("es", "es", "es", "zh", "vi", "ar", "ru", "pt", "hi", "fr")


def _privileges(line: RosterLine, i: int) -> frozenset[str]:
    """Procedure privileges by specialty; some surgeons hold only part of the list."""
    s = line.specialty
    if s == "orthopedics":
        return frozenset({"tka", "knee-arthroscopy"} if i % 4 == 3 else {"tka", "tha", "knee-arthroscopy"})
    if s == "general_surgery":
        base = {"lap-chole", "hernia-repair"}
        return frozenset(base | {"colectomy"} if i % 2 else base)
    if s == "urology":
        return frozenset({"cystoscopy", "robotic-prostatectomy"} if i <= 6 else {"cystoscopy"})
    if s == "cardiology":
        return frozenset({"tavr"}) if i <= 5 else frozenset()
    if s == "radiology":
        return frozenset({"us-biopsy"}) if i <= 8 else frozenset()
    return FIXED_PRIVILEGES.get(s, frozenset())


def _credentials(rng: random.Random, pid: str, line: RosterLine, i: int,
                 anchor: date) -> tuple[Credential, ...]:
    def later(lo: int, hi: int) -> date:
        return anchor + timedelta(days=rng.randint(lo, hi))

    creds = [Credential("license", later(60, 900)), Credential("bls", later(45, 700))]
    board_eligible_only = line.profession == "physician" and i % 11 == 7
    if not board_eligible_only:
        creds.append(Credential("board", later(200, 3000)))
    if line.profession in ("surgeon", "anesthesiologist") or line.specialty == "cardiology":
        creds.append(Credential("acls", later(45, 700)))
    for who, code, days in EXPIRING:
        if who == pid:
            creds = [c for c in creds if c.code != code] + [Credential(code, anchor + timedelta(days=days))]
    return tuple(sorted(creds, key=lambda c: c.code))


def _contract(line: RosterLine, i: int) -> ContractLimits:
    if line.profession == "surgeon":
        return ContractLimits(12.0, 60.0, 50.0)
    if line.specialty in ("internal_medicine", "family_medicine", "pediatrics") and i % 5 == 0:
        return ContractLimits(9.0, 32.0, 24.0)  # part time
    return ContractLimits(10.0, 50.0, 40.0)


def people(rng: random.Random, roster: tuple[RosterLine, ...], anchor: date) -> list[Person]:
    """Every clinician of the roster with a profile (templates are added later)."""
    out: list[Person] = []
    for line in roster:
        for i in range(1, line.count + 1):
            pid = f"clin-{line.short}-{i:02d}"
            languages = {"en"}
            if rng.random() < 0.18:
                languages.add(rng.choice(OTHER_LANGUAGES))
            profile = ClinicianProfile(line.profession, frozenset({line.specialty}),
                                       _privileges(line, i), _credentials(rng, pid, line, i, anchor),
                                       frozenset(languages), _contract(line, i))
            out.append(Person(pid, line, i, clinician_name(rng, line.profession), profile))
    return out
