"""What the management routes share: bodies in the health-system file's dict shape
(``adapters.codec``), ETag headers, JSON merge patch, and the routes of one kind.

Bodies are the codec's dict forms, so the management API and ``careflow seed --from FILE``
speak one shape; fields the codec does not know are refused (naming them), as every
other body in the API refuses unknown fields.
"""

# No ``from __future__ import annotations``: the routes ``add_item_routes`` builds
# annotate their parameters with names local to it, which FastAPI reads at runtime.
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from careflow.adapters.db.master_admin import admin_store
from careflow.api.deps import ActorDep, AppDep, needs
from careflow.api.errors import problem
from careflow.bootstrap import App
from careflow.domain.access import Actor
from careflow.domain.errors import InvalidRequest
from careflow.services import management as use
from careflow.services.ports import Key, Versioned

__all__ = ["ITEM_RESPONSES", "IfMatch", "Item", "ItemBody", "Limit", "ManagementRoute", "Offset",
           "add_item_routes", "deps_of", "merge_patch", "page_of", "parse", "parse_doc",
           "respond"]

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=2000,
                                       description="the item's current ETag (or *)")]
ItemBody = Annotated[dict[str, Any], Body(description="the item in the health-system file's shape")]
PatchBody = Annotated[dict[str, Any], Body(description="a JSON merge patch (RFC 7396) of the item",
                                           media_type="application/merge-patch+json")]
ITEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such item (or not at a site the caller may see)"},
    409: {"description": "the id is taken, or the item is still in use (`in_use` names what uses it)"},
    412: {"description": "If-Match is not the item's current ETag"},
    428: {"description": "If-Match is missing"},
}


class ManagementRoute(APIRoute):
    """Answers the management use cases' own refusals as problem+json: 412, 428 and 409
    with what still uses the item."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except use.PreconditionRequired as exc:
                return problem(428, "Precondition required", str(exc), "precondition-required",
                               request, field="If-Match")
            except use.PreconditionFailed as exc:
                return problem(412, "Precondition failed", str(exc), "precondition-failed",
                               request, field="If-Match")
            except use.ItemInUse as exc:
                uses = [{"what": u.what, "count": u.count, "ids": list(u.ids)} for u in exc.uses]
                return problem(409, "In use", exc.message, "in-use", request, in_use=uses)

        return answer


def deps_of(app: App) -> use.ManagementDeps:
    return use.ManagementDeps(uow=app.deps.uow, admin=admin_store, clock=app.deps.clock)


_INDEX = re.compile(r"\[(\d+)\]")


def _field(name: str | None) -> str:
    """A codec field path in the API's style: ``availability.blocks.0.end``."""
    return _INDEX.sub(r".\1", name or "body").lstrip(".") or "body"


def _unknown(given: Any, canonical: Any, path: str) -> str | None:
    """The first field of ``given`` that the canonical form does not have."""
    if isinstance(given, dict) and isinstance(canonical, dict):
        for key, value in given.items():
            name = f"{path}.{key}" if path else str(key)
            if key not in canonical:
                return name
            found = _unknown(value, canonical[key], name)
            if found:
                return found
    elif isinstance(given, list) and isinstance(canonical, list) and len(given) == len(canonical):
        for i, (a, b) in enumerate(zip(given, canonical, strict=True)):
            found = _unknown(a, b, f"{path}.{i}")
            if found:
                return found
    return None


@dataclass(frozen=True)
class Item:
    """One kind's wire form: the codec's converters and how it is addressed."""

    kind: use.Kind
    path: str  # the collection, e.g. "/sites"
    to_dict: Callable[[Any], dict[str, Any]]
    from_dict: Callable[[Any, str], Any]
    check: Callable[[Any], None] | None = None  # bounds the codec does not know
    view: Callable[[dict[str, Any], Actor], dict[str, Any]] | None = None  # what an actor sees

    def shown(self, item: Any, actor: Actor) -> dict[str, Any]:
        data = self.to_dict(item)
        return self.view(data, actor) if self.view else data

    def location(self, item: Any) -> str:
        return "/api/v1" + self.path + "/" + "/".join(quote(k, safe="") for k in self.kind.key_of(item))


def parse_doc(from_dict: Callable[[Any, str], Any], to_dict: Callable[[Any], Any], data: Any,
              prefix: str = "") -> Any:
    """The domain object for a body through the codec, or ``InvalidRequest`` naming the
    offending field (``prefix``, where the codec was handed the body, is taken off)."""
    try:
        item = from_dict(data, "")
    except InvalidRequest as exc:
        field = _field(exc.field).removeprefix(prefix) or "body"
        message = _INDEX.sub(r".\1", exc.message).lstrip(".").removeprefix(prefix)
        raise InvalidRequest(message, field) from exc
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidRequest(f"body: {exc}", "body") from exc
    unknown = _unknown(data, to_dict(item), "")
    if unknown:
        raise InvalidRequest(f"{unknown}: unknown field", unknown)
    return item


