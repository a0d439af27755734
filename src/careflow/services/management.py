"""Master-data management: create, read, update and delete sites, resources (with their
availability), services (with their preference cards), stock items, patients and payer
authorizations.

Every write is one write unit of work: the item's row is read and locked (``FOR UPDATE``
on PostgreSQL; SQLite serializes writers with ``BEGIN IMMEDIATE``), its ETag compared
with the caller's ``If-Match``, the change written, the catalog version moved when the
catalog changed (sites, resources, services), the audit entry recorded, and all of it
committed together. Two updates carrying the same ETag cannot both win: the second waits
for the row, then sees another ETag and gets ``PreconditionFailed``.

Patients, authorizations and stock are not part of the catalog (they are read fresh in
every transaction), so their writes leave the catalog version alone.

Reads of patient-linked data (patients, authorizations) are audited, ids only.

Site limits: an actor limited to some sites sees only those sites' items (lists are
filtered; another site's item is ``NotFound``, so its existence does not leak) and may
create or move items only into its sites. Services are system-wide: only an actor
without a site limit may change them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from careflow.domain.access import Actor, Permission
from careflow.domain.errors import CareflowError, Conflict, InvalidRequest, NotFound, PermissionDenied
from careflow.domain.events import Event
from careflow.services.ports import (
    AuditEntry,
    Clock,
    InUse,
    Key,
    MasterAdminStore,
    UnitOfWork,
    UnitOfWorkFactory,
    Versioned,
)

__all__ = [
    "AUTHORIZATION",
    "KINDS",
    "PATIENT",
    "RESOURCE",
    "SERVICE",
    "SITE",
    "STOCK_ITEM",
    "ItemInUse",
    "Kind",
    "ManagementDeps",
    "PreconditionFailed",
    "PreconditionRequired",
    "create_item",
    "delete_item",
    "etag_matches",
    "get_item",
    "list_items",
    "project_patient",
    "update_item",
]

P = Permission


class PreconditionRequired(CareflowError):
    """A change was sent without ``If-Match`` (HTTP 428)."""


class PreconditionFailed(CareflowError):
    """``If-Match`` names a version that is no longer current (HTTP 412)."""


class ItemInUse(Conflict):
    """The item cannot be deleted: bookings or other items still use it (HTTP 409)."""

    def __init__(self, message: str, uses: tuple[InUse, ...] = ()) -> None:
        super().__init__(message)
        self.uses = uses


@dataclass(frozen=True)
class ManagementDeps:
    """What the management use cases need: units of work, the admin store of a unit of
    work, and the clock (to tell future bookings from past ones)."""

    uow: UnitOfWorkFactory
    admin: Callable[[UnitOfWork], MasterAdminStore]
    clock: Clock


def _no_site(_: Any) -> str | None:
    return None


@dataclass(frozen=True)
class Kind:
    """How one kind of master data is governed: permissions, key, site, catalog, audit."""

    name: str  # the store's kind and the audit entity type
    label: str  # in messages
    read: str
    write: str
    key_fields: tuple[str, ...]
    site_of: Callable[[Any], str | None] = _no_site
    site_bound: bool = False
    catalog: bool = False  # part of the Catalog: a write moves the master-data version
    audit_reads: bool = False  # patient-linked: every read is audited
    retire: Callable[[Any], Any] | None = None  # soft delete when history refers to it
    system_wide: bool = False  # only actors without a site limit may change it

    def key_of(self, item: Any) -> Key:
        return tuple(str(getattr(item, f)) for f in self.key_fields)


def _retired(item: Any) -> Any:
    return replace(item, active=False)


SITE = Kind("site", "site", P.MASTER_READ, P.MASTER_WRITE, ("id",),
            site_of=lambda s: str(s.id), site_bound=True, catalog=True)
RESOURCE = Kind("resource", "resource", P.MASTER_READ, P.MASTER_WRITE, ("id",),
                site_of=lambda r: str(r.site_id), site_bound=True, catalog=True, retire=_retired)
SERVICE = Kind("service", "service", P.MASTER_READ, P.MASTER_WRITE, ("id",), catalog=True,
               retire=_retired, system_wide=True)
STOCK_ITEM = Kind("stock_item", "stock item", P.STOCK_READ, P.STOCK_WRITE, ("site_id", "sku"),
                  site_of=lambda s: str(s.site_id), site_bound=True)
PATIENT = Kind("patient", "patient", P.PATIENT_READ, P.PATIENT_WRITE, ("id",), audit_reads=True)
AUTHORIZATION = Kind("authorization", "authorization", P.AUTHORIZATION_READ, P.AUTHORIZATION_WRITE,
                     ("id",), audit_reads=True)
KINDS = {k.name: k for k in (SITE, RESOURCE, SERVICE, STOCK_ITEM, PATIENT, AUTHORIZATION)}

# "Minimum necessary": what scheduling needs of a patient; ``patient.read_clinical`` adds
# the rest (MRN, home position, isolation, prep dates, usual clinicians).
SCHEDULING_FIELDS = ("id", "name", "birth_date", "sex", "language", "needs_interpreter", "preferences")


def project_patient(data: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """A patient's dict form cut to what ``actor`` may see; ``readiness`` lists the prep
    items done (codes only: their dates are clinical)."""
    readiness = sorted(data.get("completed_prep") or {})
    if actor.can(P.PATIENT_READ_CLINICAL):
        return {**data, "readiness": readiness}
    return {**{k: data.get(k) for k in SCHEDULING_FIELDS}, "readiness": readiness}


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 ``If-Match``: ``*`` or a list of strong ETags (weak ones never match)."""
    candidates = [c.strip() for c in if_match.split(",")]
    return "*" in candidates or etag in candidates


