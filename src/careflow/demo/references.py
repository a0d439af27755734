"""Cross-reference checks of a health-system file, each naming the exact path at fault.

The codec validates one object at a time; these checks validate the file as a whole:
unique ids, every site, room, patient, service and clinician referred to exists, blocks
only send clinicians to other sites, fixed equipment sits in a room of its own site.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from careflow.domain.bookings import Booking
from careflow.domain.errors import InvalidRequest
from careflow.domain.health_system import HealthSystem
from careflow.domain.resources import ResourceKind

__all__ = ["check_references"]


def _unique(section: str, ids: Iterable[str], what: str = "id") -> dict[str, int]:
    first: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in first:
            raise InvalidRequest(f"{section}[{i}].{what} {ident!r} is a duplicate "
                                 f"(first at {section}[{first[ident]}])", f"{section}[{i}].{what}")
        first[ident] = i
    return first


def _known(known: dict[str, int], value: str | None, field: str, what: str) -> None:
    if value is not None and value not in known:
        raise InvalidRequest(f"{field} refers to unknown {what} {value!r}", field)


def _resources(hs: HealthSystem, sites: dict[str, int], resources: dict[str, int]) -> None:
    for i, r in enumerate(hs.resources):
        where = f"resources[{i}]"
        _known(sites, r.site_id, f"{where}.site_id", "site")
        for j, b in enumerate(r.availability.blocks):
            field = f"{where}.availability.blocks[{j}].site_id"
            _known(sites, b.site_id, field, "site")
            if b.site_id not in (None, r.site_id) and r.kind is not ResourceKind.CLINICIAN:
                raise InvalidRequest(f"{field}: only clinicians work at other sites; {r.id} is a "
                                     f"{r.kind.value} of {r.site_id}", field)
        if r.kind is ResourceKind.EQUIPMENT and r.equipment.room_id is not None:
            field = f"{where}.profile.room_id"
            room_id = r.equipment.room_id
            _known(resources, room_id, field, "resource")
            room = hs.resources[resources[room_id]]
            if room.kind is not ResourceKind.ROOM:
                raise InvalidRequest(f"{field}: {room_id} is a {room.kind.value}, not a room", field)
            if room.site_id != r.site_id:
                raise InvalidRequest(f"{field}: room {room_id} is at {room.site_id}, the equipment at "
                                     f"{r.site_id}", field)


def _patients(hs: HealthSystem, sites: dict[str, int], resources: dict[str, int]) -> None:
    clinicians = {r.id for r in hs.resources if r.kind is ResourceKind.CLINICIAN}
    for i, p in enumerate(hs.patients):
        where = f"patients[{i}]"
        for field, values in ((f"{where}.preferences.sites", p.preferences.sites),
                              (f"{where}.preferences.clinicians", p.preferences.clinicians),
                              (f"{where}.usual_clinicians", p.usual_clinicians)):
            for value in sorted(values):
                if field.endswith("sites"):
                    _known(sites, value, field, "site")
                elif value not in clinicians:
                    raise InvalidRequest(f"{field} refers to {value!r}, which is not a clinician", field)


def _bookings(bookings: Sequence[Booking], known: dict[str, dict[str, int]]) -> None:
    _unique("bookings", (b.id for b in bookings))
    for i, b in enumerate(bookings):
        where = f"bookings[{i}]"
        _known(known["patients"], b.patient_id, f"{where}.patient_id", "patient")
        _known(known["services"], b.service_id, f"{where}.service_id", "service")
        _known(known["sites"], b.site_id, f"{where}.site_id", "site")
        for j, a in enumerate(b.allocations):
            _known(known["resources"], a.resource_id, f"{where}.allocations[{j}].resource_id", "resource")


def check_references(hs: HealthSystem) -> None:
    """Raise ``InvalidRequest`` naming the first broken or duplicate reference."""
    sites = _unique("sites", (s.id for s in hs.sites))
    resources = _unique("resources", (r.id for r in hs.resources))
    services = _unique("services", (s.id for s in hs.services))
    _unique("services", (s.code for s in hs.services), "code")
    patients = _unique("patients", (p.id for p in hs.patients))
    _unique("authorizations", (a.id for a in hs.authorizations))
    _resources(hs, sites, resources)
    _unique("stock", (f"{s.site_id}/{s.sku}" for s in hs.stock), "sku")
    for i, level in enumerate(hs.stock):
        _known(sites, level.site_id, f"stock[{i}].site_id", "site")
    _patients(hs, sites, resources)
    for i, a in enumerate(hs.authorizations):
        _known(patients, a.patient_id, f"authorizations[{i}].patient_id", "patient")
        _known(services, a.service_id, f"authorizations[{i}].service_id", "service")
    _bookings(hs.bookings, {"patients": patients, "services": services, "sites": sites,
                            "resources": resources})
