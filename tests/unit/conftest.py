"""Unit tier: the real use cases over in-memory fakes, with the mini health system."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest puts only this directory on sys.path; the repository root makes ``tests.fakes``
# and ``tests.factories`` importable whatever the working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.factories import NOW, small_system
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.health_system import HealthSystem
from careflow.services.booking import BookingDeps
from careflow.services.catalogs import CatalogCache


@pytest.fixture
def system() -> HealthSystem:
    return small_system()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store(system: HealthSystem) -> FakeUnitOfWorkFactory:
    """The committed state of the fake stores; ``store.put(...)`` changes master data."""
    return FakeUnitOfWorkFactory.of(system)


@pytest.fixture
def deps(store: FakeUnitOfWorkFactory, clock: FixedClock) -> BookingDeps:
    return BookingDeps(uow=store, catalogs=CatalogCache(), clock=clock)
