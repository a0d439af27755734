"""The race from the issue: many schedulers book the same option at the same instant.

Exactly one wins; every other gets a ``Conflict`` explained by ``RESOURCE_BOOKED`` (a
``RaceLost`` is retried after re-reading, so nobody sees a driver error), and no two
active allocations of one resource lane overlap afterwards. Run on PostgreSQL (the
exclusion constraints decide) and on SQLite (``BEGIN IMMEDIATE`` serializes writers).

At READ COMMITTED each statement of a PostgreSQL transaction reads its own snapshot, so
when the winner commits between a loser's resource read and its patient read, that
loser is refused as ``PATIENT_DOUBLE_BOOKED`` alone (the same option is the same
patient). The refusal is right, the explanation partial; the test with one patient per
thread shows that every resource loser is told ``RESOURCE_BOOKED``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine, text
from tests.concurrency import at_once

from careflow.adapters.db import SqlUnitOfWorkFactory, load_health_system
from careflow.domain.access import Actor
from careflow.domain.bookings import Allocation, Booking
from careflow.domain.commands import BookOption
from careflow.domain.errors import Conflict
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import Option
from careflow.domain.resources import ContractLimits
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_option
from careflow.services.catalogs import CatalogCache

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # Monday
START = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
THREADS = 32
ACTOR = Actor("scheduler-1", frozenset({"scheduler"}))

OVERLAPPING_PAIRS = text("""
    SELECT count(*) FROM allocation a JOIN allocation b
      ON a.resource_id = b.resource_id AND a.lane = b.lane AND a.id < b.id
     AND a.start_at < b.end_at AND b.start_at < a.end_at
   WHERE a.active AND b.active
""")


def option(start: datetime, patient: str = "p0") -> Option:
    """Room and surgeon for an hour (booking re-derives the intervals from the card)."""
    end = start + timedelta(hours=1)
    return Option(ServiceId("svc_lap"), PatientId(patient), SiteId("s1"), start, end,
                  (Allocation(ResourceId("or1"), "room", start, end),
                   Allocation(ResourceId("dr1"), "surgeon", start, end)))


def race(deps: BookingDeps, options: list[Option]) -> tuple[list[Booking], list[BaseException]]:
    return at_once([partial(book_option, BookOption(opt, ACTOR), deps) for opt in options])


@pytest.fixture
def deps(engine: Engine, tiny: Callable[..., HealthSystem]) -> BookingDeps:
    """One site, one room, one surgeon, a service needing both (and one mesh)."""
    hs = tiny(patients=THREADS, mesh_on_hand=3)
    hs.stock = [replace(hs.stock[0], reorder_threshold=0)]  # no soft warnings to override
    hs.resources = [r for r in hs.resources if r.id in ("or1", "dr1")]
    hs.services = [s for s in hs.services if s.id == "svc_lap"]
    hs.patients = [replace(p, needs_interpreter=False) for p in hs.patients]
    load_health_system(engine, hs, replace=True)
    return BookingDeps(SqlUnitOfWorkFactory(engine, lambda: NOW), CatalogCache(), lambda: NOW)


def codes(exc: BaseException) -> set[ViolationCode]:
    assert isinstance(exc, Conflict), repr(exc)
    return {v.code for v in exc.violations}


def test_exactly_one_of_32_concurrent_bookings_of_one_option_wins(
        deps: BookingDeps, engine: Engine) -> None:
    won, lost = race(deps, [option(START)] * THREADS)
    assert len(won) == 1
    assert len(lost) == THREADS - 1
    explained = [codes(e) for e in lost]
    if engine.dialect.name == "sqlite":  # serialized writers: every loser reads the winner whole
        assert all(ViolationCode.RESOURCE_BOOKED in c for c in explained), explained
    else:
        assert all(c & {ViolationCode.RESOURCE_BOOKED, ViolationCode.PATIENT_DOUBLE_BOOKED}
                   for c in explained), explained
    with engine.connect() as conn:
        assert conn.execute(OVERLAPPING_PAIRS).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM booking")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM allocation WHERE active")).scalar() == 2
        assert conn.execute(text("SELECT reserved FROM stock_item")).scalar() == 1
        events = conn.execute(text("SELECT count(*) FROM outbox WHERE type = 'BookingConfirmed'"))
        assert events.scalar() == 1


def test_every_loser_of_a_resource_race_is_told_resource_booked(
        deps: BookingDeps, engine: Engine) -> None:
    """The same room, surgeon and time for 32 different patients."""
    won, lost = race(deps, [option(START, f"p{i}") for i in range(THREADS)])
    assert len(won) == 1
    assert len(lost) == THREADS - 1
    for exc in lost:
        assert ViolationCode.RESOURCE_BOOKED in codes(exc)
    with engine.connect() as conn:
        assert conn.execute(OVERLAPPING_PAIRS).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM allocation WHERE active")).scalar() == 2


def test_concurrent_bookings_never_reserve_more_stock_than_on_hand(
        deps: BookingDeps, engine: Engine) -> None:
    """Eight patients at eight different times, three meshes: three win, five are told why."""
    starts = [START - timedelta(hours=3) + timedelta(minutes=90 * i) for i in range(8)]
    won, lost = race(deps, [option(s, f"p{i}") for i, s in enumerate(starts)])
    assert len(won) == 3
    assert len(lost) == 5
    for exc in lost:
        assert ViolationCode.STOCK_INSUFFICIENT in codes(exc)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT on_hand, reserved FROM stock_item")).one() == (3, 3)
        assert conn.execute(OVERLAPPING_PAIRS).scalar() == 0


def test_concurrent_bookings_never_take_a_surgeon_past_the_weekly_maximum(
        engine: Engine, tiny: Callable[..., HealthSystem]) -> None:
    """Eight one-hour cases at eight different times in one week, a contract of three hours:
    each booking alone fits, so only serialized writers keep the limit (no constraint can)."""
    hs = tiny(patients=8, mesh_on_hand=50)
    hs.stock = [replace(hs.stock[0], reorder_threshold=0)]
    surgeon = next(r for r in hs.resources if r.id == "dr1")
    tight = replace(surgeon, profile=replace(surgeon.clinician, contract=ContractLimits(12, 3, 3)))
    hs.resources = [r for r in hs.resources if r.id == "or1"] + [tight]
    hs.services = [s for s in hs.services if s.id == "svc_lap"]
    hs.patients = [replace(p, needs_interpreter=False) for p in hs.patients]
    load_health_system(engine, hs, replace=True)
    deps = BookingDeps(SqlUnitOfWorkFactory(engine, lambda: NOW), CatalogCache(), lambda: NOW)
    starts = [START + timedelta(hours=2 * i) for i in range(4)] + [
        START + timedelta(days=1, hours=2 * i) for i in range(4)]
    won, lost = race(deps, [option(s, f"p{i}") for i, s in enumerate(starts)])
    assert len(won) == 3
    assert len(lost) == 5
    for exc in lost:
        assert ViolationCode.CLINICIAN_HOURS_EXCEEDED in codes(exc)
