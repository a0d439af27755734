"""A whole health system's master data (and optionally bookings), as loaded by ``seed``."""

from __future__ import annotations

from dataclasses import dataclass, field

from careflow.domain.bookings import Booking
from careflow.domain.patients import Authorization, Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource
from careflow.domain.sites import Site
from careflow.domain.stock import StockLevel

__all__ = ["HealthSystem"]


@dataclass
class HealthSystem:
    """Everything an implementation team loads: sites, resources, services, stock,
    patients and authorizations; the demo also brings pre-filled bookings."""

    name: str
    sites: list[Site] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    stock: list[StockLevel] = field(default_factory=list)
    patients: list[Patient] = field(default_factory=list)
    authorizations: list[Authorization] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "sites": len(self.sites),
            "resources": len(self.resources),
            "services": len(self.services),
            "stock_items": len(self.stock),
            "patients": len(self.patients),
            "authorizations": len(self.authorizations),
            "bookings": len(self.bookings),
        }
