"""The master-data snapshot: sites, resources and services, indexed, with capacity caching.

Master data changes rarely and is read on every request, so the service layer keeps one
immutable ``Catalog`` per master-data version and swaps it when the version moves.
Capacity profiles (templates expanded in local time, exceptions applied) are cached in
28-day pages per resource and site, which makes a 14-day search across the whole
network cheap after the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from careflow.domain.calendars import CapacityPiece, capacity_profile
from careflow.domain.errors import NotFound
from careflow.domain.ids import ResourceId, ServiceId, SiteId
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site
from careflow.domain.timespans import Span

__all__ = ["Catalog"]

PAGE = 28 * 86400


@dataclass
class Catalog:
    """An indexed, immutable view of the health system's master data at one version."""

    version: int
    sites: Mapping[SiteId, Site]
    resources: Mapping[ResourceId, Resource]
    services: Mapping[ServiceId, Service]
    _by_site_kind: dict[tuple[SiteId, ResourceKind], list[Resource]] = field(default_factory=dict)
    _clinicians_at: dict[SiteId, list[Resource]] = field(default_factory=dict)
    _pages: dict[tuple[ResourceId, SiteId, int], list[CapacityPiece]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in sorted(self.resources.values(), key=lambda r: r.id):
            self._by_site_kind.setdefault((r.site_id, r.kind), []).append(r)
            if r.kind is ResourceKind.CLINICIAN:
                sites = {b.site_id or r.site_id for b in r.availability.blocks} | {r.site_id}
                for s in sites:
                    self._clinicians_at.setdefault(s, []).append(r)

    def site(self, site_id: str) -> Site:
        try:
            return self.sites[SiteId(site_id)]
        except KeyError:
            raise NotFound("site", site_id) from None

    def resource(self, resource_id: str) -> Resource:
        try:
            return self.resources[ResourceId(resource_id)]
        except KeyError:
            raise NotFound("resource", resource_id) from None

    def service(self, service_id: str) -> Service:
        found = self.services.get(ServiceId(service_id))
        if found is None:
            found = next((s for s in self.services.values() if s.code == service_id), None)
        if found is None:
            raise NotFound("service", service_id)
        return found

    def at_site(self, site_id: SiteId, kind: ResourceKind) -> list[Resource]:
        """Resources of a kind at a site; for clinicians, those with blocks there."""
        if kind is ResourceKind.CLINICIAN:
            return self._clinicians_at.get(site_id, [])
        return self._by_site_kind.get((site_id, kind), [])

    def capacity(self, resource: Resource, site_id: SiteId, window: Span) -> list[CapacityPiece]:
        """The resource's scheduled capacity at ``site_id`` over ``window`` (cached by page)."""
        zone = self.sites[site_id].zone
        out: list[CapacityPiece] = []
        for page in range(window[0] // PAGE, (window[1] - 1) // PAGE + 1):
            key = (resource.id, site_id, page)
            pieces = self._pages.get(key)
            if pieces is None:
                pieces = capacity_profile(resource.availability, (page * PAGE, (page + 1) * PAGE),
                                          zone, resource.capacity, site_id, resource.site_id)
                self._pages[key] = pieces
            for p in pieces:
                lo, hi = max(p.start, window[0]), min(p.end, window[1])
                if lo >= hi:
                    continue
                if out and out[-1].end == lo and out[-1].count == p.count:
                    out[-1] = CapacityPiece(out[-1].start, hi, p.count)
                else:
                    out.append(CapacityPiece(lo, hi, p.count))
        return out

    def all_resources(self, kinds: Iterable[ResourceKind] | None = None) -> list[Resource]:
        wanted = set(kinds) if kinds is not None else None
        return [r for r in self.resources.values() if wanted is None or r.kind in wanted]
