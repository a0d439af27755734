"""``GET /fhir/r4/AuditEvent``: the audit trail as FHIR AuditEvent (``audit.read``)."""

from __future__ import annotations

from fastapi import Request

from careflow.adapters.fhir.audit import AuditQuery, audit_event, search_audit
from careflow.adapters.fhir.capability import SEARCH
from careflow.api.deps import ActorDep, AppDep
from careflow.api.fhir.context import fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import bundle, check_params, date_bounds, page_of, tokens
from careflow.domain.access import Permission
from careflow.domain.errors import InvalidRequest, NotFound

__all__ = ["router"]

router = fhir_router()


def _single(request: Request, name: str) -> str | None:
    values = tokens(request, name)
    if len(values) > 1:
        raise InvalidRequest(f"give one {name}", name)
    return values[0] if values else None


def _entity(request: Request) -> tuple[str | None, str | None]:
    """``entity``: an id, or ``Type/id`` (the type then filters too)."""
    raw = _single(request, "entity")
    if raw is None:
        return None, _single(request, "entity-type")
    kind, _, ident = raw.rpartition("/")
    return ident, (kind.lower() or None) if kind else _single(request, "entity-type")


@router.get("/AuditEvent")
def search_audit_events(request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Audit entries by date, agent, entity and action, oldest first."""
    actor.require(Permission.AUDIT_READ)
    check_params(request, SEARCH["AuditEvent"])
    if app.engine is None:
        raise NotFound("AuditEvent", "(no database)")
    page = page_of(request)
    ge, lt = date_bounds(request, "date")
    entity, entity_type = _entity(request)
    agent = _single(request, "agent")
    query = AuditQuery(ge, lt, agent.rpartition("/")[2] if agent else None, entity, entity_type,
                       _single(request, "action"))
    ids = tokens(request, "_id")
    rows, total = search_audit(app.engine, query, page.offset, page.count, ids)
    return ok(bundle(request, [audit_event(r) for r in rows], total, page))


@router.get("/AuditEvent/{fhir_id}")
def read_audit_event(fhir_id: str, app: AppDep, actor: ActorDep) -> FhirResponse:
    """One audit entry (``ae-{id}``)."""
    actor.require(Permission.AUDIT_READ)
    if app.engine is None:
        raise NotFound("AuditEvent", fhir_id)
    rows, _ = search_audit(app.engine, AuditQuery(), 0, 1, [fhir_id])
    if not rows:
        raise NotFound("AuditEvent", fhir_id)
    return ok(audit_event(rows[0]))
