"""``GET /fhir/r4/metadata``: the CapabilityStatement (public, as FHIR clients expect)."""

from __future__ import annotations

from fastapi import Request

from careflow.adapters.fhir.capability import capability_statement
from careflow.api.fhir.context import fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import fhir_base

__all__ = ["router"]

router = fhir_router()
VERSION = "0.1.0"
RELEASED = "2026-06-01"


@router.get("/metadata")
def metadata(request: Request) -> FhirResponse:
    """What this server implements: resources, search parameters, operations, security."""
    token_url = str(request.base_url).rstrip("/") + "/api/v1/token"
    return ok(capability_statement(fhir_base(request), VERSION, RELEASED, token_url))
