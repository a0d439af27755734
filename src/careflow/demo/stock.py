"""Implants and supplies at the surgical sites, with reorder thresholds and lead times.

An item is stocked where a service that uses it can run; on-hand quantities scale with
the operating rooms able to use it and cover the month of reservations with room to
spare, so placement keeps every item above its reorder threshold. A few items are
deliberately short (``LOW``): after placement their on-hand is what the booked cases
reserve plus a small remainder, so a new case there meets STOCK_BELOW_THRESHOLD (and the
TAVR valves at North, none left, STOCK_INSUFFICIENT).
"""

from __future__ import annotations

from dataclasses import dataclass

from careflow.demo.sites import SiteSpec
from careflow.domain.ids import SiteId
from careflow.domain.preference_cards import Service
from careflow.domain.stock import StockLevel

__all__ = ["ITEMS", "LOW", "StockPlan", "stock_plans"]

# sku: (name, units on hand per capable operating room, reorder threshold, lead time days)
ITEMS: dict[str, tuple[str, int, int, int]] = {
    "IMP-KNEE-TOTAL": ("Total knee implant system", 60, 12, 7),
    "IMP-HIP-TOTAL": ("Total hip implant system", 45, 10, 7),
    "SUP-BONE-CEMENT": ("Bone cement, 40 g", 140, 20, 3),
    "SUP-ARTHRO-SHAVER": ("Arthroscopic shaver blade", 90, 15, 5),
    "IMP-SPINE-ROD": ("Spinal rod, titanium", 90, 12, 10),
    "IMP-PEDICLE-SCREW": ("Pedicle screw, polyaxial", 180, 24, 10),
    "SUP-LAP-CLIP": ("Laparoscopic clip applier", 70, 10, 4),
    "IMP-HERNIA-MESH": ("Hernia mesh, 15 x 15 cm", 60, 8, 5),
    "IMP-IOL": ("Intraocular lens (monofocal)", 300, 40, 14),
    "SUP-CYSTO-KIT": ("Cystoscopy kit", 90, 10, 3),
    "SUP-ROBOT-DRAPE": ("Robotic arm drape set", 60, 10, 6),
    "IMP-TAVR-VALVE": ("Transcatheter aortic valve", 80, 6, 21),
}
# (site, sku): units left unreserved after placement (below the reorder threshold).
LOW: dict[tuple[str, str], int] = {
    ("site-h2", "IMP-HIP-TOTAL"): 4,
    ("site-asc2", "IMP-IOL"): 12,
    ("site-h3", "IMP-PEDICLE-SCREW"): 10,
    ("site-h2", "IMP-TAVR-VALVE"): 0,
}


@dataclass(frozen=True)
class StockPlan:
    """One item at one site: what is on hand (or, if short, what is left over)."""

    site_id: SiteId
    sku: str
    name: str
    on_hand: int
    threshold: int
    lead_time_days: int
    left_over: int | None = None

    @property
    def room(self) -> int:
        """Units the placement may reserve (keeping the usual stock above its threshold)."""
        return self.on_hand - self.threshold

    def level(self, reserved: int) -> StockLevel:
        """The stock level once placement reserved ``reserved`` units."""
        on_hand = self.on_hand if self.left_over is None else reserved + self.left_over
        return StockLevel(self.site_id, self.sku, self.name, on_hand, reserved,
                          self.threshold, self.lead_time_days)


def _capable_rooms(spec: SiteSpec, service: Service) -> int:
    if spec.site.kind not in service.site_kinds or service.room is None:
        return 0
    need = service.room.capabilities
    return sum(1 for caps in spec.operating_rooms if need <= caps)


def stock_plans(specs: list[SiteSpec], services: list[Service]) -> list[StockPlan]:
    """The stock of every surgical site, sorted by site and sku."""
    out: list[StockPlan] = []
    for spec in specs:
        rooms: dict[str, int] = {}
        for service in services:
            n = _capable_rooms(spec, service)
            for item in service.items:
                if n:
                    rooms[item.sku] = max(rooms.get(item.sku, 0), n)
        for sku in sorted(rooms):
            name, per_room, threshold, lead = ITEMS[sku]
            out.append(StockPlan(spec.id, sku, name, per_room * rooms[sku], threshold, lead,
                                 LOW.get((spec.id, sku))))
    return out
