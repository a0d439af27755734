"""The database is the last guard: overlapping active allocations of one resource lane, or
overlapping active bookings of one patient, are refused even when written around the app
(exclusion constraints on PostgreSQL, triggers on SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.adapters.db import load_health_system
from careflow.adapters.db.races import race_lost_from, translating_races
from careflow.adapters.db.tables import allocation, booking
from careflow.domain.health_system import HealthSystem
from careflow.domain.violations import ViolationCode

T = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)
H = timedelta(hours=1)


def booking_row(bid: str, patient: str, start: datetime, end: datetime,
                status: str = "booked") -> dict[str, Any]:
    return {"id": bid, "patient_id": patient, "service_id": "svc_lap", "site_id": "s1",
            "status": status, "start_at": start, "end_at": end, "urgency": "routine",
            "overrides": [], "version": 1}


def alloc_row(bid: str, start: datetime, end: datetime, lane: int = 0,
              active: bool = True, resource: str = "nurses") -> dict[str, Any]:
    return {"booking_id": bid, "resource_id": resource, "role": "nurse", "lane": lane,
            "start_at": start, "end_at": end, "active": active}


@pytest.fixture
def conn(engine: Engine, tiny: Callable[..., HealthSystem]) -> Any:
    load_health_system(engine, tiny(patients=4), replace=True)
    with engine.connect() as c, c.begin():
        c.execute(booking.insert(), [booking_row("b1", "p1", T, T + H),
                                     booking_row("b2", "p2", T, T + H)])
        c.execute(allocation.insert(), alloc_row("b1", T, T + H))
    with engine.connect() as c:
        yield c


def refused(conn: Connection, table: Any, row: dict[str, Any]) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, conn.begin():
        conn.execute(table.insert(), row)
    return caught.value


def accepted(conn: Connection, table: Any, row: dict[str, Any]) -> None:
    with conn.begin() as tx:
        conn.execute(table.insert(), row)
        tx.rollback()


def test_an_overlapping_active_allocation_on_the_same_lane_is_refused(conn: Connection) -> None:
    error = refused(conn, allocation, alloc_row("b2", T + H / 2, T + 2 * H))
    race = race_lost_from(error)
    assert race is not None
    assert [v.code for v in race.violations] == [ViolationCode.RESOURCE_BOOKED]


@pytest.mark.parametrize("row", [
    alloc_row("b2", T + H / 2, T + 2 * H, lane=1),  # another lane of the pool
    alloc_row("b2", T + H, T + 2 * H),  # touching, not overlapping: [) ranges
    alloc_row("b2", T - H, T),
    alloc_row("b2", T, T + H, active=False),  # released allocations do not count
    alloc_row("b2", T, T + H, resource="or1"),
])
def test_non_overlapping_or_inactive_allocations_are_accepted(conn: Connection,
                                                              row: dict[str, Any]) -> None:
    accepted(conn, allocation, row)


def test_a_patient_cannot_hold_two_overlapping_active_bookings(conn: Connection) -> None:
    error = refused(conn, booking, booking_row("b3", "p1", T + H / 2, T + 2 * H, "held"))
    race = race_lost_from(error)
    assert race is not None
    assert [v.code for v in race.violations] == [ViolationCode.PATIENT_DOUBLE_BOOKED]
    accepted(conn, booking, booking_row("b3", "p1", T + H / 2, T + 2 * H, "cancelled"))
    accepted(conn, booking, booking_row("b3", "p1", T + H, T + 2 * H))


def test_reactivating_into_an_overlap_is_refused_too(conn: Connection) -> None:
    reactivate = allocation.update().where(allocation.c.booking_id == "b2").values(active=True)
    with conn.begin():
        conn.execute(allocation.insert(), alloc_row("b2", T, T + H, active=False))
        with pytest.raises(IntegrityError):
            conn.execute(reactivate)


@pytest.mark.postgres
def test_postgres_refuses_a_raw_sql_overlap_with_exclusion_violation(
        postgres_url: str, tiny: Callable[..., HealthSystem]) -> None:
    import psycopg

    from careflow.adapters.db import make_engine, migrate

    migrate(postgres_url)
    engine = make_engine(postgres_url)
    load_health_system(engine, tiny(patients=4), replace=True)
    engine.dispose()
    with psycopg.connect(postgres_url) as pg:
        pg.execute("INSERT INTO booking (id, patient_id, service_id, site_id, status, start_at, "
                   "end_at, urgency, overrides, version) VALUES ('b1', 'p1', 'svc_lap', 's1', "
                   "'booked', %s, %s, 'routine', '[]', 1)", (T, T + H))
        pg.execute("INSERT INTO allocation (booking_id, resource_id, role, lane, start_at, end_at, "
                   "active) VALUES ('b1', 'or1', 'room', 0, %s, %s, true)", (T, T + H))
        with pytest.raises(psycopg.errors.ExclusionViolation):
            pg.execute("INSERT INTO allocation (booking_id, resource_id, role, lane, start_at, "
                       "end_at, active) VALUES ('b1', 'or1', 'room', 0, %s, %s, true)",
                       (T + H / 2, T + 2 * H))
        pg.rollback()
        with pytest.raises(psycopg.errors.ExclusionViolation):
            pg.execute("INSERT INTO booking (id, patient_id, service_id, site_id, status, "
                       "start_at, end_at, urgency, overrides, version) VALUES ('b1', 'p1', "
                       "'svc_lap', 's1', 'booked', %s, %s, 'routine', '[]', 1), ('b2', 'p1', "
                       "'svc_lap', 's1', 'held', %s, %s, 'routine', '[]', 1)",
                       (T, T + H, T + H / 2, T + 2 * H))


@pytest.mark.postgres
def test_a_postgres_deadlock_between_two_writers_is_a_lost_race(
        postgres_url: str, tiny: Callable[..., HealthSystem]) -> None:
    """Two cases take the same two resources in opposite orders: one is aborted and its
    writer sees ``RaceLost`` (retried by the use cases), not a driver error."""
    from careflow.adapters.db import make_engine, migrate

    migrate(postgres_url)
    engine = make_engine(postgres_url)
    load_health_system(engine, tiny(patients=4), replace=True)
    with engine.begin() as c:
        c.execute(booking.insert(), [booking_row("b1", "p1", T, T + H),
                                     booking_row("b2", "p2", T, T + H)])
    barrier = threading.Barrier(2)
    outcomes: list[BaseException | None] = []

    def writer(bid: str, first: str, second: str) -> None:
        try:
            with engine.connect() as c, c.begin(), translating_races():
                c.execute(allocation.insert(), alloc_row(bid, T, T + H, resource=first))
                barrier.wait()
                c.execute(allocation.insert(), alloc_row(bid, T, T + H, resource=second))
            outcomes.append(None)
        except BaseException as exc:  # asserted below
            outcomes.append(exc)

    threads = [threading.Thread(target=writer, args=("b1", "or1", "dr1")),
               threading.Thread(target=writer, args=("b2", "dr1", "or1"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    engine.dispose()
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "RaceLost"]
