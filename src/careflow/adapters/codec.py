"""Plain-dict forms of the master data, shared by the database's JSON columns and the
``seed --from FILE`` format (documented in docs/health-system-file.md).

``*_to_dict`` produce JSON-ready dicts; ``*_from_dict`` validate and build domain objects,
raising ``InvalidRequest`` that names the offending field (prefixed with where it is).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any, TypeVar

from careflow.domain.calendars import Availability, CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import AuthorizationId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.patients import Authorization, AuthorizationStatus, Patient, Preferences
from careflow.domain.preference_cards import (
    BedRequirement,
    BookingWindow,
    EquipmentRequirement,
    ItemRequirement,
    PrepItem,
    Prerequisites,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
    StaffRequirement,
)
from careflow.domain.resources import (
    BedProfile,
    ClinicianProfile,
    ContractLimits,
    Credential,
    EquipmentProfile,
    Profile,
    Resource,
    ResourceKind,
    RoomProfile,
    StaffPoolProfile,
)
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import require_aware

__all__ = [
    "authorization_from_dict",
    "authorization_to_dict",
    "availability_from_dict",
    "availability_to_dict",
    "patient_from_dict",
    "patient_to_dict",
    "profile_from_dict",
    "profile_to_dict",
    "resource_from_dict",
    "resource_to_dict",
    "service_from_dict",
    "service_to_dict",
    "site_from_dict",
    "site_to_dict",
    "stock_from_dict",
    "stock_to_dict",
]

T = TypeVar("T")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Integers are stored in 32-bit columns; strings must be storable as PostgreSQL text (no
# NUL) and are free of other control characters but tab and newlines.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_CONTROL = frozenset(chr(c) for c in range(32)) - frozenset("\t\n\r") | {"\x7f"}


def _checked(value: Any, name: str) -> Any:
    """Refuse values that no column can store: huge integers, NaN/infinity, control characters."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise InvalidRequest(f"{name} is out of range ({value} is not between {INT_MIN} and {INT_MAX})", name)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(f"{name} must be a finite number (got {value})", name)
    if isinstance(value, str) and not _CONTROL.isdisjoint(value):
        raise InvalidRequest(f"{name} must not contain control characters", name)
    return value


class _Reader:
    """Typed access to a dict that names the field in every error."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidRequest(f"{where} must be an object", where)
        self.data = data
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, kind: type[T], default: T | None = None) -> T:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise InvalidRequest(f"{self._name(key)} is required", self._name(key))
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidRequest(f"{self._name(key)} must be a {kind.__name__}", self._name(key))
        return _checked(value, self._name(key))  # type: ignore[no-any-return]

    def opt(self, key: str, kind: type[T]) -> T | None:
        return self.get(key, kind) if self.has(key) else None

    def strings(self, key: str) -> frozenset[str]:
        values = self.data.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidRequest(f"{self._name(key)} must be a list of strings", self._name(key))
        for value in values:
            _checked(value, self._name(key))
        return frozenset(values)

    def parse(self, key: str, fn: Callable[[str], T], default: T | None = None) -> T:
        raw = self.data.get(key)
        if raw is None:
            if default is None:
                raise InvalidRequest(f"{self._name(key)} is required", self._name(key))
            return default
        if not isinstance(raw, str):  # a YAML 17:00 arrives as 1020: never guess
            raise InvalidRequest(f"{self._name(key)} must be a string (got {raw!r})", self._name(key))
        _checked(raw, self._name(key))
        try:
            return fn(raw)
        except ValueError as exc:
            raise InvalidRequest(f"{self._name(key)}: {exc}", self._name(key)) from exc
        except InvalidRequest as exc:
            raise InvalidRequest(f"{self._name(key)}: {exc.message}", self._name(key)) from exc

    def opt_parse(self, key: str, fn: Callable[[str], T]) -> T | None:
        return self.parse(key, fn) if self.has(key) else None

    def items(self, key: str) -> list[_Reader]:
        values = self.data.get(key) or []
        if not isinstance(values, list):
            raise InvalidRequest(f"{self._name(key)} must be a list", self._name(key))
        return [_Reader(v, f"{self._name(key)}[{i}]") for i, v in enumerate(values)]

    def child(self, key: str) -> _Reader | None:
        return _Reader(self.data[key], self._name(key)) if self.has(key) else None

    def enum(self, key: str, kind: Callable[[str], T], default: T | None = None) -> T:
        return self.parse(key, kind, default)


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text} needs a UTC offset or Z")
    try:
        return require_aware(value, "datetime")
    except OverflowError as exc:  # 9999-12-31T23:00-05:00 is past the last datetime in UTC
        raise ValueError(f"{text} is out of range") from exc


@contextmanager
def _within(where: str) -> Iterator[None]:
    """Prefix a domain error's field with where the object sits in the document."""
    try:
        yield
    except InvalidRequest as exc:
        if exc.field and exc.field.startswith(where):
            raise
        field = f"{where}.{exc.field}" if exc.field else where
        raise InvalidRequest(f"{field}: {exc.message}", field) from exc


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