def _key_text(key: Key) -> str:
    return "/".join(key)


def _visible(actor: Actor, kind: Kind, item: Any) -> bool:
    site = kind.site_of(item)
    return site is None or actor.may_see_site(site)


def _sites(actor: Actor, kind: Kind) -> frozenset[str] | None:
    if not kind.site_bound or actor.sites is None or actor.break_glass:
        return None
    return actor.sites


def _require_write(actor: Actor, kind: Kind) -> None:
    actor.require(kind.write)
    if kind.system_wide and actor.sites is not None:
        raise PermissionDenied("site", f"{kind.label}s are system-wide; an actor limited to "
                                       "some sites may not change them")


def _require_key(kind: Kind, item: Any) -> None:
    """A new item's key must be addressable in a URL path."""
    for field in kind.key_fields:
        value = str(getattr(item, field))
        if not value.strip() or value != value.strip() or any(c in value for c in "/?#%\\"):
            raise InvalidRequest(f"{field} must be non-empty, without surrounding spaces and "
                                 "without / ? # % \\", field)


def _audit(uow: UnitOfWork, actor: Actor, kind: Kind, action: str, key: str,
           detail: dict[str, Any] | None = None) -> None:
    uow.audit(AuditEntry(actor=actor.id, action=f"{kind.name}.{action}", entity_type=kind.name,
                         entity_id=key, outcome="ok", detail=detail or {}))


def _locked(store: MasterAdminStore, actor: Actor, kind: Kind, key: Key,
            if_match: str | None) -> Versioned:
    if if_match is None:
        raise PreconditionRequired(f"changing a {kind.label} needs If-Match with its current ETag")
    current = store.get(kind.name, key, lock=True)
    if current is None or not _visible(actor, kind, current.item):
        raise NotFound(kind.label, _key_text(key))
    if not etag_matches(if_match, current.etag):
        raise PreconditionFailed(f"{kind.label} {_key_text(key)!r} has changed since {if_match} "
                                 "was read; read it again")
    return current


def get_item(deps: ManagementDeps, actor: Actor, kind: Kind, key: Key) -> Versioned:
    """One item with its ETag (``NotFound`` for another site's item; patient-linked reads
    are audited)."""
    actor.require(kind.read)
    with deps.uow(write=kind.audit_reads) as uow:
        found = deps.admin(uow).get(kind.name, key)
        if found is None or not _visible(actor, kind, found.item):
            raise NotFound(kind.label, _key_text(key))
        if kind.audit_reads:
            _audit(uow, actor, kind, "read", _key_text(key))
            uow.commit()
    return found


