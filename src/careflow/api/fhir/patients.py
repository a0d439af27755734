"""Patient read and search, by the minimum-necessary rule; every read is audited.

``patient.read`` gives the scheduling view; ``patient.read_clinical`` (or an active
break-glass) adds the MRN and home position. careflow keeps no link from a patient to a
site, so a site limit does not narrow patient reads (as on the REST API).
"""

from __future__ import annotations

from fastapi import Request

from careflow.adapters.fhir.capability import SEARCH
from careflow.adapters.fhir.ids import from_fhir_id
from careflow.adapters.fhir.patients import patient
from careflow.api.deps import ActorDep, AppDep
from careflow.api.fhir.context import fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import bundle, check_params, page_of, tokens
from careflow.api.security import audit_read
from careflow.domain.access import Permission
from careflow.domain.errors import InvalidRequest, NotFound
from careflow.domain.patients import Patient

__all__ = ["router"]

router = fhir_router()


def _view(actor: ActorDep) -> bool:
    """Whether the actor gets the clinical view (``patient.read`` is required either way)."""
    actor.require(Permission.PATIENT_READ)
    return actor.can(Permission.PATIENT_READ_CLINICAL)


@router.get("/Patient")
def search_patients(request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
    """Patients by ``_id`` or ``name`` (part of the name, the id or the MRN)."""
    clinical = _view(actor)
    check_params(request, SEARCH["Patient"])
    page = page_of(request)
    ids = [from_fhir_id(t) for t in tokens(request, "_id")]
    names = request.query_params.getlist("name")
    if len(names) > 1:
        raise InvalidRequest("give name once", "name")
    found: list[Patient]
    with app.deps.uow() as uow:
        if ids:
            found = [p for p in (uow.master.patient(i) for i in ids if i is not None) if p is not None]
            if names:
                found = [p for p in found if names[0].lower() in p.name.lower()]
            total = len(found)
            found = found[page.offset:page.offset + page.count]
        else:
            found, total = uow.master.patients(page.offset, page.count, names[0] if names else None)
    audit_read(app, actor, "patient.search", "patient", "", total=total, ids=[p.id for p in found][:50],
               view="clinical" if clinical else "minimal")
    return ok(bundle(request, [patient(p, clinical=clinical) for p in found], total, page))


@router.get("/Patient/{fhir_id}")
def read_patient(fhir_id: str, app: AppDep, actor: ActorDep) -> FhirResponse:
    """One patient: the scheduling view, or the clinical view with ``patient.read_clinical``."""
    clinical = _view(actor)
    ident = from_fhir_id(fhir_id)
    with app.deps.uow() as uow:
        found = uow.master.patient(ident) if ident is not None else None
    if found is None:
        raise NotFound("Patient", fhir_id)
    audit_read(app, actor, "patient.read", "patient", found.id, view="clinical" if clinical else "minimal")
    return ok(patient(found, clinical=clinical))
