"""Read and search for the directory types (Location, Practitioner, PractitionerRole,
Device, HealthcareService, Schedule): ``master.read``, within the actor's sites."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from careflow.adapters.fhir.capability import SEARCH
from careflow.adapters.fhir.ids import from_fhir_id
from careflow.api.deps import ActorDep, AppDep
from careflow.api.fhir.catalog_search import KINDS, Kind
from careflow.api.fhir.context import catalog_of, fhir_router, ok
from careflow.api.fhir.errors import FhirResponse
from careflow.api.fhir.params import bundle, check_params, page_of, references, tokens
from careflow.domain.access import Permission
from careflow.domain.errors import NotFound

__all__ = ["router"]

router = fhir_router()


def _values(request: Request, name: str, kind: Kind) -> list[str]:
    if name in kind.refs:
        return [ident for _, ident in references(request, name, _ref_types(name))]
    if name == "_id":
        return [i for i in (from_fhir_id(t) for t in tokens(request, name)) if i is not None] or ["\0"]
    return tokens(request, name)


def _ref_types(name: str) -> list[str]:
    return {"practitioner": ["Practitioner"], "service": ["HealthcareService"],
            "actor": ["Practitioner", "PractitionerRole", "Location", "Device"]}.get(name, ["Location"])


def _routes(type_name: str, kind: Kind) -> None:
    def search(request: Request, app: AppDep, actor: ActorDep) -> FhirResponse:
        actor.require(Permission.MASTER_READ)
        check_params(request, SEARCH[type_name])
        page = page_of(request)
        catalog = catalog_of(app)
        items = kind.visible(catalog, actor)
        for name in {k.partition(":")[0] for k in request.query_params}:
            if name == "_id":
                wanted = set(_values(request, name, kind))
                items = [i for i in items if i.id in wanted]
            elif name in kind.params:
                values = _values(request, name, kind)
                items = [i for i in items if kind.params[name](catalog, i, values)]
        chosen = items[page.offset:page.offset + page.count]
        entries: list[dict[str, Any]] = [kind.build(catalog, i) for i in chosen]
        return ok(bundle(request, entries, len(items), page))

    def read(fhir_id: str, app: AppDep, actor: ActorDep) -> FhirResponse:
        actor.require(Permission.MASTER_READ)
        ident = from_fhir_id(fhir_id)
        catalog = catalog_of(app)
        found = next((i for i in kind.visible(catalog, actor) if i.id == ident), None)
        if found is None:
            raise NotFound(type_name, fhir_id)
        return ok(kind.build(catalog, found))

    search.__doc__ = f"Search {type_name} (searchset Bundle)."
    read.__doc__ = f"Read one {type_name}."
    router.add_api_route(f"/{type_name}", search, methods=["GET"], name=f"fhir_search_{type_name}")
    router.add_api_route(f"/{type_name}/{{fhir_id}}", read, methods=["GET"], name=f"fhir_read_{type_name}")


for _type, _kind in KINDS.items():
    _routes(_type, _kind)