# --- sites ---------------------------------------------------------------------------


def site_to_dict(site: Site) -> dict[str, Any]:
    return {"id": site.id, "name": site.name, "kind": site.kind.value, "timezone": site.timezone,
            "position": {"lat": site.position.lat, "lon": site.position.lon},
            "languages": sorted(site.languages)}


def _position(r: _Reader) -> Position:
    try:
        return Position(r.get("lat", float), r.get("lon", float))
    except InvalidRequest as exc:
        raise InvalidRequest(f"{r.where}: {exc.message}", r.where) from exc


def site_from_dict(data: Any, where: str = "site") -> Site:
    r = _Reader(data, where)
    pos = r.child("position")
    if pos is None:
        raise InvalidRequest(f"{where}.position is required", f"{where}.position")
    try:
        return Site(SiteId(r.get("id", str)), r.get("name", str), r.enum("kind", SiteKind),
                    r.get("timezone", str), _position(pos), r.strings("languages") or frozenset({"en"}))
    except InvalidRequest as exc:
        if exc.field and exc.field.startswith(where):
            raise
        raise InvalidRequest(f"{where}.{exc.field}: {exc.message}", f"{where}.{exc.field}") from exc


# --- availability --------------------------------------------------------------------


def _weekdays(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            i, j = WEEKDAYS.index(a[:3]), WEEKDAYS.index(b[:3])
            days.update(range(i, j + 1))
        elif part:
            days.add(WEEKDAYS.index(part[:3]))
    return frozenset(days)


def _weekdays_text(days: frozenset[int]) -> str:
    return ",".join(WEEKDAYS[d] for d in sorted(days))


def _parse_weekdays(text: str) -> frozenset[int]:
    try:
        return _weekdays(text)
    except ValueError as exc:
        raise ValueError(f"weekdays must look like 'mon-fri' or 'mon,wed,fri' (got {text!r})") from exc


def availability_to_dict(av: Availability) -> dict[str, Any]:
    return {
        "blocks": [{"days": _weekdays_text(b.weekdays), "start": _hhmm(b.start), "end": _hhmm(b.end),
                    "capacity": b.capacity, "site_id": b.site_id,
                    "valid_from": b.valid_from.isoformat() if b.valid_from else None,
                    "valid_to": b.valid_to.isoformat() if b.valid_to else None}
                   for b in av.blocks],
        "exceptions": [{"start": e.start.isoformat(), "end": e.end.isoformat(), "kind": e.kind.value,
                        "capacity_delta": e.capacity_delta, "reason": e.reason}
                       for e in av.exceptions],
    }


def availability_from_dict(data: Any, where: str = "availability") -> Availability:
    r = _Reader(data or {}, where)
    blocks = []
    for b in r.items("blocks"):
        try:
            blocks.append(WeeklyBlock(
                b.parse("days", _parse_weekdays), b.parse("start", time.fromisoformat),
                b.parse("end", time.fromisoformat), b.get("capacity", int, 1),
                SiteId(b.get("site_id", str)) if b.has("site_id") else None,
                b.opt_parse("valid_from", date.fromisoformat), b.opt_parse("valid_to", date.fromisoformat)))
        except InvalidRequest as exc:
            if exc.field and exc.field.startswith(b.where):
                raise
            raise InvalidRequest(f"{b.where}.{exc.field}: {exc.message}", f"{b.where}.{exc.field}") from exc
    exceptions = []
    for e in r.items("exceptions"):
        start, end = e.parse("start", _aware), e.parse("end", _aware)
        if end <= start:
            raise InvalidRequest(f"{e.where}: end must be after start", f"{e.where}.end")
        exceptions.append(CalendarException(start, end, e.enum("kind", ExceptionKind),
                                            e.opt("capacity_delta", int), e.get("reason", str, "")))
    return Availability(tuple(blocks), tuple(exceptions))


# --- resources -----------------------------------------------------------------------


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    if isinstance(profile, ClinicianProfile):
        c = profile.contract
        return {"profession": profile.profession, "specialties": sorted(profile.specialties),
                "privileges": sorted(profile.privileges), "languages": sorted(profile.languages),
                "credentials": [{"code": x.code, "expires_on": x.expires_on.isoformat()}
                                for x in profile.credentials],
                "contract": {"max_hours_day": c.max_hours_day, "max_hours_week": c.max_hours_week,
                             "overtime_threshold_week": c.overtime_threshold_week}}
    if isinstance(profile, RoomProfile):
        return {"room_type": profile.room_type, "capabilities": sorted(profile.capabilities),
                "unit": profile.unit}
    if isinstance(profile, BedProfile):
        return {"unit": profile.unit, "bed_type": profile.bed_type, "gender": profile.gender,
                "isolation": profile.isolation}
    if isinstance(profile, EquipmentProfile):
        return {"equipment_type": profile.equipment_type, "mobile": profile.mobile,
                "room_id": profile.room_id, "sterilization_minutes": profile.sterilization_minutes,
                "ready_at": profile.ready_at.isoformat() if profile.ready_at else None}
    return {"role": profile.role, "languages": sorted(profile.languages), "skills": sorted(profile.skills)}


def profile_from_dict(kind: ResourceKind, data: Any, where: str = "profile") -> Profile:
    r = _Reader(data or {}, where)
    if kind is ResourceKind.CLINICIAN:
        contract = r.child("contract")
        limits = ContractLimits() if contract is None else ContractLimits(
            contract.get("max_hours_day", float, 12.0), contract.get("max_hours_week", float, 60.0),
            contract.get("overtime_threshold_week", float, 40.0))
        creds = tuple(Credential(c.get("code", str), c.parse("expires_on", date.fromisoformat))
                      for c in r.items("credentials"))
        return ClinicianProfile(r.get("profession", str), r.strings("specialties"),
                                r.strings("privileges"), creds,
                                r.strings("languages") or frozenset({"en"}), limits)
    if kind in (ResourceKind.ROOM, ResourceKind.CHAIR):
        return RoomProfile(r.get("room_type", str, "infusion" if kind is ResourceKind.CHAIR else None),
                           r.strings("capabilities"), r.get("unit", str, ""))
    if kind is ResourceKind.BED:
        gender = r.get("gender", str, "any")
        if gender not in ("any", "female", "male"):
            raise InvalidRequest(f"{where}.gender must be any, female or male", f"{where}.gender")
        return BedProfile(r.get("unit", str), r.get("bed_type", str), gender, r.get("isolation", bool, False))
    if kind is ResourceKind.EQUIPMENT:
        room = r.opt("room_id", str)
        return EquipmentProfile(r.get("equipment_type", str), r.get("mobile", bool, room is None),
                                ResourceId(room) if room else None,
                                r.get("sterilization_minutes", int, 0), r.opt_parse("ready_at", _aware))
    return StaffPoolProfile(r.get("role", str), r.strings("languages"), r.strings("skills"))


def resource_to_dict(res: Resource) -> dict[str, Any]:
    return {"id": res.id, "site_id": res.site_id, "kind": res.kind.value, "name": res.name,
            "capacity": res.capacity, "active": res.active, "profile": profile_to_dict(res.profile),
            "availability": availability_to_dict(res.availability)}


def resource_from_dict(data: Any, where: str = "resource") -> Resource:
    r = _Reader(data, where)
    kind = r.enum("kind", ResourceKind)
    try:
        return Resource(ResourceId(r.get("id", str)), SiteId(r.get("site_id", str)), kind,
                        r.get("name", str),
                        profile_from_dict(kind, r.data.get("profile"), f"{where}.profile"),
                        availability_from_dict(r.data.get("availability"), f"{where}.availability"),
                        r.get("capacity", int, 1), r.get("active", bool, True))
    except InvalidRequest as exc:
        if exc.field and exc.field.startswith(where):
            raise
        raise InvalidRequest(f"{where}.{exc.field}: {exc.message}", f"{where}.{exc.field}") from exc


# --- services ------------------------------------------------------------------------


def service_to_dict(s: Service) -> dict[str, Any]:
    return {
        "id": s.id, "code": s.code, "name": s.name, "kind": s.kind.value, "specialty": s.specialty,
        "duration_minutes": s.duration_minutes, "setup_minutes": s.setup_minutes,
        "turnover_minutes": s.turnover_minutes, "slot_minutes": s.slot_minutes, "active": s.active,
        "roles": [{"role": x.role, "profession": x.profession, "count": x.count,
                   "specialty": x.specialty, "privilege": x.privilege,
                   "credentials": sorted(x.credentials)} for x in s.roles],
        "staff": [{"role": x.role, "count": x.count} for x in s.staff],
        "room": None if s.room is None else {"room_type": s.room.room_type, "kind": s.room.kind.value,
                                             "capabilities": sorted(s.room.capabilities)},
        "equipment": [{"equipment_type": x.equipment_type, "count": x.count} for x in s.equipment],
        "items": [{"sku": x.sku, "quantity": x.quantity} for x in s.items],
        "prerequisites": {"authorization": s.prerequisites.authorization,
                          "interpreter": s.prerequisites.interpreter,
                          "prep": [{"code": p.code, "due_days_before": p.due_days_before}
                                   for p in s.prerequisites.prep]},
        "bed": None if s.bed is None else {"bed_type": s.bed.bed_type, "los_hours": s.bed.los_hours},
        "booking_window": {"min_lead_minutes": s.window.min_lead_minutes,
                           "max_days_ahead": s.window.max_days_ahead},
        "site_kinds": sorted(k.value for k in s.site_kinds),
    }


def _site_kinds(r: _Reader) -> frozenset[SiteKind]:
    kinds = r.strings("site_kinds")
    allowed = {k.value for k in SiteKind}
    for kind in sorted(kinds):
        if kind not in allowed:
            raise InvalidRequest(f"{r.where}.site_kinds: {kind!r} is not one of {', '.join(sorted(allowed))}",
                                 f"{r.where}.site_kinds")
    return frozenset(SiteKind(k) for k in kinds)


def service_from_dict(data: Any, where: str = "service") -> Service:
    r = _Reader(data, where)
    try:
        room = r.child("room")
        bed = r.child("bed")
        pre = r.child("prerequisites") or _Reader({}, f"{where}.prerequisites")
        win = r.child("booking_window") or _Reader({}, f"{where}.booking_window")
        return Service(
            id=ServiceId(r.get("id", str)), code=r.get("code", str), name=r.get("name", str),
            kind=r.enum("kind", ServiceKind), duration_minutes=r.get("duration_minutes", int),
            specialty=r.opt("specialty", str), setup_minutes=r.get("setup_minutes", int, 0),
            turnover_minutes=r.get("turnover_minutes", int, 0),
            roles=tuple(RoleRequirement(x.get("role", str), x.get("profession", str),
                                        x.get("count", int, 1), x.opt("specialty", str),
                                        x.opt("privilege", str),
                                        x.strings("credentials") if x.has("credentials")
                                        else frozenset({"license"}))
                        for x in r.items("roles")),
            staff=tuple(StaffRequirement(x.get("role", str), x.get("count", int, 1))
                        for x in r.items("staff")),
            room=None if room is None else RoomRequirement(
                room.get("room_type", str), room.strings("capabilities"),
                room.enum("kind", ResourceKind, ResourceKind.ROOM)),
            equipment=tuple(EquipmentRequirement(x.get("equipment_type", str), x.get("count", int, 1))
                            for x in r.items("equipment")),
            items=tuple(ItemRequirement(x.get("sku", str), x.get("quantity", int)) for x in r.items("items")),
            prerequisites=Prerequisites(
                pre.get("authorization", bool, False),
                tuple(PrepItem(p.get("code", str), p.get("due_days_before", int, 0))
                      for p in pre.items("prep")),
                pre.get("interpreter", bool, True)),
            bed=None if bed is None else BedRequirement(bed.get("bed_type", str), bed.get("los_hours", int)),
            window=BookingWindow(win.get("min_lead_minutes", int, 0), win.get("max_days_ahead", int, 365)),
            site_kinds=_site_kinds(r),
            slot_minutes=r.get("slot_minutes", int, 15), active=r.get("active", bool, True),
        )
    except InvalidRequest as exc:
        if exc.field and exc.field.startswith(where):
            raise
        raise InvalidRequest(f"{where}.{exc.field}: {exc.message}", f"{where}.{exc.field}") from exc
    except ValueError as exc:
        raise InvalidRequest(f"{where}: {exc}", where) from exc


# --- stock, patients, authorizations -------------------------------------------------


def stock_to_dict(s: StockLevel) -> dict[str, Any]:
    return {"site_id": s.site_id, "sku": s.sku, "name": s.name, "on_hand": s.on_hand,
            "reserved": s.reserved, "reorder_threshold": s.reorder_threshold,
            "lead_time_days": s.lead_time_days}


def stock_from_dict(data: Any, where: str = "stock") -> StockLevel:
    r = _Reader(data, where)
    with _within(where):
        return StockLevel(SiteId(r.get("site_id", str)), r.get("sku", str),
                          r.get("name", str, r.get("sku", str)), r.get("on_hand", int),
                          r.get("reserved", int, 0), r.get("reorder_threshold", int, 0),
                          r.get("lead_time_days", int, 0))


def patient_to_dict(p: Patient) -> dict[str, Any]:
    prefs = p.preferences
    return {
        "id": p.id, "mrn": p.mrn, "name": p.name, "birth_date": p.birth_date.isoformat(), "sex": p.sex,
        "language": p.language, "needs_interpreter": p.needs_interpreter,
        "home": None if p.home is None else {"lat": p.home.lat, "lon": p.home.lon},
        "preferences": {"weekdays": _weekdays_text(prefs.weekdays) if prefs.weekdays else None,
                        "time_of_day": prefs.time_of_day, "sites": sorted(prefs.sites),
                        "clinicians": sorted(prefs.clinicians), "max_travel_km": prefs.max_travel_km},
        "isolation_required": p.isolation_required,
        "completed_prep": {k: v.isoformat() for k, v in sorted(p.completed_prep.items())},
        "usual_clinicians": sorted(p.usual_clinicians),
        "email": p.email,
    }


def patient_from_dict(data: Any, where: str = "patient") -> Patient:
    r = _Reader(data, where)
    prefs = r.child("preferences") or _Reader({}, f"{where}.preferences")
    home = r.child("home")
    prep_raw = r.data.get("completed_prep") or {}
    if not isinstance(prep_raw, Mapping):
        raise InvalidRequest(f"{where}.completed_prep must be an object of code: date",
                             f"{where}.completed_prep")
    try:
        prep = {_checked(str(k), f"{where}.completed_prep"): date.fromisoformat(str(v))
                for k, v in prep_raw.items()}
    except ValueError as exc:
        raise InvalidRequest(f"{where}.completed_prep: {exc}", f"{where}.completed_prep") from exc
    sex = r.get("sex", str, "unknown")
    if sex not in ("female", "male", "other", "unknown"):
        raise InvalidRequest(f"{where}.sex must be female, male, other or unknown", f"{where}.sex")
    with _within(where):
        return _patient(r, prefs, home, sex, prep)


def _patient(r: _Reader, prefs: _Reader, home: _Reader | None, sex: str, prep: dict[str, date]) -> Patient:
    return Patient(
        PatientId(r.get("id", str)), r.get("mrn", str, r.get("id", str)), r.get("name", str),
        r.parse("birth_date", date.fromisoformat), sex, r.get("language", str, "en"),
        r.get("needs_interpreter", bool, False), None if home is None else _position(home),
        Preferences(prefs.parse("weekdays", _parse_weekdays, frozenset()),
                    prefs.opt("time_of_day", str),
                    frozenset(SiteId(s) for s in prefs.strings("sites")),
                    frozenset(ResourceId(c) for c in prefs.strings("clinicians")),
                    prefs.opt("max_travel_km", float)),
        r.get("isolation_required", bool, False), prep,
        frozenset(ResourceId(c) for c in r.strings("usual_clinicians")),
        r.opt_parse("email", _email),
    )


# Deliberately loose (one @, a dotted domain, no spaces or control characters): the mail
# server is the judge of an address; this only refuses what is plainly not one.
EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


def _email(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 254 or not EMAIL.fullmatch(value):
        raise ValueError("must be an e-mail address (name@domain)")
    return value


def authorization_to_dict(a: Authorization) -> dict[str, Any]:
    return {"id": a.id, "patient_id": a.patient_id, "service_id": a.service_id, "payer": a.payer,
            "status": a.status.value, "valid_from": a.valid_from.isoformat() if a.valid_from else None,
            "valid_to": a.valid_to.isoformat() if a.valid_to else None, "reference": a.reference}


def authorization_from_dict(data: Any, where: str = "authorization") -> Authorization:
    r = _Reader(data, where)
    with _within(where):
        return _authorization(r)


def _authorization(r: _Reader) -> Authorization:
    return Authorization(
        AuthorizationId(r.get("id", str)), PatientId(r.get("patient_id", str)),
        ServiceId(r.get("service_id", str)), r.get("payer", str, "unknown"),
        r.enum("status", AuthorizationStatus), r.opt_parse("valid_from", date.fromisoformat),
        r.opt_parse("valid_to", date.fromisoformat), r.get("reference", str, ""))
