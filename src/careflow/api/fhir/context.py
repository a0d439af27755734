"""What the FHIR routes share: the catalog and responses (the audit of patient-linked
reads is ``api.security.audit_read``, shared with the REST routes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from careflow.api.fhir.errors import FhirResponse, FhirRoute
from careflow.bootstrap import App
from careflow.domain.catalog import Catalog

__all__ = ["catalog_of", "fhir_router", "ok"]


def fhir_router() -> APIRouter:
    """A router whose routes answer failures as OperationOutcome."""
    return APIRouter(route_class=FhirRoute, tags=["FHIR R4"], default_response_class=FhirResponse)


def catalog_of(app: App) -> Catalog:
    with app.deps.uow() as uow:
        return app.deps.catalogs.get(uow)


def ok(doc: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> FhirResponse:
    return FhirResponse(doc, status_code=status, headers=headers)