def list_items(deps: ManagementDeps, actor: Actor, kind: Kind, filters: dict[str, Any],
               offset: int, limit: int) -> tuple[list[Versioned], int]:
    """A page of items the actor may see, in key order, and their total."""
    actor.require(kind.read)
    wanted = {k: v for k, v in filters.items() if v is not None}
    with deps.uow(write=kind.audit_reads) as uow:
        items, total = deps.admin(uow).page(kind.name, wanted, _sites(actor, kind), offset, limit)
        if kind.audit_reads:  # the ids read, never the search terms (they may be names)
            _audit(uow, actor, kind, "read", "*",
                   {"ids": [_key_text(kind.key_of(v.item)) for v in items]})
            uow.commit()
    return items, total


def create_item(deps: ManagementDeps, actor: Actor, kind: Kind, item: Any) -> Versioned:
    """Add a new item (``Conflict`` when its key is taken)."""
    _require_write(actor, kind)
    _require_key(kind, item)
    site = kind.site_of(item)
    if site is not None:
        actor.require_site(site)
    with deps.uow(write=True) as uow:
        store = deps.admin(uow)
        store.check_references(kind.name, item)
        saved = store.insert(kind.name, item)
        if kind.catalog:
            store.bump_version()
        _audit(uow, actor, kind, "create", _key_text(kind.key_of(item)))
        uow.commit()
    return saved


def update_item(deps: ManagementDeps, actor: Actor, kind: Kind, key: Key, if_match: str | None,
                change: Callable[[Any], Any],
                events: Callable[[Any, Any], Sequence[Event]] | None = None,
                action: str = "update", detail: dict[str, Any] | None = None) -> Versioned:
    """Replace the item with ``change(current)`` if ``if_match`` is its current ETag; the
    check and the write happen in one transaction with the row locked. ``events(old,
    new)`` are written to the outbox in that transaction (a reported call-out, a stock
    count), and the audit entry says ``action`` with ``detail``."""
    _require_write(actor, kind)
    with deps.uow(write=True) as uow:
        store = deps.admin(uow)
        current = _locked(store, actor, kind, key, if_match)
        item = change(current.item)
        for field, old, new in zip(kind.key_fields, key, kind.key_of(item), strict=True):
            if old != new:
                raise InvalidRequest(f"{field} cannot change (it is {old!r})", field)
        site = kind.site_of(item)
        if site is not None:
            actor.require_site(site)
        store.check_references(kind.name, item)
        saved = store.update(kind.name, item)
        if kind.catalog:
            store.bump_version()
        if events is not None:
            uow.publish(events(current.item, saved.item))
        _audit(uow, actor, kind, action, _key_text(key), detail)
        uow.commit()
    return saved


def delete_item(deps: ManagementDeps, actor: Actor, kind: Kind, key: Key,
                if_match: str | None) -> Versioned | None:
    """Delete the item, or retire it (``active: false``) when past bookings refer to it
    and the kind can be retired (resources, services); returns the retired item, or None
    when it was deleted. ``ItemInUse`` names active or future bookings and other items
    that still use it; nothing is changed then."""
    _require_write(actor, kind)
    with deps.uow(write=True) as uow:
        store = deps.admin(uow)
        current = _locked(store, actor, kind, key, if_match)
        usage = store.usage(kind.name, key, deps.clock())
        name = f"{kind.label} {_key_text(key)!r}"
        if usage.blocking:
            listed = "; ".join(f"{u.count} {u.what}(s), e.g. {', '.join(u.ids)}" for u in usage.blocking)
            raise ItemInUse(f"{name} is still in use: {listed}", usage.blocking)
        retired: Versioned | None = None
        if usage.history and kind.retire is None:
            raise ItemInUse(f"{name} is referred to by past records and cannot be deleted")
        if usage.history and kind.retire is not None:
            retired = store.update(kind.name, kind.retire(current.item))
        else:
            store.delete(kind.name, key)
        if kind.catalog:
            store.bump_version()
        _audit(uow, actor, kind, "retire" if retired else "delete", _key_text(key))
        uow.commit()
    return retired
