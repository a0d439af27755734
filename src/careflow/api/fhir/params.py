"""FHIR search parameters: paging, dates with prefixes, tokens, references, and the
searchset Bundle with its ``self`` and ``next`` links.

Unknown parameters are refused (422) rather than ignored, so a client never reads an
unfiltered result as a filtered one; ``_format`` is accepted and ignored (JSON only).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import Request

from careflow.adapters.fhir.ids import reference_id
from careflow.adapters.fhir.wire import searchset
from careflow.domain.errors import InvalidRequest

__all__ = ["Page", "bundle", "check_params", "date_bounds", "fhir_base", "instant_of", "page_of",
           "references", "tokens"]

DEFAULT_COUNT = 50
MAX_COUNT = 200
PAGING = frozenset({"_count", "_offset", "_format"})


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    count: int


def fhir_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/r4"


def check_params(request: Request, allowed: Collection[str]) -> None:
    for key in request.query_params:
        name = key.partition(":")[0]
        if name not in allowed and name not in PAGING:
            known = ", ".join(sorted(allowed)) or "none"
            raise InvalidRequest(f"unknown search parameter {name!r} (this type supports: {known})", name)


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}", name)
    return int(raw)


def page_of(request: Request) -> Page:
    return Page(_int(request, "_offset", 0, 0, 10_000_000),
                _int(request, "_count", DEFAULT_COUNT, 1, MAX_COUNT))


def _interval(text: str, name: str) -> tuple[datetime, datetime]:
    """The instants a FHIR date or dateTime of any precision covers, as [lo, hi)."""
    try:
        if len(text) == 4 and text.isdigit():
            lo = datetime(int(text), 1, 1, tzinfo=UTC)
            return lo, lo.replace(year=lo.year + 1)
        if len(text) == 7:
            y, m = int(text[:4]), int(text[5:7])
            lo = datetime(y, m, 1, tzinfo=UTC)
            return lo, (lo.replace(year=y + 1, month=1) if m == 12 else lo.replace(month=m + 1))
        if len(text) == 10:
            day = date.fromisoformat(text)
            lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return lo, lo + timedelta(days=1)
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or not 1970 <= value.year < 2200:
        raise InvalidRequest(f"{name}: {text!r} is not a FHIR date or a dateTime with a zone", name)
    return value, value + timedelta(seconds=1)


def instant_of(text: str, name: str) -> datetime:
    """The first instant a FHIR date or dateTime covers (``2026-06-01`` is its midnight UTC)."""
    return _interval(text, name)[0]


def date_bounds(request: Request, name: str) -> tuple[datetime | None, datetime | None]:
    """[ge, lt) bounds from every ``name`` value (``eq``, ``ge``, ``gt``, ``le``, ``lt``), intersected."""
    ge: datetime | None = None
    lt: datetime | None = None
    for raw in request.query_params.getlist(name):
        prefix, text = (raw[:2], raw[2:]) if raw[:2].isalpha() else ("eq", raw)
        lo, hi = _interval(text, name)
        bounds = {"eq": (lo, hi), "ge": (lo, None), "gt": (hi, None), "lt": (None, lo), "le": (None, hi)}
        if prefix not in bounds:
            raise InvalidRequest(f"{name}: prefix {prefix!r} is not supported (eq, ge, gt, le, lt)", name)
        new_ge, new_lt = bounds[prefix]
        if new_ge is not None:
            ge = new_ge if ge is None else max(ge, new_ge)
        if new_lt is not None:
            lt = new_lt if lt is None else min(lt, new_lt)
    return ge, lt


def tokens(request: Request, name: str) -> list[str]:
    """The codes of a token parameter (comma-separated values OR, ``system|code`` accepted)."""
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        for part in raw.split(","):
            code = part.rpartition("|")[2].strip()
            if code:
                out.append(code)
    return out


def references(request: Request, name: str, types: Sequence[str]) -> list[tuple[str, str]]:
    """(type, careflow id) of a reference parameter (``Type/id``, a bare id, or ``name:Type=id``)."""
    out: list[tuple[str, str]] = []
    for key in request.query_params:
        base, _, modifier = key.partition(":")
        if base != name:
            continue
        for raw in request.query_params.getlist(key):
            for part in raw.split(","):
                parts = part.strip().rstrip("/").split("/")
                kind = modifier or (parts[-2] if len(parts) >= 2 else "")
                candidates = [kind] if kind else list(types)
                if kind and kind not in types:
                    raise InvalidRequest(f"{name} refers to {', '.join(types)}, not {kind}", name)
                ident = reference_id(parts[-1], "")
                if ident is None:
                    raise InvalidRequest(f"{name}: {part!r} is not a reference careflow knows", name)
                out.extend((k, ident) for k in candidates)
    return out


def bundle(request: Request, entries: Sequence[dict[str, Any]], total: int, page: Page,
           included: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The searchset Bundle of one page, with ``next`` while more match."""
    url = request.url
    self_url = str(url)
    next_url = None
    if page.offset + len(entries) < total:
        next_url = str(url.include_query_params(_offset=page.offset + page.count, _count=page.count))
    return searchset(entries, total, fhir_base(request), self_url, next_url, included)
