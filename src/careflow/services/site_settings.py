"""Per-site settings: one versioned JSON value per (site, name), changed with a reason and audited.

Features own their names and validate their values before calling :func:`change_setting`:
``planning.weights`` (the admission plan's cost weights, planning) and
``predict.overbooking`` (overbooking mode and caps, predictions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.services.ports import AuditEntry, Clock, UnitOfWork, UnitOfWorkFactory

__all__ = ["SiteSetting", "SiteSettingStore", "change_setting", "read_setting"]


@dataclass(frozen=True, slots=True)
class SiteSetting:
    """A site's value for one setting, its version and who last changed it, when and why."""

    site_id: str
    name: str
    value: Mapping[str, Any]
    version: int
    updated_by: str
    updated_at: datetime
    reason: str = ""


class SiteSettingStore(Protocol):
    """Per-site settings."""

    def get(self, site_id: str, name: str, *, lock: bool = False) -> SiteSetting | None: ...

    def named(self, name: str) -> list[SiteSetting]: ...

    def put(self, setting: SiteSetting, expected_version: int | None) -> None:
        """Insert (``expected_version`` None) or replace the setting (optimistic on version)."""
        ...


StoreOf = Callable[[UnitOfWork], SiteSettingStore]


def read_setting(uow: UnitOfWork, store_of: StoreOf, site_id: str, name: str) -> SiteSetting | None:
    """The site's current value of ``name``, or None when the site keeps the default."""
    return store_of(uow).get(site_id, name)


def change_setting(uow_factory: UnitOfWorkFactory, store_of: StoreOf, clock: Clock, *, site_id: str,
                   name: str, value: Mapping[str, Any], actor: str, reason: str,
                   expected_version: int | None = None) -> SiteSetting:
    """Set the site's ``name`` to ``value`` (already validated by its owner), audited with the reason.

    ``expected_version`` guards against a lost update when given (``Conflict`` when stale).
    """
    if not reason.strip():
        raise InvalidRequest("a reason is required to change a site setting", field="reason")
    with uow_factory(write=True) as uow:
        if site_id not in uow.master.load_catalog().sites:
            raise NotFound("site", site_id)
        store = store_of(uow)
        current = store.get(site_id, name, lock=True)
        if expected_version is not None and (current.version if current else 0) != expected_version:
            raise Conflict(f"setting {name} of site {site_id} is at version "
                           f"{current.version if current else 0}, not {expected_version}")
        setting = SiteSetting(site_id=site_id, name=name, value=dict(value),
                              version=(current.version + 1) if current else 1, updated_by=actor,
                              updated_at=clock(), reason=reason.strip())
        store.put(setting, current.version if current else None)
        uow.audit(AuditEntry(actor=actor, action="site_setting.change", entity_type="site_setting",
                             entity_id=f"{site_id}/{name}", outcome="changed", reason=setting.reason,
                             detail={"site_id": site_id, "name": name, "version": setting.version,
                                     "before": dict(current.value) if current else None,
                                     "after": dict(setting.value)}))
        uow.commit()
    return setting