def parse(spec: Item, data: Any) -> Any:
    """The domain object for an item's body, or ``InvalidRequest`` naming the field."""
    item = parse_doc(spec.from_dict, spec.to_dict, data)
    if spec.check is not None:
        spec.check(item)
    return item


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def respond(spec: Item, found: Versioned, actor: Actor, code: int = 200,
            location: bool = False) -> JSONResponse:
    headers = {"ETag": found.etag}
    if location:
        headers["Location"] = spec.location(found.item)
    return JSONResponse(spec.shown(found.item, actor), status_code=code, headers=headers)


def page_of(spec: Item, found: tuple[list[Versioned], int], actor: Actor, offset: int,
            limit: int) -> dict[str, Any]:
    items, total = found
    return {"items": [spec.shown(v.item, actor) for v in items], "total": total,
            "offset": offset, "limit": limit}


def add_item_routes(router: APIRouter, spec: Item, key: Callable[..., Key], item_path: str,
                    name: str, prepare: Callable[[dict[str, Any], Any, Actor], dict[str, Any]]
                    | None = None) -> None:
    """POST on the collection; GET, PUT, PATCH and DELETE on ``item_path``.

    ``prepare(body, current, actor)`` may complete a replacement from the current item
    (fields the actor may not see are kept)."""
    KeyDep = Annotated[Key, Depends(key)]
    label = spec.kind.label

    def create(app: AppDep, actor: ActorDep, body: ItemBody) -> JSONResponse:
        saved = use.create_item(deps_of(app), actor, spec.kind, parse(spec, body))
        return respond(spec, saved, actor, status.HTTP_201_CREATED, location=True)

    def read(app: AppDep, actor: ActorDep, ident: KeyDep) -> JSONResponse:
        return respond(spec, use.get_item(deps_of(app), actor, spec.kind, ident), actor)

    def replace(app: AppDep, actor: ActorDep, ident: KeyDep, body: ItemBody,
                if_match: IfMatch = None) -> JSONResponse:
        def change(current: Any) -> Any:
            data = prepare(body, current, actor) if prepare else body
            return parse(spec, data)

        if prepare is None:
            parse(spec, body)  # bad input is refused before anything is locked
        saved = use.update_item(deps_of(app), actor, spec.kind, ident, if_match, change)
        return respond(spec, saved, actor)

    def patch(app: AppDep, actor: ActorDep, ident: KeyDep, body: PatchBody,
              if_match: IfMatch = None) -> JSONResponse:
        def change(current: Any) -> Any:
            return parse(spec, merge_patch(spec.to_dict(current), body))

        saved = use.update_item(deps_of(app), actor, spec.kind, ident, if_match, change)
        return respond(spec, saved, actor)

    def remove(app: AppDep, actor: ActorDep, ident: KeyDep, if_match: IfMatch = None) -> Response:
        retired = use.delete_item(deps_of(app), actor, spec.kind, ident, if_match)
        if retired is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        return respond(spec, retired, actor)

    create.__doc__ = f"Create a {label} (201 with Location and ETag; 409 when the id is taken)."
    read.__doc__ = f"One {label}, with its ETag."
    replace.__doc__ = f"Replace a {label}; needs If-Match (428 without, 412 when stale)."
    patch.__doc__ = f"Change some fields of a {label} (JSON merge patch); needs If-Match."
    remove.__doc__ = (f"Delete a {label}; needs If-Match. 409 names the active or future bookings "
                      "(or other items) that still use it." + (
                          " When only past bookings refer to it, it is retired instead "
                          "(`active: false`, 200 with the item); otherwise 204."
                          if spec.kind.retire else " 204 when deleted."))
    responses = ITEM_RESPONSES
    reading, writing = [needs(spec.kind.read)], [needs(spec.kind.write)]
    router.add_api_route(spec.path, create, methods=["POST"], name=f"create_{name}",
                         status_code=201, responses=responses, dependencies=writing)
    router.add_api_route(item_path, read, methods=["GET"], name=f"get_{name}", responses=responses,
                         dependencies=reading)
    router.add_api_route(item_path, replace, methods=["PUT"], name=f"replace_{name}",
                         responses=responses, dependencies=writing)
    router.add_api_route(item_path, patch, methods=["PATCH"], name=f"patch_{name}", responses=responses,
                         dependencies=writing)
    deleting = dict(responses)
    if spec.kind.retire:
        deleting[200] = {"description": "retired (`active: false`): past bookings refer to it"}
    router.add_api_route(item_path, remove, methods=["DELETE"], name=f"delete_{name}", status_code=204,
                         responses=deleting, dependencies=writing)
