"""Management of patients and their payer authorizations: list, create, read, replace,
patch, delete (``/api/v1/patients``, ``/api/v1/authorizations``). Every read is audited.

"Minimum necessary": with ``patient.read`` only, a patient shows what scheduling needs
(``services.management.project_patient``); ``patient.read_clinical`` adds MRN, home,
isolation, prep dates, usual clinicians and the e-mail contact. ``readiness`` (the codes of completed prep
items) is derived and ignored on input. A replacement by an actor who cannot see the
clinical fields keeps them as they are. Deleting a patient deletes their authorizations;
a patient with bookings (past or future) is never deleted.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from careflow.adapters.codec import (
    authorization_from_dict,
    authorization_to_dict,
    patient_from_dict,
    patient_to_dict,
)
from careflow.api.deps import ActorDep, AppDep
from careflow.api.routes.manage_common import (
    Item,
    Limit,
    ManagementRoute,
    Offset,
    add_item_routes,
    deps_of,
    page_of,
)
from careflow.api.schemas import ID_PATTERN, clean_optional, no_control_characters
from careflow.domain.access import Actor, Permission
from careflow.domain.patients import AuthorizationStatus, Patient
from careflow.services import management as use
from careflow.services.ports import Key

router = APIRouter(prefix="/api/v1", tags=["patients"], route_class=ManagementRoute)

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
SEARCH_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN.replace("+", "*")}  # empty: no filter
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
Filter = Annotated[str | None, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(clean_optional)]
CLINICAL = ("mrn", "home", "isolation_required", "completed_prep", "usual_clinicians", "email")


def _patient_dict(p: Patient) -> dict[str, Any]:
    return {**patient_to_dict(p), "readiness": sorted(p.completed_prep)}


def _patient_from(data: Any, where: str) -> Patient:
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "readiness"}
    return patient_from_dict(data, where)


def _keep_clinical(body: dict[str, Any], current: Any, actor: Actor) -> dict[str, Any]:
    """A replacement by an actor without the clinical view keeps the clinical fields."""
    if actor.can(Permission.PATIENT_READ_CLINICAL):
        return body
    hidden = {k: v for k, v in patient_to_dict(current).items() if k in CLINICAL}
    return {**hidden, **body}


PATIENTS = Item(use.PATIENT, "/patients", _patient_dict, _patient_from, view=use.project_patient)
AUTHORIZATIONS = Item(use.AUTHORIZATION, "/authorizations", authorization_to_dict,
                      authorization_from_dict)


@router.get("/patients")
def list_patients(app: AppDep, actor: ActorDep, offset: Offset = 0, limit: Limit = 50,
                  search: Annotated[str | None, Query(max_length=100, json_schema_extra=SEARCH_SCHEMA),
                                    AfterValidator(clean_optional)] = None) -> dict[str, Any]:
    """Patients (synthetic in the demo), searchable by id, MRN or name; the fields shown
    depend on the caller's permissions. Audited (ids only)."""
    found = use.list_items(deps_of(app), actor, use.PATIENT, {"search": search}, offset, limit)
    return page_of(PATIENTS, found, actor, offset, limit)


@router.get("/authorizations")
def list_authorizations(app: AppDep, actor: ActorDep, offset: Offset = 0, limit: Limit = 50,
                        patient_id: Filter = None, service_id: Filter = None,
                        status: AuthorizationStatus | None = None) -> dict[str, Any]:
    """Payer authorizations by patient, service and status. Audited (ids only)."""
    filters = {"patient_id": patient_id, "service_id": service_id, "status": status}
    found = use.list_items(deps_of(app), actor, use.AUTHORIZATION, filters, offset, limit)
    return page_of(AUTHORIZATIONS, found, actor, offset, limit)


def patient_key(patient_id: PathId) -> Key:
    return (patient_id,)


def authorization_key(authorization_id: PathId) -> Key:
    return (authorization_id,)


add_item_routes(router, PATIENTS, patient_key, "/patients/{patient_id}", "patient", _keep_clinical)
add_item_routes(router, AUTHORIZATIONS, authorization_key, "/authorizations/{authorization_id}",
                "authorization")
