"""Master-data writes (for the API and imports), each an upsert inside the caller's
transaction (e.g. ``SqlUnitOfWork.connection``; the caller commits and audits).

Sites, resources and services are the catalog: writing one bumps ``meta.master_version``
so every process's ``CatalogCache`` reloads. Patients, authorizations and stock are read
fresh in each transaction and are not part of the catalog, so they leave it alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.adapters.db import master_rows as rows
from careflow.adapters.db.tables import (
    META_MASTER_VERSION,
    authorization,
    meta,
    patient,
    resource,
    service,
    site,
    stock_item,
)
from careflow.domain.errors import InvalidRequest
from careflow.domain.patients import Authorization, Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource
from careflow.domain.sites import Site
from careflow.domain.stock import StockLevel

__all__ = ["SqlMasterWriter", "bump_master_version"]


def bump_master_version(conn: Connection) -> int:
    """Move the catalog version on (creating it at 1) and return the new value."""
    moved = conn.execute(update(meta).where(meta.c.key == META_MASTER_VERSION)
                         .values(number=meta.c.number + 1)).rowcount
    if not moved:
        conn.execute(meta.insert(), {"key": META_MASTER_VERSION, "value": "", "number": 1})
    return int(conn.execute(select(meta.c.number)
                            .where(meta.c.key == META_MASTER_VERSION)).scalar_one())


def _upsert(conn: Connection, table: Table, row: dict[str, Any], keep: tuple[str, ...] = ()) -> None:
    """Insert ``row`` or update the existing row with the same primary key."""
    keys = [c.name for c in table.primary_key.columns]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**row)
    changes = {k: stmt.excluded[k] for k in row if k not in keys and k not in keep}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


class SqlMasterWriter:
    """Upserts of master data on one connection (the caller's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def upsert_site(self, value: Site) -> int:
        """Create or replace a site; returns the new catalog version."""
        _upsert(self._conn, site, rows.site_row(value))
        return bump_master_version(self._conn)

    def upsert_resource(self, value: Resource) -> int:
        """Create or replace a resource; returns the new catalog version."""
        self._exists(site, value.site_id, "site_id")
        _upsert(self._conn, resource, rows.resource_row(value))
        return bump_master_version(self._conn)

    def upsert_service(self, value: Service) -> int:
        """Create or replace a service (its preference card); returns the new catalog version."""
        try:
            _upsert(self._conn, service, rows.service_row(value))
        except IntegrityError as exc:
            raise InvalidRequest(f"service code {value.code!r} is taken by another service",
                                 "code") from exc
        return bump_master_version(self._conn)

    def upsert_stock(self, value: StockLevel) -> None:
        """Create or update an item's on-hand, threshold and lead time; ``reserved`` is the
        ledger's (bookings' reservations) and is kept, so on hand may not drop below it."""
        self._exists(site, value.site_id, "site_id")
        row = rows.stock_row(value)
        row["reserved"] = 0
        try:
            with self._conn.begin_nested():
                _upsert(self._conn, stock_item, row, keep=("reserved",))
        except IntegrityError as exc:
            raise InvalidRequest(f"on hand of {value.sku} at {value.site_id} cannot go below "
                                 "the quantity reserved for bookings", "on_hand") from exc

    def upsert_patient(self, value: Patient) -> None:
        """Create or replace a patient."""
        _upsert(self._conn, patient, rows.patient_row(value))

    def upsert_authorization(self, value: Authorization) -> None:
        """Create or replace a payer authorization."""
        self._exists(patient, value.patient_id, "patient_id")
        _upsert(self._conn, authorization, rows.authorization_row(value))

    def _exists(self, table: Table, ident: str, field: str) -> None:
        found = self._conn.execute(select(func.count()).select_from(table)
                                   .where(table.c.id == ident)).scalar()
        if not found:
            raise InvalidRequest(f"{table.name} {ident!r} does not exist", field)
