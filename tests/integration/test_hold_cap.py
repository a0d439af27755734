"""The cap on open holds per patient holds under concurrency: eight schedulers hold eight
different times for one patient at the same instant, and exactly the cap succeeds.

On PostgreSQL the hold use case locks the patient's row before counting, so the writers
take turns; without the lock each would count the others' uncommitted holds as absent
and all eight would pass. On SQLite ``BEGIN IMMEDIATE`` serializes them anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine
from tests.concurrency import at_once

from careflow.adapters.db import SqlUnitOfWorkFactory, load_health_system
from careflow.domain.access import Actor
from careflow.domain.bookings import Allocation, Booking
from careflow.domain.commands import BookHold, PlaceHold
from careflow.domain.errors import Conflict
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import Option
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_hold, place_hold
from careflow.services.catalogs import CatalogCache

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # Monday
FIRST = datetime(2030, 1, 8, 13, 0, tzinfo=UTC)  # Tuesday 08:00 in New York
THREADS = 8
CAP = 3
ACTOR = Actor("scheduler-1", frozenset({"scheduler"}))


def option(start: datetime, patient: str = "p0") -> Option:
    end = start + timedelta(hours=1)
    return Option(ServiceId("svc_lap"), PatientId(patient), SiteId("s1"), start, end,
                  (Allocation(ResourceId("or1"), "room", start, end),
                   Allocation(ResourceId("dr1"), "surgeon", start, end)))


@pytest.fixture
def deps(engine: Engine, tiny: Callable[..., HealthSystem]) -> BookingDeps:
    hs = tiny(patients=2, mesh_on_hand=THREADS * 2)
    hs.stock = [replace(hs.stock[0], reorder_threshold=0)]
    hs.resources = [r for r in hs.resources if r.id in ("or1", "dr1")]
    hs.services = [s for s in hs.services if s.id == "svc_lap"]
    hs.patients = [replace(p, needs_interpreter=False) for p in hs.patients]
    load_health_system(engine, hs, replace=True)
    return BookingDeps(SqlUnitOfWorkFactory(engine, lambda: NOW), CatalogCache(), lambda: NOW,
                       max_open_holds=CAP)


def hold_all(deps: BookingDeps, options: list[Option]) -> tuple[list[Booking], list[BaseException]]:
    return at_once([partial(place_hold, PlaceHold(opt, ACTOR), deps) for opt in options])


def codes(exc: BaseException) -> set[ViolationCode]:
    assert isinstance(exc, Conflict), repr(exc)
    return {v.code for v in exc.violations}


def test_exactly_the_cap_of_eight_concurrent_holds_for_one_patient_succeeds(deps: BookingDeps) -> None:
    won, lost = hold_all(deps, [option(FIRST + timedelta(days=i)) for i in range(THREADS)])

    assert len(won) == CAP
    assert [codes(e) for e in lost] == [{ViolationCode.PATIENT_HOLD_LIMIT}] * (THREADS - CAP)


def test_the_cap_is_per_patient_and_booking_a_hold_frees_a_place(deps: BookingDeps) -> None:
    holds = [place_hold(PlaceHold(option(FIRST + timedelta(days=i)), ACTOR), deps) for i in range(CAP)]
    other = place_hold(PlaceHold(option(FIRST + timedelta(days=CAP), "p1"), ACTOR), deps)
    assert other.patient_id == "p1"
    with pytest.raises(Conflict) as refused:
        place_hold(PlaceHold(option(FIRST + timedelta(days=CAP + 1)), ACTOR), deps)
    assert codes(refused.value) == {ViolationCode.PATIENT_HOLD_LIMIT}

    book_hold(BookHold(holds[0].id, ACTOR), deps)

    place_hold(PlaceHold(option(FIRST + timedelta(days=CAP + 1)), ACTOR), deps)
