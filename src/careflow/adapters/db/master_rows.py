"""Master data as table rows and back, through ``adapters.codec`` (one serializer only).

``*_row`` give the plain dicts the loader and the writers insert; ``*_from_row`` rebuild
domain objects from result rows by handing the codec the dict shape it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from careflow.adapters import codec
from careflow.domain.patients import Authorization, Patient
from careflow.domain.preference_cards import Service
from careflow.domain.resources import Resource
from careflow.domain.sites import Site
from careflow.domain.stock import StockLevel

__all__ = [
    "authorization_from_row",
    "authorization_row",
    "patient_from_row",
    "patient_row",
    "resource_from_row",
    "resource_row",
    "service_from_row",
    "service_row",
    "site_from_row",
    "site_row",
    "stock_from_row",
    "stock_row",
]

Row = Mapping[Any, Any]


def site_row(s: Site) -> dict[str, Any]:
    d = codec.site_to_dict(s)
    return {"id": d["id"], "name": d["name"], "kind": d["kind"], "timezone": d["timezone"],
            "lat": d["position"]["lat"], "lon": d["position"]["lon"], "languages": d["languages"]}


def site_from_row(r: Row) -> Site:
    return codec.site_from_dict({"id": r["id"], "name": r["name"], "kind": r["kind"],
                                 "timezone": r["timezone"],
                                 "position": {"lat": r["lat"], "lon": r["lon"]},
                                 "languages": r["languages"]})


def resource_row(res: Resource) -> dict[str, Any]:
    d = codec.resource_to_dict(res)
    return {k: d[k] for k in ("id", "site_id", "kind", "name", "capacity", "active", "profile",
                              "availability")}


def resource_from_row(r: Row) -> Resource:
    return codec.resource_from_dict(dict(r))


def service_row(s: Service) -> dict[str, Any]:
    return {"id": s.id, "code": s.code, "name": s.name, "kind": s.kind.value, "active": s.active,
            "card": codec.service_to_dict(s)}


def service_from_row(r: Row) -> Service:
    return codec.service_from_dict(r["card"])


def stock_row(s: StockLevel) -> dict[str, Any]:
    return codec.stock_to_dict(s)


def stock_from_row(r: Row) -> StockLevel:
    return codec.stock_from_dict(dict(r))


def patient_row(p: Patient) -> dict[str, Any]:
    d = codec.patient_to_dict(p)
    d["birth_date"] = p.birth_date
    return d


def patient_from_row(r: Row) -> Patient:
    d = dict(r)
    d["birth_date"] = d["birth_date"].isoformat()
    return codec.patient_from_dict(d)


def authorization_row(a: Authorization) -> dict[str, Any]:
    d = codec.authorization_to_dict(a)
    d["valid_from"], d["valid_to"] = a.valid_from, a.valid_to
    return d


def authorization_from_row(r: Row) -> Authorization:
    d = dict(r)
    for key in ("valid_from", "valid_to"):
        d[key] = d[key].isoformat() if d[key] is not None else None
    return codec.authorization_from_dict(d)
