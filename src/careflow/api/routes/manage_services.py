"""Management of services with their preference cards (roles, staff, room, equipment,
implants and supplies, prerequisites, bed, booking window): list, create, read, replace,
patch, delete (``/api/v1/services``). The preference card is the service's body; PATCH
changes part of it.

Services are system-wide: a site-limited actor may read them but not change them. A
service is deleted when it was never booked; otherwise DELETE retires it
(``active: false``).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from careflow.adapters.codec import service_from_dict, service_to_dict
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
from careflow.domain.preference_cards import ServiceKind
from careflow.services import management as use
from careflow.services.ports import Key

router = APIRouter(prefix="/api/v1", tags=["master data"], route_class=ManagementRoute)

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
SERVICES = Item(use.SERVICE, "/services", service_to_dict, service_from_dict)


@router.get("/services")
def list_services(app: AppDep, actor: ActorDep, offset: Offset = 0, limit: Limit = 50,
                  kind: ServiceKind | None = None, active: bool | None = None,
                  code: Annotated[str | None, Query(min_length=1, max_length=200,
                                                    json_schema_extra=ID_SCHEMA),
                                  AfterValidator(clean_optional)] = None) -> dict[str, Any]:
    """Services with their preference cards, filtered by kind, active and code."""
    filters = {"kind": kind, "active": active, "code": code}
    found = use.list_items(deps_of(app), actor, use.SERVICE, filters, offset, limit)
    return page_of(SERVICES, found, actor, offset, limit)


def service_key(service_id: PathId) -> Key:
    return (service_id,)


add_item_routes(router, SERVICES, service_key, "/services/{service_id}", "service")
