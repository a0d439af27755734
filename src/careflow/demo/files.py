"""Reading a health-system file (YAML or JSON), as documented in docs/health-system-file.md.

Each section is a list read by the codec with its path (``resources[3]``) so that every
error names the exact field (``resources[3].profile.room_type``); then the file is
checked as a whole (``references``). Anything unreadable is an ``InvalidRequest`` too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from careflow.adapters.codec import (
    authorization_from_dict,
    authorization_to_dict,
    patient_from_dict,
    patient_to_dict,
    resource_from_dict,
    resource_to_dict,
    service_from_dict,
    service_to_dict,
    site_from_dict,
    site_to_dict,
    stock_from_dict,
    stock_to_dict,
)
from careflow.demo.booking_dicts import booking_from_dict, booking_to_dict
from careflow.demo.references import check_references
from careflow.demo.yamlsafe import load_yaml
from careflow.domain.errors import InvalidRequest
from careflow.domain.health_system import HealthSystem
from careflow.domain.preference_cards import Service

__all__ = ["SECTIONS", "load_file", "parse", "to_dict"]

T = TypeVar("T")
SECTIONS = ("sites", "resources", "services", "stock", "patients", "authorizations", "bookings")


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}", "file") from exc
    if path.suffix.lower() == ".json":
        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in pairs]
            dup = next((k for k in keys if keys.count(k) > 1), None)
            if dup is not None:
                raise InvalidRequest(f"{path}: duplicate key {dup!r}", "file")
            return dict(pairs)

        try:
            return json.loads(text, object_pairs_hook=no_duplicates)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                 f"column {exc.colno}", "file") from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"{path} is not valid YAML: {exc}", "file") from exc


def _section(data: dict[str, Any], key: str, read: Callable[[Any, str], T]) -> list[T]:
    raw = data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest(f"{key} must be a list", key)
    out: list[T] = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        try:
            out.append(read(item, where))
        except InvalidRequest as exc:
            if exc.field and exc.field.startswith(where):
                raise
            # Some domain constructors name only their own field (``valid_to``).
            field = f"{where}.{exc.field}" if exc.field else where
            raise InvalidRequest(f"{where}: {exc.message}", field) from exc
        except ValueError as exc:
            raise InvalidRequest(f"{where}: {exc}", where) from exc
    return out


def parse(data: Any, source: str = "health system") -> HealthSystem:
    """A health system from its dict form (the parsed file), fully validated."""
    if not isinstance(data, dict):
        raise InvalidRequest(f"{source} must be an object with name, sites, resources, ...", "file")
    unknown = sorted(set(data) - {"name", *SECTIONS})
    if unknown:
        raise InvalidRequest(f"unknown top-level key {unknown[0]!r} (expected name, "
                             f"{', '.join(SECTIONS)})", str(unknown[0]))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name is required and must be a non-empty string", "name")
    services = _section(data, "services", service_from_dict)
    by_id: dict[str, Service] = {s.id: s for s in services}
    hs = HealthSystem(
        name=name,
        sites=_section(data, "sites", site_from_dict),
        resources=_section(data, "resources", resource_from_dict),
        services=services,
        stock=_section(data, "stock", stock_from_dict),
        patients=_section(data, "patients", patient_from_dict),
        authorizations=_section(data, "authorizations", authorization_from_dict),
        bookings=_section(data, "bookings", lambda d, w: booking_from_dict(d, w, by_id)),
    )
    check_references(hs)
    return hs


def load_file(path: str | os.PathLike[str]) -> HealthSystem:
    """Read and validate a health-system file; ``.json`` is JSON, anything else YAML."""
    where = Path(path)
    return parse(_read(where), str(where))


def to_dict(hs: HealthSystem, bookings: bool = True) -> dict[str, Any]:
    """The file form of a health system (``json.dump`` it to write a file ``load_file`` reads)."""
    out: dict[str, Any] = {
        "name": hs.name,
        "sites": [site_to_dict(s) for s in hs.sites],
        "resources": [resource_to_dict(r) for r in hs.resources],
        "services": [service_to_dict(s) for s in hs.services],
        "stock": [stock_to_dict(s) for s in hs.stock],
        "patients": [patient_to_dict(p) for p in hs.patients],
        "authorizations": [authorization_to_dict(a) for a in hs.authorizations],
    }
    if bookings:
        out["bookings"] = [booking_to_dict(b) for b in hs.bookings]
    return out
