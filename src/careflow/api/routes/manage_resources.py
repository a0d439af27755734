"""Management of resources (clinicians, rooms, chairs, beds, equipment, staff pools):
list, create, read, replace, patch, delete (``/api/v1/resources``).

A resource is deleted when nothing ever booked it; when past bookings did, DELETE
retires it (``active: false``) so their history keeps its resources.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from careflow.adapters.codec import resource_from_dict, resource_to_dict
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
from careflow.api.schemas import ID_PATTERN, MAX_LANE, clean_optional, no_control_characters
from careflow.domain.errors import InvalidRequest
from careflow.domain.resources import Resource, ResourceKind
from careflow.services import management as use
from careflow.services.ports import Key

router = APIRouter(prefix="/api/v1", tags=["master data"], route_class=ManagementRoute)

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
SiteFilter = Annotated[str | None, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                       AfterValidator(clean_optional)]


def check_resource(res: Resource) -> None:
    """Capacities are lanes; no resource has more than ``MAX_LANE`` units."""
    if res.capacity > MAX_LANE:
        raise InvalidRequest(f"capacity must be at most {MAX_LANE}", "capacity")
    for i, block in enumerate(res.availability.blocks):
        if block.capacity > MAX_LANE:
            raise InvalidRequest(f"capacity must be at most {MAX_LANE}",
                                 f"availability.blocks.{i}.capacity")


RESOURCES = Item(use.RESOURCE, "/resources", resource_to_dict, resource_from_dict, check_resource)


@router.get("/resources")
def list_resources(app: AppDep, actor: ActorDep, offset: Offset = 0, limit: Limit = 50,
                   site_id: SiteFilter = None, kind: ResourceKind | None = None,
                   active: bool | None = None) -> dict[str, Any]:
    """Resources with their profiles and availability, filtered by site, kind and active."""
    filters = {"site_id": site_id, "kind": kind, "active": active}
    found = use.list_items(deps_of(app), actor, use.RESOURCE, filters, offset, limit)
    return page_of(RESOURCES, found, actor, offset, limit)


def resource_key(resource_id: PathId) -> Key:
    return (resource_id,)


add_item_routes(router, RESOURCES, resource_key, "/resources/{resource_id}", "resource")
