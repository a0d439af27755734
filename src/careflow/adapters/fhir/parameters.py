"""Reading an operation's ``Parameters`` (validated as R4 first).

Every getter names the parameter it refuses (``InvalidRequest`` with the name as the
field), so a client learns which input is wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careflow.adapters.fhir.ids import reference_id
from careflow.adapters.fhir.wire import FhirInvalid, parse
from careflow.domain.errors import InvalidRequest

__all__ = ["Params"]

JsonDict = dict[str, Any]


class Params:
    """The ``parameter`` entries of a Parameters resource, by name."""

    def __init__(self, body: Any) -> None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise InvalidRequest("the body must be a FHIR Parameters resource", "resourceType")
        try:
            parse(body, "Parameters")
        except FhirInvalid as exc:
            raise InvalidRequest(str(exc), "body") from exc
        self._by_name: dict[str, list[JsonDict]] = {}
        for p in body.get("parameter") or []:
            self._by_name.setdefault(str(p.get("name")), []).append(p)

    def names(self) -> set[str]:
        return set(self._by_name)

    def _all(self, name: str) -> list[JsonDict]:
        return self._by_name.get(name, [])

    def _value(self, p: JsonDict, name: str) -> Any:
        for key, value in p.items():
            if key.startswith("value"):
                return value
        raise InvalidRequest(f"parameter {name} has no value", name)

    def one(self, name: str) -> JsonDict | None:
        found = self._all(name)
        if len(found) > 1:
            raise InvalidRequest(f"give parameter {name} once", name)
        return found[0] if found else None

    def strings(self, name: str) -> list[str]:
        """String, code or token-like values (a Coding or CodeableConcept gives its codes)."""
        out: list[str] = []
        for p in self._all(name):
            value = self._value(p, name)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict):
                codings = value.get("coding") or ([value] if "code" in value else [])
                out += [str(c["code"]) for c in codings if c.get("code")]
                if not codings and value.get("text"):
                    out.append(str(value["text"]))
        return out

    def string(self, name: str) -> str | None:
        values = self.strings(name)
        if len(values) > 1:
            raise InvalidRequest(f"give parameter {name} once", name)
        return values[0] if values else None

    def instant(self, name: str, required: bool = False) -> datetime | None:
        p = self.one(name)
        if p is None:
            if required:
                raise InvalidRequest(f"parameter {name} is required", name)
            return None
        raw = self._value(p, name)
        try:
            value = datetime.fromisoformat(str(raw))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise InvalidRequest(f"{name} must be a dateTime with a time zone", name)
        return value

    def integer(self, name: str, lo: int, hi: int) -> int | None:
        p = self.one(name)
        if p is None:
            return None
        value = self._value(p, name)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}", name)
        return value

    def references(self, name: str, resource_type: str) -> list[str]:
        """careflow ids of Reference values (``Type/id``); a reference to another type is refused."""
        out = []
        for p in self._all(name):
            value = self._value(p, name)
            ref = value.get("reference") if isinstance(value, dict) else None
            ident = reference_id(ref, resource_type) if isinstance(ref, str) else None
            if ident is None:
                raise InvalidRequest(f"{name} must be a reference to a {resource_type}", name)
            out.append(ident)
        return out

    def resource(self, name: str, resource_type: str) -> JsonDict | None:
        p = self.one(name)
        if p is None:
            return None
        found = p.get("resource")
        if not isinstance(found, dict) or found.get("resourceType") != resource_type:
            raise InvalidRequest(f"{name} must carry a resource of type {resource_type}", name)
        return found
