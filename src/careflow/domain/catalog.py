"""The master-data snapshot: sites, resources and services, indexed, with capacity caching.

Master data changes rarely and is read on every request, so the service layer keeps one
immutable ``Catalog`` per master-data version and swaps it when the version moves.
Capacity profiles (templates expanded in local time, exceptions applied) are cached in
28-day pages per resource and site, which makes a 14-day search across the whole
network cheap after the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from careflow.domain.calendars import CapacityPiece, capacity_profile
from careflow.domain.errors import NotFound
from careflow.domain.ids import ResourceId, ServiceId, SiteId
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource, ResourceKind
from careflow.domain.sites import Site
from careflow.domain.timespans import Span

__all__ = ["Catalog"]

PAGE = 28 * 86400
T = TypeVar("T")


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
    _covers: dict[tuple[ResourceId, SiteId, int, int], list[CapacityPiece]] = field(default_factory=dict)
    _eligible: dict[tuple[object, ...], Any] = field(default_factory=dict)

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

    def _page(self, resource: Resource, site_id: SiteId, page: int) -> list[CapacityPiece]:
        key = (resource.id, site_id, page)
        pieces = self._pages.get(key)
        if pieces is None:
            pieces = capacity_profile(resource.availability, (page * PAGE, (page + 1) * PAGE),
                                      self.sites[site_id].zone, resource.capacity, site_id,
                                      resource.site_id)
            self._pages[key] = pieces
        return pieces

    def capacity_cover(self, resource: Resource, site_id: SiteId, window: Span) -> list[CapacityPiece]:
        """Capacity over whole cached pages covering ``window`` (at least the window; shared,
        do not mutate). Cheaper than ``capacity`` where pieces outside the window are harmless."""
        first, last = window[0] // PAGE, (window[1] - 1) // PAGE
        key = (resource.id, site_id, first, last)
        found = self._covers.get(key)
        if found is None:
            found = self.capacity(resource, site_id, (first * PAGE, (last + 1) * PAGE))
            self._covers[key] = found
        return found

    def memo(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        """Memoize a value derived from this catalog version (e.g. eligibility per role)."""
        if key not in self._eligible:
            self._eligible[key] = make()
        value: T = self._eligible[key]
        return value

    def capacity(self, resource: Resource, site_id: SiteId, window: Span) -> list[CapacityPiece]:
        """The resource's scheduled capacity at ``site_id`` over ``window`` (cached by page)."""
        out: list[CapacityPiece] = []
        for page in range(window[0] // PAGE, (window[1] - 1) // PAGE + 1):
            pieces = self._page(resource, site_id, page)
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
