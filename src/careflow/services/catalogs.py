"""Keeps the current master-data ``Catalog`` and swaps it when the version moves."""

from __future__ import annotations

import threading

from careflow.domain.catalog import Catalog
from careflow.services.ports import UnitOfWork

__all__ = ["CatalogCache"]


class CatalogCache:
    """One catalog per master-data version, shared by all requests of a process."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def get(self, uow: UnitOfWork) -> Catalog:
        """The catalog as of the transaction's master-data version (reloaded when stale)."""
        version = uow.master.version()
        current = self._catalog
        if current is not None and current.version == version:
            return current
        with self._lock:
            current = self._catalog
            if current is None or current.version != version:
                current = uow.master.load_catalog()
                self._catalog = current
        return current

    def current(self) -> Catalog | None:
        """The catalog last loaded, without asking the database whether it is still
        current (for facts that do not go stale with master data, such as a site's zone)."""
        return self._catalog

    def invalidate(self) -> None:
        self._catalog = None
