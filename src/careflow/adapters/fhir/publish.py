"""SMART Scheduling Links (https://github.com/smart-on-fhir/smart-scheduling-links):
the ``$bulk-publish`` manifest and its Location, Schedule and Slot NDJSON files.

What is published: the *publicly bookable* services, those a patient may book without a
referral's paperwork: visits (``ServiceKind.VISIT``) that need no payer authorization
and no preparation. Surgery, imaging, infusions and anything authorized stay off the
feed. For each such service and each site that may perform it there is one Schedule
(actor: the site's Location); its Slots are the grid starts (the service's slot length)
in the next ``HORIZON_DAYS`` days, after the service's minimum lead time, at which every
need on the card (a clinician, an exam room, …) has a free unit throughout the visit;
``slot-capacity`` says how many visits could start there at once (the fewest free units
of any need). Only free slots are published. A published slot is an invitation, not a
promise: booking runs careflow's full check (patient, hours, licences) again.

``_since`` narrows the Slot file to the schedules whose site saw a booking change since
then (bookings are what move slots); Location and Schedule files are always complete,
which the specification allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, select

from careflow.adapters.db.tables import booking, outbox
from careflow.adapters.fhir.directory import service_concept
from careflow.adapters.fhir.ids import to_fhir_id
from careflow.adapters.fhir.slots import SLOT_CAPACITY, SlotView
from careflow.adapters.fhir.wire import instant, validated
from careflow.domain.preference_cards import Service, ServiceKind
from careflow.domain.sites import Site
from careflow.domain.timespans import from_ts

__all__ = ["BOOKING_DEEP_LINK", "HORIZON_DAYS", "changed_sites", "free_starts", "is_public", "manifest",
           "ndjson", "published_schedule", "published_slot", "schedule_id"]

HORIZON_DAYS = 14
BOOKING_DEEP_LINK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
BOOKING_PHONE = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone"
TYPES = ("Location", "Schedule", "Slot")


def is_public(service: Service) -> bool:
    """Whether a patient may book ``service`` from a public slot feed."""
    pre = service.prerequisites
    return service.active and service.kind is ServiceKind.VISIT and not pre.authorization and not pre.prep


def schedule_id(site: Site, service: Service) -> str:
    return f"{to_fhir_id(site.id)}--{to_fhir_id(service.id)}"


def published_schedule(site: Site, service: Service) -> dict[str, Any]:
    return validated({
        "resourceType": "Schedule", "id": schedule_id(site, service), "active": True,
        "serviceType": [service_concept(service)],
        "actor": [{"reference": f"Location/{to_fhir_id(site.id)}", "display": site.name}],
    })


def free_starts(units: Sequence[Sequence[Sequence[SlotView]]], lo: int, hi: int, step: int,
                duration: int) -> list[tuple[int, int]]:
    """(start, capacity) on the grid ``lo, lo + step, …`` before ``hi`` where every need has a
    free unit throughout ``duration``. ``units[need][resource]`` are that resource's slots."""
    out: list[tuple[int, int]] = []
    for start in range(lo, hi, step):
        end = start + duration
        capacity = min((sum(_free_throughout(views, start, end) for views in need) for need in units),
                       default=0)
        if capacity > 0:
            out.append((start, capacity))
    return out


def _free_throughout(views: Sequence[SlotView], start: int, end: int) -> int:
    """The units of one resource free throughout [start, end) (0 if any part is not free);
    ``views`` are its slots in start order."""
    cursor, least = start, None
    for v in views:
        if v.end <= cursor:
            continue
        if v.start > cursor or v.status != "free":
            return 0
        least = v.free if least is None else min(least, v.free)
        cursor = v.end
        if cursor >= end:
            return least
    return 0


def published_slot(site: Site, service: Service, start: int, capacity: int, book_url: str) -> dict[str, Any]:
    begin, end = from_ts(start), from_ts(start + service.duration)
    link = f"{book_url}?" + urlencode({"service": service.code, "site": site.id, "start": instant(begin)})
    return validated({
        "resourceType": "Slot", "id": f"{schedule_id(site, service)}-{start:x}",
        "schedule": {"reference": f"Schedule/{schedule_id(site, service)}"},
        "status": "free", "start": instant(begin), "end": instant(end),
        "extension": [{"url": BOOKING_DEEP_LINK, "valueUrl": link},
                      {"url": SLOT_CAPACITY, "valueInteger": capacity}],
    })


def manifest(now: datetime, request_url: str, base: str, since: str | None) -> dict[str, Any]:
    """The bulk-publish manifest: one NDJSON file per type."""
    query = f"?{urlencode({'_since': since})}" if since else ""
    return {"transactionTime": instant(now), "request": request_url,
            "output": [{"type": t, "url": f"{base}/$bulk-publish/{t}.ndjson{query}"} for t in TYPES],
            "error": []}


def changed_sites(engine: Engine, since: datetime) -> set[str]:
    """Sites of the bookings that changed (any event in the outbox) after ``since``."""
    changed = select(outbox.c.aggregate_id).where(outbox.c.occurred_at > since).scalar_subquery()
    query = select(booking.c.site_id).where(booking.c.id.in_(changed)).distinct()
    with engine.connect() as conn:
        return {str(s) for s in conn.execute(query).scalars()}


def ndjson(resources: Iterable[dict[str, Any]]) -> str:
    """Resources as NDJSON: one JSON object a line."""
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in resources)
