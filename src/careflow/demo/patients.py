"""Synthetic patients: names from hand-written lists, MRN-like ids, homes around the sites.

About 8 % need an interpreter (Spanish most often), some state preferences, many have
a usual primary-care clinician near home and some a usual specialist. Patients are
drafted first; placement adds completed prep items; ``finish`` freezes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from careflow.demo.names import INTERPRETER_LANGUAGES, person_name
from careflow.demo.sites import SiteSpec
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.patients import Patient, Preferences
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Position, SiteKind, distance_km

__all__ = ["Draft", "audiences", "draft_patients", "finish"]

AGE_BANDS = ((0, 17, 0.17), (18, 39, 0.2), (40, 54, 0.2), (55, 69, 0.24), (70, 92, 0.19))
PRIMARY_CARE = ("internal_medicine", "family_medicine")
SPECIALISTS = ("cardiology", "orthopedics", "oncology", "urology", "otolaryngology",
               "obstetrics_gynecology")


@dataclass
class Draft:
    """A patient being generated (mutable until ``finish``)."""

    id: PatientId
    mrn: str
    name: str
    birth_date: date
    sex: str
    age: int
    language: str = "en"
    needs_interpreter: bool = False
    home: Position | None = None
    preferences: Preferences = field(default_factory=Preferences)
    isolation_required: bool = False
    usual: list[ResourceId] = field(default_factory=list)
    prep: dict[str, date] = field(default_factory=dict)

    @property
    def interpreter_language(self) -> str | None:
        return self.language if self.needs_interpreter else None


def _age(rng: random.Random) -> int:
    lo, hi, _ = rng.choices(AGE_BANDS, [w for _, _, w in AGE_BANDS])[0]
    return rng.randint(lo, hi)


def _language(rng: random.Random) -> tuple[str, bool]:
    roll = rng.random()
    if roll < 0.08:
        langs = [lang for lang, _ in INTERPRETER_LANGUAGES]
        return rng.choices(langs, [w for _, w in INTERPRETER_LANGUAGES])[0], True
    if roll < 0.13:
        return "es", False  # bilingual, no interpreter needed
    return "en", False


def _home(rng: random.Random, specs: list[SiteSpec]) -> tuple[Position, SiteSpec]:
    weights = [3.0 if s.site.kind is SiteKind.HOSPITAL else 0.6 if s.site.timezone != "America/New_York"
               else 1.5 if s.site.kind is SiteKind.CLINIC else 0.5 for s in specs]
    spec = rng.choices(specs, weights)[0]
    pos = spec.site.position
    return Position(round(pos.lat + rng.gauss(0, 0.07), 5), round(pos.lon + rng.gauss(0, 0.09), 5)), spec


def _preferences(rng: random.Random, home: Position, specs: list[SiteSpec]) -> Preferences:
    if rng.random() > 0.3:
        return Preferences()
    nearest = min(specs, key=lambda s: (distance_km(home, s.site.position), s.id))
    return Preferences(
        weekdays=rng.choice((frozenset(), frozenset({0, 2, 4}), frozenset({1, 3}), frozenset({0, 1, 2}))),
        time_of_day=rng.choice((None, "morning", "afternoon")),
        sites=frozenset({nearest.id}) if rng.random() < 0.5 else frozenset(),
        max_travel_km=rng.choice((None, 30.0, 45.0, 60.0)),
    )


class _Nearby:
    """Clinicians of some specialties closest to a site (cached: 5,000 patients ask)."""

    def __init__(self, clinicians: list[Resource], sites: dict[SiteId, SiteSpec]) -> None:
        self.clinicians = clinicians
        self.sites = sites
        self.cache: dict[tuple[tuple[str, ...], SiteId], list[Resource]] = {}

    def near(self, specialties: tuple[str, ...], site: SiteId) -> list[Resource]:
        key = (specialties, site)
        if key not in self.cache:
            here = self.sites[site].site.position
            pool = [c for c in self.clinicians if c.clinician.specialties & set(specialties)]
            pool.sort(key=lambda c: (distance_km(here, self.sites[c.site_id].site.position), c.id))
            self.cache[key] = pool[:6]
        return self.cache[key]


def _usual(rng: random.Random, age: int, sex: str, site: SiteId, nearby: _Nearby) -> list[ResourceId]:
    out: list[ResourceId] = []
    primary = nearby.near(("pediatrics",) if age < 18 else PRIMARY_CARE, site)
    if primary and rng.random() < 0.85:
        out.append(rng.choice(primary).id)
    if age >= 18 and rng.random() < 0.3:
        options = [s for s in SPECIALISTS if s != "obstetrics_gynecology" or sex == "female"]
        specialists = nearby.near((rng.choice(options),), site)
        if specialists:
            out.append(rng.choice(specialists).id)
    return out


def draft_patients(rng: random.Random, count: int, specs: list[SiteSpec], anchor: date,
                   clinicians: list[Resource]) -> list[Draft]:
    """``count`` synthetic patients ``pat-00001`` ...; well-known ones are adjusted later."""
    sites = {s.id: s for s in specs}
    docs = [c for c in clinicians if c.kind is ResourceKind.CLINICIAN and c.availability.blocks]
    nearby = _Nearby(docs, sites)
    out: list[Draft] = []
    for n in range(1, count + 1):
        sex = rng.choice(("female", "male"))
        age = _age(rng)
        birth = anchor - timedelta(days=age * 365 + rng.randint(0, 364))
        language, interpreter = _language(rng)
        home, spec = _home(rng, specs)
        draft = Draft(PatientId(f"pat-{n:05d}"), f"MRN{7_310_000 + n * 7:08d}", person_name(rng, sex),
                      birth, sex, age, language, interpreter, home, _preferences(rng, home, specs),
                      rng.random() < 0.015)
        draft.usual = _usual(rng, age, sex, spec.id, nearby)
        out.append(draft)
    return out


def audiences(drafts: list[Draft]) -> dict[str, list[Draft]]:
    """Patients grouped by who a service suits (see ``services.AUDIENCE``)."""
    groups: dict[str, list[Draft]] = {"any": list(drafts), "adult": [], "senior": [], "child": [],
                                      "female_adult": [], "male_adult": []}
    for d in drafts:
        if d.age < 18:
            groups["child"].append(d)
            continue
        groups["adult"].append(d)
        groups[f"{d.sex}_adult"].append(d)
        if d.age >= 55:
            groups["senior"].append(d)
    return groups


def finish(d: Draft) -> Patient:
    """The immutable patient."""
    return Patient(d.id, d.mrn, d.name, d.birth_date, d.sex, d.language, d.needs_interpreter, d.home,
                   d.preferences, d.isolation_required, dict(sorted(d.prep.items())),
                   frozenset(d.usual))
