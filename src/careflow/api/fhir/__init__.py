"""FHIR R4 at ``/fhir/r4``: metadata, read and search, the IHE scheduling operations, the
audit trail as AuditEvent and the SMART Scheduling Links publisher.

Mapping lives in ``careflow.adapters.fhir``; these routes check permissions, read
through the unit of work and the use cases, and answer every failure (an unknown path
included) as an OperationOutcome (``errors.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.routing import Match

from careflow.api.fhir import appointments, audit, catalog, metadata, operations, patients, publish, slots
from careflow.api.fhir.errors import FhirResponse, FhirRoute, outcome_response

__all__ = ["router"]

router = APIRouter(prefix="/fhir/r4", route_class=FhirRoute)
# Operations before reads: "/Appointment/$find" must not be read as an Appointment id.
for _module in (metadata, publish, operations, appointments, slots, patients, audit, catalog):
    router.include_router(_module.router)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
def unknown(path: str, request: Request) -> FhirResponse:
    """Anything else under /fhir/r4: an OperationOutcome, 405 for a known path, else 404."""
    known = [r for r in router.routes if getattr(r, "path", "") != "/fhir/r4/{path:path}"]
    allowed = [m for m in METHODS
               if any(r.matches({**request.scope, "method": m})[0] is Match.FULL for r in known)]
    if allowed:
        return outcome_response(405, "not-supported", f"{request.method} is not supported here",
                                headers={"Allow": ", ".join(allowed)})
    return outcome_response(404, "not-found", f"careflow serves no FHIR path {path!r}")
