"""Demo sites and what each one houses (operating rooms, imaging, chairs, beds, pools).

The regional system is fictional ("Ridgeline Health"), placed around a real metro area in
East Tennessee so that distances are plausible; its Plateau clinic lies west of the
Eastern/Central time-zone line and keeps America/Chicago time.
"""

from __future__ import annotations

from dataclasses import dataclass

from careflow.domain.ids import SiteId
from careflow.domain.sites import Position, Site, SiteKind

__all__ = ["EASTERN", "SiteSpec", "regional_sites", "tiny_sites"]

EASTERN = "America/New_York"
CENTRAL = "America/Chicago"

LAMINAR = frozenset({"laminar-flow"})
ROBOTIC = frozenset({"robotic"})
HYBRID = frozenset({"hybrid", "fluoroscopy"})
FLUORO = frozenset({"fluoroscopy"})
OPHTHALMIC = frozenset({"ophthalmic"})
GENERAL: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SiteSpec:
    """A site and its facilities; exam rooms are sized later from the clinic sessions.

    ``equipment`` is (type, units, sterilization minutes) of mobile equipment; fixed
    equipment (phaco machines, angiography systems) follows the operating rooms.
    """

    site: Site
    operating_rooms: tuple[frozenset[str], ...] = ()
    imaging: tuple[tuple[str, int], ...] = ()
    chairs: int = 0
    beds: tuple[tuple[str, int], ...] = ()
    interpreters: tuple[tuple[str, int], ...] = ()
    equipment: tuple[tuple[str, int, int], ...] = ()
    saturday: bool = False

    @property
    def id(self) -> SiteId:
        """The site's id."""
        return self.site.id


def _site(ident: str, name: str, kind: SiteKind, lat: float, lon: float, tz: str = EASTERN,
          languages: frozenset[str] = frozenset({"en", "es"})) -> Site:
    return Site(SiteId(ident), name, kind, tz, Position(lat, lon), languages)


def regional_sites() -> list[SiteSpec]:
    """Three hospitals, two surgery centers and six clinics, sorted by id."""
    hosp, asc, clinic = SiteKind.HOSPITAL, SiteKind.SURGERY_CENTER, SiteKind.CLINIC
    specs = [
        SiteSpec(_site("site-h1", "Ridgeline Medical Center", hosp, 35.9606, -83.9207,
                       languages=frozenset({"en", "es", "zh", "ar"})),
                 (LAMINAR, LAMINAR, LAMINAR, ROBOTIC, HYBRID, FLUORO, GENERAL, GENERAL),
                 (("ct", 2), ("mri", 2), ("ultrasound", 1)), 24,
                 (("surgical", 60), ("medical", 70), ("icu", 20), ("step_down", 30)),
                 (("es", 3), ("zh", 1), ("vi", 1), ("ar", 1), ("ru", 1), ("pt", 1)),
                 (("c-arm", 3, 0), ("knee-instrument-set", 6, 120), ("hip-instrument-set", 5, 120),
                  ("spine-instrument-set", 2, 180), ("surgical-robot", 1, 60),
                  ("portable-ultrasound", 3, 0)), saturday=True),
        SiteSpec(_site("site-h2", "Ridgeline North Hospital", hosp, 36.1034, -84.1319),
                 (LAMINAR, LAMINAR, ROBOTIC, HYBRID, FLUORO, GENERAL, GENERAL, GENERAL),
                 (("ct", 1), ("mri", 1), ("ultrasound", 1)), 20,
                 (("surgical", 45), ("medical", 55), ("icu", 16), ("step_down", 24)),
                 (("es", 3), ("zh", 1), ("vi", 1), ("ar", 1)),
                 (("c-arm", 3, 0), ("knee-instrument-set", 4, 120), ("hip-instrument-set", 4, 120),
                  ("spine-instrument-set", 2, 180), ("surgical-robot", 1, 60),
                  ("portable-ultrasound", 2, 0))),
        SiteSpec(_site("site-h3", "Ridgeline Lakeside Hospital", hosp, 35.7565, -83.9705),
                 (LAMINAR, LAMINAR, FLUORO, OPHTHALMIC, GENERAL, GENERAL, GENERAL, GENERAL),
                 (("ct", 1), ("ultrasound", 1)), 0,
                 (("surgical", 26), ("medical", 36), ("icu", 8), ("step_down", 10)),
                 (("es", 2), ("vi", 1), ("ru", 1), ("pt", 1)),
                 (("c-arm", 2, 0), ("knee-instrument-set", 3, 120), ("hip-instrument-set", 3, 120),
                  ("spine-instrument-set", 2, 180), ("portable-ultrasound", 2, 0))),
        SiteSpec(_site("site-asc1", "Ridgeline Surgery Center West", asc, 35.8848, -84.1602),
                 (OPHTHALMIC, LAMINAR, GENERAL), interpreters=(("es", 2),),
                 equipment=(("c-arm", 1, 0),)),
        SiteSpec(_site("site-asc2", "Ridgeline Surgery Center East", asc, 36.0104, -83.7795),
                 (OPHTHALMIC, GENERAL, GENERAL), interpreters=(("es", 2),),
                 equipment=(("c-arm", 1, 0),)),
        SiteSpec(_site("site-c1", "Ridgeline Westside Outpatient & Imaging", clinic, 35.9231, -84.0102,
                       languages=frozenset({"en", "es", "zh"})),
                 imaging=(("mri", 1), ("ultrasound", 1)),
                 interpreters=(("es", 2), ("zh", 1), ("ar", 1)), saturday=True),
        SiteSpec(_site("site-c2", "Ridgeline Cancer & Infusion Center", clinic, 35.9498, -83.9402),
                 chairs=16, interpreters=(("es", 2), ("zh", 1), ("vi", 1))),
        SiteSpec(_site("site-c3", "Ridgeline Ridgeview Clinic", clinic, 36.0141, -84.2638),
                 interpreters=(("es", 2), ("ru", 1))),
        SiteSpec(_site("site-c4", "Ridgeline Smoky Foothills Clinic", clinic, 35.8682, -83.5618),
                 interpreters=(("es", 2),)),
        SiteSpec(_site("site-c5", "Ridgeline Lakeway Clinic", clinic, 36.2134, -83.2949),
                 interpreters=(("es", 2),)),
        SiteSpec(_site("site-c6", "Ridgeline Plateau Clinic", clinic, 35.9490, -85.0269, CENTRAL),
                 interpreters=(("es", 2),)),
    ]
    return sorted(specs, key=lambda s: s.id)


def tiny_sites() -> list[SiteSpec]:
    """One hospital with two operating rooms and one clinic."""
    return [
        SiteSpec(_site("site-c1", "Tiny Clinic", SiteKind.CLINIC, 35.9231, -84.0102),
                 interpreters=(("es", 1),)),
        SiteSpec(_site("site-h1", "Tiny General Hospital", SiteKind.HOSPITAL, 35.9606, -83.9207),
                 (LAMINAR | FLUORO, GENERAL), (("mri", 1),), 1, (("surgical", 2),), (("es", 1),),
                 (("c-arm", 1, 0), ("knee-instrument-set", 1, 120))),
    ]
