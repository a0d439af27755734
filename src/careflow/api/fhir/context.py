"""What the FHIR routes share: the catalog, the audit of patient-linked reads, responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from careflow.api.fhir.errors import FhirResponse, FhirRoute
from careflow.bootstrap import App
from careflow.domain.access import Actor
from careflow.domain.catalog import Catalog
from careflow.services.ports import AuditEntry

__all__ = ["audit_read", "catalog_of", "fhir_router", "ok"]


def fhir_router() -> APIRouter:
    """A router whose routes answer failures as OperationOutcome."""
    return APIRouter(route_class=FhirRoute, tags=["FHIR R4"], default_response_class=FhirResponse)


def catalog_of(app: App) -> Catalog:
    with app.deps.uow() as uow:
        return app.deps.catalogs.get(uow)


def ok(doc: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> FhirResponse:
    return FhirResponse(doc, status_code=status, headers=headers)


def audit_read(app: App, actor: Actor, action: str, entity_type: str, entity_id: str,
               **detail: Any) -> None:
    """A read of patient-linked data, in its own write transaction (ids only, never PHI)."""
    with app.deps.uow(write=True) as uow:
        uow.audit(AuditEntry(actor.id, action, entity_type, entity_id, "ok", detail=detail))
        uow.commit()
