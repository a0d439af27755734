"""Implants and supplies: on-hand quantities per site, reservations, reorder points."""

from __future__ import annotations

from dataclasses import dataclass

from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import SiteId

__all__ = ["StockLevel"]


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One item at one site. ``reserved`` is held for booked cases, not yet consumed."""

    site_id: SiteId
    sku: str
    name: str
    on_hand: int
    reserved: int = 0
    reorder_threshold: int = 0
    lead_time_days: int = 0

    def __post_init__(self) -> None:
        if self.on_hand < 0 or self.reserved < 0 or self.reorder_threshold < 0:
            raise InvalidRequest(f"stock quantities of {self.sku} cannot be negative", "on_hand")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved
