"""Management of stock items (implants and supplies per site): list, create, read,
replace, patch, delete (``/api/v1/stock``, one item at ``/api/v1/stock/{site_id}/{sku}``).

``reserved`` is the booking ledger's: it is shown, and ignored on input (a new item starts
at 0; on hand may not go below what bookings reserve). An item that bookings reserved is
never deleted (set ``on_hand`` to 0 instead).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from careflow.adapters.codec import stock_from_dict, stock_to_dict
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
from careflow.services import management as use
from careflow.services.ports import Key

router = APIRouter(prefix="/api/v1", tags=["master data"], route_class=ManagementRoute)

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
Filter = Annotated[str | None, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(clean_optional)]
STOCK = Item(use.STOCK_ITEM, "/stock", stock_to_dict, stock_from_dict)


@router.get("/stock")
def list_stock(app: AppDep, actor: ActorDep, offset: Offset = 0, limit: Limit = 50,
               site_id: Filter = None, sku: Filter = None,
               below_threshold: bool | None = None) -> dict[str, Any]:
    """Stock items by site and SKU; ``below_threshold`` keeps those whose available
    quantity (on hand less reserved) is under their reorder threshold."""
    filters = {"site_id": site_id, "sku": sku, "below_threshold": below_threshold}
    found = use.list_items(deps_of(app), actor, use.STOCK_ITEM, filters, offset, limit)
    return page_of(STOCK, found, actor, offset, limit)


def stock_key(site_id: PathId, sku: PathId) -> Key:
    return (site_id, sku)


add_item_routes(router, STOCK, stock_key, "/stock/{site_id}/{sku}", "stock_item")
