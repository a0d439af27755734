"""A synthetic hospital for the bed-placement tests: one site, two units, five beds and a
few synthetic patients (no real data), loaded into a real database.

Unit 4W (surgical): ``4w-iso`` (any, isolation), ``4w-f`` (female room), ``4w-m`` (male
room), ``4w-any`` (mixed). Unit ICU: ``icu-1`` (isolation). Patients: ``pf1``/``pf2``/
``pf3`` female, ``pm1``/``pm2`` male, ``piso`` female needing isolation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Engine

from careflow.adapters.db.bed_store import beds_of
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.adapters.events.sql import SqlOutbox, inbox_of
from careflow.domain.access import Actor
from careflow.domain.beds import RequestAdmission
from careflow.domain.bookings import Urgency
from careflow.domain.calendars import Availability, WeeklyBlock
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.patients import Patient
from careflow.domain.resources import BedProfile, Resource, ResourceKind
from careflow.domain.sites import Position, Site, SiteKind
from careflow.services.beds import housekeeping
from careflow.services.beds.ports import BedDeps
from careflow.services.booking import BookingDeps
from careflow.services.catalogs import CatalogCache
from careflow.services.dispatch import Dispatcher, HandlerRegistry
from tests.fakes import FixedClock

SITE = "h1"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BED_MANAGER = Actor("bm1", frozenset({"bed_manager"}))
ALL_DAY = Availability((WeeklyBlock(frozenset(range(7)), time(0), time(12)),
                        WeeklyBlock(frozenset(range(7)), time(12), time(0))))
BEDS = (("4w-iso", "4W", "surgical", "any", True), ("4w-f", "4W", "surgical", "female", False),
        ("4w-m", "4W", "surgical", "male", False), ("4w-any", "4W", "surgical", "any", False),
        ("icu-1", "ICU", "icu", "any", True))
PATIENTS = (("pf1", "female", False), ("pf2", "female", False), ("pf3", "female", False),
            ("pm1", "male", False), ("pm2", "male", False), ("piso", "female", True))


def hospital(beds: tuple[tuple[str, str, str, str, bool], ...] = BEDS) -> HealthSystem:
    site = Site(SiteId(SITE), "Synthetic Hospital", SiteKind.HOSPITAL, "America/New_York",
                Position(40.0, -75.0))
    resources = [Resource(ResourceId(i), SiteId(SITE), ResourceKind.BED, f"{unit} {i}",
                          BedProfile(unit, kind, gender, iso), ALL_DAY)
                 for i, unit, kind, gender, iso in beds]
    patients = [Patient(PatientId(i), f"MRN-{i}", f"Synthetic {i}", date(1980, 1, 1), sex,
                        isolation_required=iso) for i, sex, iso in PATIENTS]
    return HealthSystem("beds", [site], resources, [], [], patients)


@dataclass
class World:
    engine: Engine
    clock: FixedClock
    deps: BedDeps
    registry: HandlerRegistry
    signals: list[str]

    @property
    def uow(self) -> SqlUnitOfWorkFactory:
        return self.deps.booking.uow  # type: ignore[return-value]

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.uow, inbox_of, self.registry, self.clock)

    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.engine, self.clock)


def world(engine: Engine, beds: tuple[tuple[str, str, str, str, bool], ...] = BEDS) -> World:
    load_health_system(engine, hospital(beds), replace=False)
    clock = FixedClock(T0)
    uow = SqlUnitOfWorkFactory(engine, clock)
    signals: list[str] = []
    deps = BedDeps(BookingDeps(uow=uow, catalogs=CatalogCache(), clock=clock), beds_of, signals.append,
                   poll_seconds=0.2)
    registry = HandlerRegistry()
    housekeeping.register(registry, deps)
    return World(engine, clock, deps, registry, signals)


def ask(patient: str, *, unit: str | None = None, bed_type: str | None = "surgical",
        urgency: Urgency = Urgency.ROUTINE, hours: int = 48, source: str = "ed",
        isolation: bool = False, start: datetime = T0) -> RequestAdmission:
    return RequestAdmission(patient, SITE, start, hours, unit, bed_type, isolation, urgency, source)


@contextmanager
def unit_of_work(w: World) -> Iterator[Any]:
    with w.uow(write=True) as uow:
        yield uow
        uow.commit()
