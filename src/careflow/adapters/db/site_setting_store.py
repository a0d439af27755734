"""``SiteSettingStore`` on SQL (SQLite and PostgreSQL alike); optimistic on ``version``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from careflow.adapters.db.tables import site_setting as t
from careflow.services.ports import RaceLost, UnitOfWork
from careflow.services.site_settings import SiteSetting

__all__ = ["SqlSiteSettingStore", "site_settings_of"]


def _setting(row: RowMapping) -> SiteSetting:
    return SiteSetting(site_id=row["site_id"], name=row["name"], value=dict(row["value"]),
                       version=row["version"], updated_by=row["updated_by"], updated_at=row["updated_at"],
                       reason=row["reason"])


def _row(s: SiteSetting) -> dict[str, Any]:
    return {"site_id": s.site_id, "name": s.name, "value": dict(s.value), "version": s.version,
            "updated_by": s.updated_by, "updated_at": s.updated_at, "reason": s.reason}


class SqlSiteSettingStore:
    """Per-site settings in the ``site_setting`` table."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, site_id: str, name: str, *, lock: bool = False) -> SiteSetting | None:
        stmt = select(t).where(t.c.site_id == site_id, t.c.name == name)
        if lock:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().first()
        return _setting(row) if row is not None else None

    def named(self, name: str) -> list[SiteSetting]:
        stmt = select(t).where(t.c.name == name).order_by(t.c.site_id)
        return [_setting(r) for r in self._conn.execute(stmt).mappings()]

    def put(self, setting: SiteSetting, expected_version: int | None) -> None:
        if expected_version is None:
            self._conn.execute(t.insert().values(**_row(setting)))
            return
        values = _row(setting)
        stmt = (update(t).where(t.c.site_id == setting.site_id, t.c.name == setting.name,
                                t.c.version == expected_version).values(**values))
        if self._conn.execute(stmt).rowcount != 1:
            raise RaceLost(f"setting {setting.name} of site {setting.site_id} was changed concurrently")


def site_settings_of(uow: UnitOfWork) -> SqlSiteSettingStore:
    """The site setting store on a SQL unit of work's connection."""
    return SqlSiteSettingStore(uow.connection)  # type: ignore[attr-defined]
