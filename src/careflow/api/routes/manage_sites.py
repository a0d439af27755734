"""Management of sites: list, create, read, replace, patch, delete (``/api/v1/sites``)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AfterValidator

from careflow.adapters.codec import site_from_dict, site_to_dict
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
from careflow.api.schemas import ID_PATTERN, no_control_characters
from careflow.domain.sites import SiteKind
from careflow.services import management as use
from careflow.services.ports import Key

router = APIRouter(prefix="/api/v1", tags=["master data"], route_class=ManagementRoute)

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
SITES = Item(use.SITE, "/sites", site_to_dict, site_from_dict)


@router.get("/sites")
def list_sites(app: AppDep, actor: ActorDep, offset: Offset = 0, limit: Limit = 50,
               kind: SiteKind | None = None) -> dict[str, Any]:
    """Sites of the health system (those the caller may see), filtered by kind."""
    found = use.list_items(deps_of(app), actor, use.SITE, {"kind": kind}, offset, limit)
    return page_of(SITES, found, actor, offset, limit)


def site_key(site_id: PathId) -> Key:
    return (site_id,)


add_item_routes(router, SITES, site_key, "/sites/{site_id}", "site")
