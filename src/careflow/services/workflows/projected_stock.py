"""A read-only view of the stores in which stock on order counts as on hand.

When a case is short of an implant, ``find`` (rightly) offers nothing at that site. To
know for which day to order, and whether the supplier's lead time makes that day, the
case workflow runs the same ``find`` on this view: the planned day is the best option
that would be feasible once the ordered items arrive. Nothing is written through it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

from careflow.domain.catalog import Catalog
from careflow.domain.events import Event
from careflow.domain.ids import PatientId, SiteId
from careflow.domain.patients import Authorization, Patient
from careflow.domain.stock import StockLevel
from careflow.services.ports import (
    AuditEntry,
    BookingStore,
    ExceptionStore,
    MasterStore,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = ["ProjectedStock"]

Incoming = Mapping[tuple[str, str], int]  # (site id, sku) → units on order


class _Master:
    def __init__(self, inner: MasterStore, incoming: Incoming) -> None:
        self._inner, self._incoming = inner, incoming

    def version(self) -> int:
        return self._inner.version()

    def load_catalog(self) -> Catalog:
        return self._inner.load_catalog()

    def patient(self, patient_id: str) -> Patient | None:
        return self._inner.patient(patient_id)

    def patients(self, offset: int, limit: int, search: str | None = None) -> tuple[list[Patient], int]:
        return self._inner.patients(offset, limit, search)

    def authorizations(self, patient_id: PatientId) -> list[Authorization]:
        return self._inner.authorizations(patient_id)

    def stock(self, site_id: SiteId, skus: Collection[str]) -> dict[str, StockLevel]:
        levels = self._inner.stock(site_id, skus)
        for sku in skus:
            extra = self._incoming.get((site_id, sku), 0)
            if extra:
                level = levels.get(sku) or StockLevel(site_id, sku, sku, 0)
                levels[sku] = replace(level, on_hand=level.on_hand + extra)
        return levels


class _Unit:
    def __init__(self, inner: UnitOfWork, incoming: Incoming) -> None:
        self._inner, self._incoming = inner, incoming

    def __enter__(self) -> Self:
        self._inner.__enter__()
        self.master: MasterStore = _Master(self._inner.master, self._incoming)
        self.bookings: BookingStore = self._inner.bookings
        self.exceptions: ExceptionStore = self._inner.exceptions
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        raise RuntimeError("the projected-stock view is read-only")

    def rollback(self) -> None:
        self._inner.rollback()

    def publish(self, events: Sequence[Event]) -> None:
        raise RuntimeError("the projected-stock view is read-only")

    def audit(self, entry: AuditEntry) -> None:
        raise RuntimeError("the projected-stock view is read-only")


class ProjectedStock:
    """A unit-of-work factory over ``inner`` that adds ``incoming`` units to on-hand stock."""

    def __init__(self, inner: UnitOfWorkFactory, incoming: Incoming) -> None:
        self._inner, self._incoming = inner, dict(incoming)

    def __call__(self, *, write: bool = False) -> UnitOfWork:
        if write:
            raise RuntimeError("the projected-stock view is read-only")
        return _Unit(self._inner(), self._incoming)
