"""Read-only master data: sites, resources, services, patients (paged)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from careflow.adapters.codec import patient_to_dict, resource_to_dict, service_to_dict, site_to_dict
from careflow.api.deps import AppDep
from careflow.api.schemas import ID_PATTERN, Page, clean_optional
from careflow.domain.resources import ResourceKind
from careflow.domain.violations import CODES

router = APIRouter(prefix="/api/v1", tags=["master data"])

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
ID_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN}
SEARCH_SCHEMA: dict[str, object] = {"pattern": ID_PATTERN.replace("+", "*")}  # empty: no filter
SiteFilter = Annotated[str | None, Query(min_length=1, max_length=200, json_schema_extra=ID_SCHEMA),
                       AfterValidator(clean_optional)]


def _page(rows: list[dict[str, Any]], offset: int, limit: int) -> Page[dict[str, Any]]:
    return Page[dict[str, Any]](items=rows[offset:offset + limit], total=len(rows), offset=offset,
                                limit=limit)


@router.get("/sites")
def list_sites(app: AppDep, offset: Offset = 0, limit: Limit = 50) -> Page[dict[str, Any]]:
    """Sites of the health system."""
    with app.deps.uow() as uow:
        catalog = app.deps.catalogs.get(uow)
    rows = [site_to_dict(s) for s in sorted(catalog.sites.values(), key=lambda s: s.id)]
    return _page(rows, offset, limit)


@router.get("/resources")
def list_resources(app: AppDep, offset: Offset = 0, limit: Limit = 50,
                   site_id: SiteFilter = None,
                   kind: ResourceKind | None = None) -> Page[dict[str, Any]]:
    """Resources, filtered by site and kind, with their profiles and availability."""
    with app.deps.uow() as uow:
        catalog = app.deps.catalogs.get(uow)
    chosen = [r for r in sorted(catalog.resources.values(), key=lambda r: r.id)
              if (site_id is None or r.site_id == site_id) and (kind is None or r.kind is kind)]
    return Page[dict[str, Any]](items=[resource_to_dict(r) for r in chosen[offset:offset + limit]],
                                total=len(chosen), offset=offset, limit=limit)


@router.get("/services")
def list_services(app: AppDep, offset: Offset = 0, limit: Limit = 50) -> Page[dict[str, Any]]:
    """Services with their preference cards."""
    with app.deps.uow() as uow:
        catalog = app.deps.catalogs.get(uow)
    rows = [service_to_dict(s) for s in sorted(catalog.services.values(), key=lambda s: s.id)]
    return _page(rows, offset, limit)


@router.get("/patients")
def list_patients(app: AppDep, offset: Offset = 0, limit: Limit = 50,
                  search: Annotated[str | None, Query(max_length=100, json_schema_extra=SEARCH_SCHEMA),
                                    AfterValidator(clean_optional)] = None) -> Page[dict[str, Any]]:
    """Patients (synthetic in the demo), searchable by id, MRN or name."""
    with app.deps.uow() as uow:
        patients, total = uow.master.patients(offset, limit, search)
    return Page[dict[str, Any]](items=[patient_to_dict(p) for p in patients], total=total,
                                offset=offset, limit=limit)


@router.get("/violation-codes")
def violation_codes() -> list[dict[str, str]]:
    """Every violation code with its severity, meaning and usual remedy."""
    return [{"code": code.value, "severity": info.severity.value, "meaning": info.meaning,
             "remedy": info.remedy} for code, info in CODES.items()]
