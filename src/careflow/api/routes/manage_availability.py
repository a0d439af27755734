"""Availability of a resource: its weekly template blocks (site-local wall-clock time) and
its exceptions (absolute instants: vacations, call-outs, maintenance, closures, extra
sessions), under ``/api/v1/resources/{resource_id}/availability``.

They hang off the resource: every answer carries the resource's ETag, and a change needs
it in ``If-Match`` (adding a block or an exception does not: it is appended under the
resource's row lock). Blocks and exceptions are addressed by their position in the list,
which the ETag keeps honest: after any change, an old position's ETag is stale (412).
"""

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from careflow.adapters.codec import availability_from_dict, availability_to_dict
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.routes.manage_common import (
    ITEM_RESPONSES,
    IfMatch,
    ItemBody,
    ManagementRoute,
    deps_of,
    parse_doc,
)
from careflow.api.routes.manage_resources import check_resource
from careflow.api.schemas import ID_PATTERN, no_control_characters
from careflow.domain.access import Permission as P
from careflow.domain.calendars import Availability
from careflow.domain.errors import NotFound
from careflow.domain.resources import Resource
from careflow.services import management as use

router = APIRouter(prefix="/api/v1", tags=["master data"], route_class=ManagementRoute)

ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
PathId = Annotated[str, Path(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                   AfterValidator(no_control_characters)]
Index = Annotated[int, Path(ge=0, le=100_000, description="position in the list, from 0")]
BASE = "/resources/{resource_id}/availability"
PARTS = ("blocks", "exceptions")


def _part(part: str, body: Any) -> Any:
    """One block or exception from its dict form (fields named as in the body)."""
    doc = parse_doc(lambda data, where: availability_from_dict({part: [data]}, where),
                    lambda av: availability_to_dict(av)[part][0], body, f"{part}.0.")
    return getattr(doc, part)[0]


def _part_dict(part: str, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = availability_to_dict(Availability(**{part: (value,)}))[part][0]
    return doc


def _with(res: Resource, part: str, values: tuple[Any, ...]) -> Resource:
    changed = replace(res, availability=replace(res.availability, **{part: values}))
    check_resource(changed)
    return changed


def _at(res: Resource, part: str, index: int) -> Any:
    values = getattr(res.availability, part)
    if index >= len(values):
        raise NotFound(f"{part[:-1]} of resource {res.id!r} at", str(index))
    return values[index]


def _answer(body: Any, etag: str, code: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": etag} | ({"Location": location} if location else {})
    return JSONResponse(body, status_code=code, headers=headers)


@router.get(BASE, responses=ITEM_RESPONSES, dependencies=[needs(P.MASTER_READ)])
def get_availability(app: AppDep, actor: ActorDep, resource_id: PathId) -> JSONResponse:
    """The resource's template blocks and exceptions, with the resource's ETag."""
    found = use.get_item(deps_of(app), actor, use.RESOURCE, (resource_id,))
    return _answer(availability_to_dict(found.item.availability), found.etag)


@router.put(BASE, responses=ITEM_RESPONSES, dependencies=[needs(P.MASTER_WRITE)])
def replace_availability(app: AppDep, actor: ActorDep, resource_id: PathId, body: ItemBody,
                         if_match: IfMatch = None) -> JSONResponse:
    """Replace all blocks and exceptions; needs If-Match (the resource's ETag)."""
    availability = parse_doc(availability_from_dict, availability_to_dict, body)

    def change(res: Resource) -> Resource:
        changed = replace(res, availability=availability)
        check_resource(changed)
        return changed

    saved = use.update_item(deps_of(app), actor, use.RESOURCE, (resource_id,), if_match, change)
    return _answer(availability_to_dict(saved.item.availability), saved.etag)


def _add_part_routes(part: str) -> None:
    collection, item = f"{BASE}/{part}", f"{BASE}/{part}/{{index}}"
    one = part[:-1]

    def list_part(app: AppDep, actor: ActorDep, resource_id: PathId) -> JSONResponse:
        found = use.get_item(deps_of(app), actor, use.RESOURCE, (resource_id,))
        values = getattr(found.item.availability, part)
        return _answer([_part_dict(part, v) for v in values], found.etag)

    def add_part(app: AppDep, actor: ActorDep, resource_id: PathId, body: ItemBody) -> JSONResponse:
        value = _part(part, body)
        saved = use.update_item(deps_of(app), actor, use.RESOURCE, (resource_id,), "*",
                                lambda res: _with(res, part, (*getattr(res.availability, part), value)))
        index = len(getattr(saved.item.availability, part)) - 1
        location = "/api/v1" + item.format(resource_id=resource_id, index=index)
        return _answer(_part_dict(part, value), saved.etag, status.HTTP_201_CREATED, location)

    def get_part(app: AppDep, actor: ActorDep, resource_id: PathId, index: Index) -> JSONResponse:
        found = use.get_item(deps_of(app), actor, use.RESOURCE, (resource_id,))
        return _answer(_part_dict(part, _at(found.item, part, index)), found.etag)

    def replace_part(app: AppDep, actor: ActorDep, resource_id: PathId, index: Index, body: ItemBody,
                     if_match: IfMatch = None) -> JSONResponse:
        value = _part(part, body)

        def change(res: Resource) -> Resource:
            _at(res, part, index)
            values = list(getattr(res.availability, part))
            values[index] = value
            return _with(res, part, tuple(values))

        saved = use.update_item(deps_of(app), actor, use.RESOURCE, (resource_id,), if_match, change)
        return _answer(_part_dict(part, value), saved.etag)

    def delete_part(app: AppDep, actor: ActorDep, resource_id: PathId, index: Index,
                    if_match: IfMatch = None) -> Response:
        def change(res: Resource) -> Resource:
            _at(res, part, index)
            values = getattr(res.availability, part)
            return _with(res, part, values[:index] + values[index + 1:])

        saved = use.update_item(deps_of(app), actor, use.RESOURCE, (resource_id,), if_match, change)
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"ETag": saved.etag})

    list_part.__doc__ = f"The resource's {part}, in order, with the resource's ETag."
    add_part.__doc__ = f"Append a {one} (201; Location names its position)."
    get_part.__doc__ = f"One {one} by position, with the resource's ETag."
    replace_part.__doc__ = f"Replace the {one} at a position; needs If-Match (the resource's ETag)."
    delete_part.__doc__ = f"Remove the {one} at a position; needs If-Match (the resource's ETag)."
    for path, fn, method, code in ((collection, list_part, "GET", 200), (collection, add_part, "POST", 201),
                                   (item, get_part, "GET", 200), (item, replace_part, "PUT", 200),
                                   (item, delete_part, "DELETE", 204)):
        permission = P.MASTER_READ if method == "GET" else P.MASTER_WRITE
        router.add_api_route(path, fn, methods=[method], status_code=code, responses=ITEM_RESPONSES,
                             name=f"{fn.__name__}_{one}", dependencies=[needs(permission)])


for _part_name in PARTS:
    _add_part_routes(_part_name)
