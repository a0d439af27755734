"""Turning placed cases into domain ``Booking``s, and stock levels with their reservations."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from careflow.demo.planner import Placed
from careflow.demo.stock import StockPlan
from careflow.domain.bookings import Booking, BookingStatus, ItemReservation
from careflow.domain.checks import RULESET_VERSION
from careflow.domain.ids import BookingId, ResourceId, SiteId
from careflow.domain.options import Assignment, build_allocations
from careflow.domain.resources import Resource
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import from_ts

__all__ = ["CREATED_BY", "to_bookings", "to_stock"]

CREATED_BY = "demo-seed"


def to_bookings(placed: Sequence[Placed], resources: Mapping[ResourceId, Resource],
                created_before: datetime, rng: random.Random) -> list[Booking]:
    """Bookings ``bk-demo-000001`` ... in start order, allocations built by the domain.

    ``build_allocations`` derives every interval from the card (setup, turnover,
    reprocessing, the bed's stay); the lanes are the ones placement chose.
    """
    order = sorted(placed, key=lambda p: (p.start, p.site_id, p.picks[0].resource_id))
    out: list[Booking] = []
    for n, p in enumerate(order, 1):
        needs = p.service.needs(p.patient.interpreter_language)
        assignments = [Assignment(pick.role, pick.resource_id) for pick in p.picks]
        end, built = build_allocations(p.service, needs, from_ts(p.start), assignments, resources)
        allocations = tuple(replace(a, lane=pick.lane) for a, pick in zip(built, p.picks, strict=True))
        for a, pick in zip(allocations, p.picks, strict=True):
            if a.span != pick.span:
                raise RuntimeError(f"placement and the card disagree on {pick.role} of {p.service.id}")
        created = created_before - timedelta(days=rng.randint(1, 28), minutes=rng.randint(0, 600))
        out.append(Booking(
            id=BookingId(f"bk-demo-{n:06d}"), patient_id=p.patient.id, service_id=p.service.id,
            site_id=p.site_id, start=from_ts(p.start), end=end, status=BookingStatus.BOOKED,
            allocations=allocations,
            items=tuple(ItemReservation(i.sku, i.quantity) for i in p.service.items),
            created_at=created, created_by=CREATED_BY, rule_version=RULESET_VERSION,
        ))
    return out


def to_stock(plans: Sequence[StockPlan], bookings: Sequence[Booking]) -> list[StockLevel]:
    """Stock levels whose ``reserved`` is what the active bookings hold."""
    reserved: dict[tuple[SiteId, str], int] = {}
    for b in bookings:
        if b.active:
            for item in b.items:
                key = (b.site_id, item.sku)
                reserved[key] = reserved.get(key, 0) + item.quantity
    return [p.level(reserved.get((p.site_id, p.sku), 0)) for p in plans]
