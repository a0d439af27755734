"""The optional ``bookings`` section of a health-system file.

The codec covers master data only; bookings in a file are read here, in the same style:
every error names its path (``bookings[2].allocations[0].start``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from careflow.domain.bookings import Allocation, Booking, BookingStatus, ItemReservation, Urgency
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.preference_cards import Service
from careflow.domain.timespans import require_aware

__all__ = ["booking_from_dict", "booking_to_dict"]


def _object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidRequest(f"{where} must be an object", where)
    return data


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where}.{key} is required and must be a string", f"{where}.{key}")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidRequest(f"{where}.{key} must not contain control characters", f"{where}.{key}")
    return value


def _instant(data: Mapping[str, Any], key: str, where: str) -> datetime:
    raw = data.get(key)
    try:
        return require_aware(datetime.fromisoformat(str(raw).replace("Z", "+00:00")), key)
    except (ValueError, OverflowError, InvalidRequest) as exc:
        raise InvalidRequest(
            f"{where}.{key} must be an ISO datetime with a UTC offset, 1970–2200 (got {raw!r})",
            f"{where}.{key}") from exc


def _int(data: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise InvalidRequest(f"{where}.{key} must be a non-negative 32-bit integer", f"{where}.{key}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}.{key} must be a list", f"{where}.{key}")
    return value


def _allocation(data: Any, where: str) -> Allocation:
    a = _object(data, where)
    start, end = _instant(a, "start", where), _instant(a, "end", where)
    if end <= start:
        raise InvalidRequest(f"{where}.end must be after its start", f"{where}.end")
    return Allocation(ResourceId(_text(a, "resource_id", where)), _text(a, "role", where), start, end,
                      _int(a, "lane", where, 0))


def booking_from_dict(data: Any, where: str, services: Mapping[str, Service]) -> Booking:
    """A booking from its dict form; ``items`` default to the service's card."""
    b = _object(data, where)
    try:
        status = BookingStatus(_text(b, "status", where, "booked"))
        urgency = Urgency(_text(b, "urgency", where, "routine"))
    except ValueError as exc:
        raise InvalidRequest(f"{where}: {exc}", f"{where}.status") from exc
    start, end = _instant(b, "start", where), _instant(b, "end", where)
    if end <= start:
        raise InvalidRequest(f"{where}.end must be after its start", f"{where}.end")
    allocations = tuple(_allocation(a, f"{where}.allocations[{i}]")
                        for i, a in enumerate(_list(b, "allocations", where)))
    service_id = _text(b, "service_id", where)
    if "items" in b:
        items = []
        for i, raw in enumerate(_list(b, "items", where)):
            item = _object(raw, f"{where}.items[{i}]")
            items.append(ItemReservation(_text(item, "sku", f"{where}.items[{i}]"),
                                         _int(item, "quantity", f"{where}.items[{i}]", 1)))
    else:
        card = services.get(service_id)
        items = [ItemReservation(x.sku, x.quantity) for x in card.items] if card else []
    return Booking(BookingId(_text(b, "id", where)), PatientId(_text(b, "patient_id", where)),
                   ServiceId(service_id), SiteId(_text(b, "site_id", where)), start, end, status,
                   allocations, tuple(items), urgency, created_by="file")


def booking_to_dict(b: Booking) -> dict[str, Any]:
    """The booking's dict form (what ``booking_from_dict`` reads)."""
    return {
        "id": b.id, "patient_id": b.patient_id, "service_id": b.service_id, "site_id": b.site_id,
        "start": b.start.isoformat(), "end": b.end.isoformat(), "status": b.status.value,
        "urgency": b.urgency.value,
        "allocations": [{"resource_id": a.resource_id, "role": a.role, "start": a.start.isoformat(),
                         "end": a.end.isoformat(), "lane": a.lane} for a in b.allocations],
        "items": [{"sku": i.sku, "quantity": i.quantity} for i in b.items],
    }
