"""Validation and the envelopes: searchset Bundles and OperationOutcome.

Every resource careflow sends is built as a dict and passed through the matching
``fhir.resources.R4B`` model; what goes on the wire is that model's own JSON, so nothing
unvalidated leaves. ``FhirInvalid`` is raised when a mapping produced something the
model refuses (a bug in careflow, answered as a 500 OperationOutcome).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from careflow.domain.violations import Violation

__all__ = [
    "CAREFLOW",
    "FHIR_JSON",
    "FHIR_NDJSON",
    "VIOLATION_SYSTEM",
    "FhirInvalid",
    "instant",
    "operation_outcome",
    "parse",
    "searchset",
    "validated",
    "violation_issues",
]

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
CAREFLOW = "https://careflow.dev/fhir"
VIOLATION_SYSTEM = f"{CAREFLOW}/CodeSystem/violation"
JsonDict = dict[str, Any]


class FhirInvalid(Exception):
    """A resource that does not validate as R4 (careflow built it wrong, or a client sent it)."""


def parse(resource: JsonDict, resource_type: str | None = None) -> Any:
    """The ``fhir.resources`` model of ``resource`` (``FhirInvalid`` when it is not valid)."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str) or (resource_type is not None and kind != resource_type):
        raise FhirInvalid(f"expected a {resource_type or 'FHIR'} resource, got {kind!r}")
    try:
        model = get_fhir_model_class(kind)
    except KeyError as exc:
        raise FhirInvalid(f"unknown resourceType {kind!r}") from exc
    try:
        return model.model_validate(resource)
    except (ValidationError, ValueError, TypeError) as exc:
        raise FhirInvalid(f"{kind} is not valid: {_first_error(exc)}") from exc


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{where}: {err.get('msg')}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _pruned(value: Any) -> Any:
    """Without empty lists, objects and strings (FHIR forbids them; a mapping may make them)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [v for v in (_pruned(v) for v in value) if v not in (None, [], {}, "")]
    return value


def validated(resource: JsonDict) -> JsonDict:
    """``resource`` as its validated model writes it (empty and None fields dropped)."""
    doc: JsonDict = json.loads(parse(_pruned(resource)).model_dump_json())
    return doc


def instant(value: datetime) -> str:
    """An R4 instant in UTC with seconds (``2026-06-01T14:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def searchset(entries: Sequence[JsonDict], total: int, base: str, self_url: str,
              next_url: str | None = None, included: Iterable[JsonDict] = ()) -> JsonDict:
    """A searchset Bundle of already-built resources (validated here, as one Bundle)."""
    def entry(resource: JsonDict, mode: str) -> JsonDict:
        return {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource, "search": {"mode": mode}}

    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
              "entry": [entry(r, "match") for r in entries] + [entry(r, "include") for r in included]}
    if not bundle["entry"]:
        del bundle["entry"]
    return validated(bundle)


def violation_issues(violations: Iterable[Violation]) -> list[JsonDict]:
    """One OperationOutcome issue per violation: its code in ``details.coding``."""
    return [{
        "severity": "error" if v.is_hard else "warning",
        "code": "business-rule",
        "details": {"coding": [{"system": VIOLATION_SYSTEM, "code": v.code.value}],
                    "text": v.message},
        "diagnostics": f"{v.subject}: {v.remedy}",
    } for v in violations]


def operation_outcome(code: str, text: str, severity: str = "error",
                      issues: Sequence[JsonDict] = ()) -> JsonDict:
    """An OperationOutcome: a first issue saying what happened, then ``issues``."""
    first = {"severity": severity, "code": code, "diagnostics": text}
    return validated({"resourceType": "OperationOutcome", "issue": [first, *issues]})
