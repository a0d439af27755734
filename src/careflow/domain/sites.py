"""Sites: hospitals, surgery centers, imaging centers and clinics."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId

__all__ = ["Position", "Site", "SiteKind", "distance_km"]


class SiteKind(enum.StrEnum):
    HOSPITAL = "hospital"
    SURGERY_CENTER = "surgery_center"
    IMAGING_CENTER = "imaging_center"
    CLINIC = "clinic"


@dataclass(frozen=True, slots=True)
class Position:
    """A WGS84 position in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise InvalidRequest(f"position ({self.lat}, {self.lon}) is not on Earth", "position")


def distance_km(a: Position, b: Position) -> float:
    """Great-circle distance (haversine), good enough to rank travel."""
    rlat1, rlat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = rlat2 - rlat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(rlat1) * math.cos(rlat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True, slots=True)
class Site:
    """A place where care happens, with its IANA time zone and position."""

    id: SiteId
    name: str
    kind: SiteKind
    timezone: str
    position: Position
    languages: frozenset[str] = frozenset({"en"})

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidRequest(f"unknown IANA time zone {self.timezone!r}", "timezone") from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
