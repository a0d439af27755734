"""Read and search the directory: Location, Practitioner, PractitionerRole, Device,
HealthcareService and Schedule, from the master-data catalog.

Each type is a ``Kind``: the catalog objects it is made of, how one becomes a resource,
and its search parameters as predicates over those objects (so a page builds only the
resources it returns). An actor limited to some sites sees those sites' things only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from careflow.adapters.fhir import directory as fhir
from careflow.adapters.fhir.ids import to_fhir_id
from careflow.domain.access import Actor
from careflow.domain.catalog import Catalog
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site

__all__ = ["KINDS", "Kind", "served_by", "sites_of_service"]

Item = Site | Resource | Service
Pred = Callable[[Catalog, Item, list[str]], bool]
ROOMS = (ResourceKind.ROOM, ResourceKind.CHAIR, ResourceKind.BED)


def served_by(catalog: Catalog, resource: Resource) -> list[Service]:
    """The services a resource can serve (memoized per catalog version)."""
    return catalog.memo(("fhir-served-by", resource.id),
                        lambda: fhir.services_served_by(catalog, resource))


def sites_of_service(catalog: Catalog, service: Service) -> list[Site]:
    return [s for s in sorted(catalog.sites.values(), key=lambda s: s.id)
            if not service.site_kinds or s.kind in service.site_kinds]


def _site_of(item: Item) -> str | None:
    return item.id if isinstance(item, Site) else item.site_id if isinstance(item, Resource) else None


def _name(catalog: Catalog, item: Item, values: list[str]) -> bool:
    return any(v.lower() in item.name.lower() for v in values)


def _location(catalog: Catalog, item: Item, values: list[str]) -> bool:
    if isinstance(item, Service):
        return any(s.id in values for s in sites_of_service(catalog, item))
    if isinstance(item, Resource) and item.kind is ResourceKind.EQUIPMENT:
        return item.site_id in values or (item.equipment.room_id or "") in values
    return _site_of(item) in values


def _services(catalog: Catalog, item: Item) -> list[Service]:
    if isinstance(item, Service):
        return [item]
    return served_by(catalog, item) if isinstance(item, Resource) else []


def _service_type(catalog: Catalog, item: Item, values: list[str]) -> bool:
    return any(s.code in values or s.id in values for s in _services(catalog, item))


def _specialty(catalog: Catalog, item: Item, values: list[str]) -> bool:
    if isinstance(item, Service):
        return item.specialty in values
    return (isinstance(item, Resource) and item.kind is ResourceKind.CLINICIAN
            and bool(item.clinician.specialties & set(values)))


def _partof(catalog: Catalog, item: Item, values: list[str]) -> bool:
    return isinstance(item, Resource) and item.site_id in values


def _practitioner(catalog: Catalog, item: Item, values: list[str]) -> bool:
    return item.id in values


def _device_type(catalog: Catalog, item: Item, values: list[str]) -> bool:
    return isinstance(item, Resource) and item.equipment.equipment_type in values


def _active(catalog: Catalog, item: Item, values: list[str]) -> bool:
    active = item.active if isinstance(item, Resource | Service) else True
    return ("true" if active else "false") in values


def _actor(catalog: Catalog, item: Item, values: list[str]) -> bool:
    return item.id in values or (isinstance(item, Resource) and item.kind is not ResourceKind.ROOM
                                 and item.kind is not ResourceKind.CHAIR and item.site_id in values)


@dataclass(frozen=True)
class Kind:
    """A directory type: what it is made of, how one is built, how it is searched.
    ``refs`` names the search parameters that take references (the rest are tokens or strings)."""

    items: Callable[[Catalog], list[Item]]
    build: Callable[[Catalog, Any], dict[str, Any]]
    params: dict[str, Pred] = field(default_factory=dict)
    refs: frozenset[str] = frozenset()

    def visible(self, catalog: Catalog, actor: Actor) -> list[Item]:
        out = []
        for item in self.items(catalog):
            site = _site_of(item)
            if site is None or actor.may_see_site(site):
                out.append(item)
        return sorted(out, key=lambda i: to_fhir_id(i.id))


def _resources(*kinds: ResourceKind) -> Callable[[Catalog], list[Item]]:
    return lambda catalog: list(catalog.all_resources(kinds))


def _build_location(catalog: Catalog, item: Site | Resource) -> dict[str, Any]:
    if isinstance(item, Site):
        return fhir.location_of_site(item)
    return fhir.location_of_resource(item, catalog.sites[item.site_id])


KINDS: dict[str, Kind] = {
    "Location": Kind(lambda c: [*c.sites.values(), *c.all_resources(ROOMS)], _build_location,
                     {"name": _name, "partof": _partof}, frozenset({"partof"})),
    "Practitioner": Kind(_resources(ResourceKind.CLINICIAN), lambda c, r: fhir.practitioner(r),
                         {"name": _name}),
    "PractitionerRole": Kind(
        _resources(ResourceKind.CLINICIAN, ResourceKind.STAFF_POOL),
        lambda c, r: fhir.practitioner_role(r, c.sites[r.site_id], served_by(c, r)),
        {"practitioner": _practitioner, "location": _location, "specialty": _specialty,
         "service": _service_type}, frozenset({"practitioner", "location", "service"})),
    "Device": Kind(_resources(ResourceKind.EQUIPMENT), lambda c, r: fhir.device(r, c.sites[r.site_id]),
                   {"location": _location, "type": _device_type}, frozenset({"location"})),
    "HealthcareService": Kind(lambda c: list(c.services.values()),
                              lambda c, s: fhir.healthcare_service(s, sites_of_service(c, s)),
                              {"name": _name, "location": _location, "specialty": _specialty,
                               "service-type": _service_type, "active": _active},
                              frozenset({"location"})),
    "Schedule": Kind(lambda c: list(c.all_resources()),
                     lambda c, r: fhir.schedule(r, c.sites[r.site_id], served_by(c, r)),
                     {"actor": _actor, "service-type": _service_type, "specialty": _specialty,
                      "active": _active}, frozenset({"actor"})),
}
