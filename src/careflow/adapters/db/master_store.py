"""``MasterStore`` on SQL: the catalog, patients, authorizations and stock levels.

``meta.master_version`` is the catalog's version. It moves on every write of sites,
resources or services (the catalog's contents), so each process's ``CatalogCache``
reloads then. Patients, authorizations and stock are not in the catalog: they are read
fresh in every transaction, so their writes need not (and do not) move the version; a
bump would make every process reload the whole catalog on each patient update.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

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
from careflow.domain.catalog import Catalog
from careflow.domain.ids import PatientId, SiteId
from careflow.domain.patients import Authorization, Patient
from careflow.domain.stock import StockLevel

__all__ = ["SqlMasterStore", "read_master_version"]


def read_master_version(conn: Connection) -> int:
    """The current master-data (catalog) version; 0 on an empty database."""
    value = conn.execute(select(meta.c.number).where(meta.c.key == META_MASTER_VERSION)).scalar()
    return int(value or 0)


class SqlMasterStore:
    """Master data read inside one unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def version(self) -> int:
        """The catalog version, as seen by this transaction."""
        return read_master_version(self._conn)

    def load_catalog(self) -> Catalog:
        """Every site, resource and service, at the current version."""
        conn = self._conn
        version = read_master_version(conn)
        sites = [rows.site_from_row(r) for r in conn.execute(select(site)).mappings()]
        resources = [rows.resource_from_row(r)
                     for r in conn.execute(select(resource)).mappings()]
        services = [rows.service_from_row(r) for r in conn.execute(select(service)).mappings()]
        return Catalog(version, {s.id: s for s in sites}, {r.id: r for r in resources},
                       {s.id: s for s in services})

    def patient(self, patient_id: str) -> Patient | None:
        """One patient, or None when the id is unknown."""
        row = self._conn.execute(select(patient).where(patient.c.id == patient_id)).mappings().first()
        return None if row is None else rows.patient_from_row(row)

    def patients(self, offset: int, limit: int,
                 search: str | None = None) -> tuple[list[Patient], int]:
        """A page of patients by id, and the total; ``search`` matches id, MRN or name."""
        where = []
        if search:
            escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            where.append(or_(*(func.lower(col).like(pattern, escape="\\")
                               for col in (patient.c.id, patient.c.mrn, patient.c.name))))
        total = self._conn.execute(select(func.count()).select_from(patient).where(*where)).scalar()
        page = self._conn.execute(select(patient).where(*where).order_by(patient.c.id)
                                  .offset(offset).limit(limit)).mappings()
        return [rows.patient_from_row(r) for r in page], int(total or 0)

    def authorizations(self, patient_id: PatientId) -> list[Authorization]:
        """The patient's payer authorizations."""
        result = self._conn.execute(select(authorization)
                                    .where(authorization.c.patient_id == patient_id)
                                    .order_by(authorization.c.id)).mappings()
        return [rows.authorization_from_row(r) for r in result]

    def stock(self, site_id: SiteId, skus: Collection[str]) -> dict[str, StockLevel]:
        """Stock levels of ``skus`` at the site (absent items are left out)."""
        if not skus:
            return {}
        result = self._conn.execute(select(stock_item).where(
            stock_item.c.site_id == site_id, stock_item.c.sku.in_(list(skus)))).mappings()
        return {r["sku"]: rows.stock_from_row(r) for r in result}
