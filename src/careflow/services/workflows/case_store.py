"""The port the surgical case workflow keeps its record through (adapters/db/case_store.py).

A store works on the connection of one unit of work, so a step's change to the case, the
exception-queue items it raises, its audit entries and its outbox events commit together:
``WorkflowDeps.cases`` turns a unit of work into its ``CaseStore`` (the pattern of the
event inbox in services/dispatch.py).
"""

from __future__ import annotations

from typing import Protocol

from careflow.domain.surgical_cases import PurchaseRequest, SurgicalCase

__all__ = ["CaseStore"]


class CaseStore(Protocol):
    def add(self, case: SurgicalCase) -> None: ...

    def get(self, case_id: str, *, lock: bool = False) -> SurgicalCase | None:
        """The case, or None; ``lock`` holds its row until commit (``FOR UPDATE``)."""
        ...

    def save(self, case: SurgicalCase, expected_version: int) -> None:
        """Write the case if its stored version is still ``expected_version`` (else ``RaceLost``)."""
        ...

    def find(self, status: str | None, patient_id: str | None, offset: int,
             limit: int) -> tuple[list[SurgicalCase], int]:
        """A page, newest first, and the total."""
        ...

    def waiting_for(self, what: str, patient_id: str | None = None,
                    service_id: str | None = None) -> list[str]:
        """Ids of waiting cases whose ``waiting_for`` names ``what``."""
        ...

    def with_status(self, status: str, limit: int = 1000) -> list[str]: ...

    def add_purchase(self, request: PurchaseRequest) -> None: ...

    def save_purchase(self, request: PurchaseRequest) -> None: ...

    def purchases(self, case_id: str) -> list[PurchaseRequest]: ...

    def open_purchases(self, site_id: str, sku: str) -> list[PurchaseRequest]: ...
