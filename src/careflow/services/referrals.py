"""Referral use cases: receive, list, read, choose, and the workflow's steps (triage,
book, offer, queue). The durable sequencing lives in ``services/workflows/referral.py``;
each function here is one transaction and safe to repeat (the workflow may run a step
again after a crash).

A referral is written with its ``ReferralReceived`` event in one transaction (the REST
route), or arrives as that event from the EHR through ingest; either way the event's
handler starts the workflow, whose id is the referral id, so a redelivered event starts
nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from careflow.domain.access import SYSTEM, Actor, Permission
from careflow.domain.bookings import Booking, Urgency
from careflow.domain.commands import BookOption
from careflow.domain.errors import CareflowError, Conflict, InvalidRequest, NotFound
from careflow.domain.events import ReferralReceived
from careflow.domain.exceptions_queue import RaiseException
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import Assignment, FindRequest, Option, build_allocations
from careflow.domain.referrals import (
    DEFAULT_REFERRAL_POLICY,
    Recommendation,
    Referral,
    ReferralPolicy,
    ReferralStatus,
    SiteCandidate,
    triage_sites,
)
from careflow.domain.resources import ResourceKind
from careflow.domain.sites import distance_km
from careflow.services import exception_queue
from careflow.services.booking import BookingDeps, book_option
from careflow.services.context import load_patient
from careflow.services.finding import candidate_sites, find
from careflow.services.ports import AuditEntry, Notification, Notifier, UnitOfWork

__all__ = [
    "ReferralDeps",
    "ReferralStore",
    "book_recommendation",
    "choose",
    "create",
    "ensure",
    "get",
    "list_referrals",
    "new_referral_id",
    "queue",
    "triage",
]

TEAM = "referral_center"
SYNONYMS = {"emergency": "emergent"}  # what some EHRs (and the ingest endpoint) call it
LIMITED_SCAN = 10_000  # referrals a site-limited listing filters (newest first)


class ReferralStore(Protocol):
    """Referrals, on the connection of one unit of work."""

    def get(self, referral_id: str, *, lock: bool = False) -> Referral | None: ...

    def add(self, referral: Referral) -> None: ...

    def save(self, referral: Referral, expected_version: int) -> None:
        """Write the referral if its stored version is still ``expected_version`` (else ``RaceLost``)."""
        ...

    def find(self, status: str | None, patient_id: str | None, offset: int,
             limit: int) -> tuple[list[Referral], int]:
        """A page, newest first, and the total."""
        ...


@dataclass(frozen=True)
class ReferralDeps:
    booking: BookingDeps
    referrals_of: Callable[[UnitOfWork], ReferralStore]
    policy: ReferralPolicy = DEFAULT_REFERRAL_POLICY


def new_referral_id() -> str:
    return f"rf_{uuid.uuid4().hex}"


def _audit(uow: UnitOfWork, actor: str, action: str, referral: Referral, **detail: Any) -> None:
    uow.audit(AuditEntry(actor, action, "referral", referral.id, "success", referral.note,
                         detail={"status": referral.status.value, **detail}))


def create(referral: Referral, actor: Actor, deps: ReferralDeps) -> Referral:
    """Record a referral and its ``ReferralReceived`` event (which starts the workflow)."""
    actor.require(Permission.BOOKING_WRITE)
    for site_id in referral.site_ids:
        actor.require_site(site_id)
    # a site-limited scheduler refers within its own sites (none named: all of them)
    referral.site_ids = tuple(sorted(actor.search_sites(frozenset(SiteId(s) for s in referral.site_ids))))
    with deps.booking.uow(write=True) as uow:
        catalog = deps.booking.catalogs.get(uow)
        service = catalog.service(referral.service_id)
        load_patient(uow, referral.patient_id)
        for site_id in referral.site_ids:
            catalog.site(site_id)
        referral.service_id = service.id  # a code is accepted; the id is stored
        store = deps.referrals_of(uow)
        if store.get(referral.id) is not None:
            raise Conflict(f"referral {referral.id} exists")
        store.add(referral)
        uow.publish([ReferralReceived(
            referral.id, referral.patient_id, referral.service_id, referral.urgency, referral.earliest,
            referral.latest, referral.site_ids, referral.referring, referral.source, referral.reference)])
        _audit(uow, actor.id, "referral.create", referral, service_id=referral.service_id)
        uow.commit()
    return referral


def ensure(payload: dict[str, Any], deps: ReferralDeps) -> Referral:
    """The referral of a ``ReferralReceived`` event, written if it is not there yet (a
    referral reported by the EHR arrives as the event alone)."""
    def when(key: str) -> datetime | None:
        value = payload.get(key)
        return datetime.fromisoformat(value) if value else None

    with deps.booking.uow(write=True) as uow:
        store = deps.referrals_of(uow)
        found = store.get(payload["aggregate_id"])
        if found is not None:
            return found
        urgency = str(payload.get("urgency") or "routine")
        referral = Referral(payload["aggregate_id"], payload.get("patient_id", ""),
                            payload.get("service_id", ""), SYNONYMS.get(urgency, urgency),
                            deps.booking.clock(), when("earliest"), when("latest"),
                            tuple(payload.get("site_ids") or ()), payload.get("referring", ""),
                            payload.get("source", ""), payload.get("reference", ""))
        store.add(referral)
        _audit(uow, SYSTEM.id, "referral.receive", referral, source=referral.source)
        uow.commit()
    return referral


def _visible(referral: Referral, actor: Actor) -> bool:
    """A site-limited actor sees referrals to one of its sites, or to any site."""
    return not referral.site_ids or any(actor.may_see_site(s) for s in referral.site_ids)


def get(referral_id: str, actor: Actor, deps: ReferralDeps) -> Referral:
    actor.require(Permission.BOOKING_READ)
    with deps.booking.uow() as uow:
        found = deps.referrals_of(uow).get(referral_id)
    if found is None or not _visible(found, actor):
        raise NotFound("referral", referral_id)
    return found


def list_referrals(status: str | None, patient_id: str | None, actor: Actor, deps: ReferralDeps,
                   offset: int = 0, limit: int = 50) -> tuple[list[Referral], int]:
    """A page, newest first; a site-limited actor's page holds only what it may see."""
    actor.require(Permission.BOOKING_READ)
    if status is not None and status not in {s.value for s in ReferralStatus}:
        raise InvalidRequest(f"status must be one of {', '.join(s.value for s in ReferralStatus)}", "status")
    with deps.booking.uow() as uow:
        store = deps.referrals_of(uow)
        if actor.sites is None or actor.break_glass:
            return store.find(status, patient_id, offset, limit)
        everything, _ = store.find(status, patient_id, 0, LIMITED_SCAN)
    mine = [r for r in everything if _visible(r, actor)]
    return mine[offset:offset + limit], len(mine)


def _change(referral_id: str, deps: ReferralDeps, actor: str, action: str,
            step: Callable[[Referral, datetime], None], **detail: Any) -> Referral:
    with deps.booking.uow(write=True) as uow:
        store = deps.referrals_of(uow)
        referral = store.get(referral_id, lock=True)
        if referral is None:
            raise NotFound("referral", referral_id)
        expected = referral.version
        step(referral, deps.booking.clock())
        store.save(referral, expected)
        _audit(uow, actor, action, referral, **detail)
        uow.commit()
    return referral


def choose(referral_id: str, rank: int, actor: Actor, deps: ReferralDeps) -> Referral:
    """The patient (or a scheduler for them) picks one of the offered options; the
    workflow books it (``services/workflows/referral.py`` is woken by the caller)."""
    actor.require(Permission.BOOKING_WRITE)
    referral = get(referral_id, actor, deps)
    site = next((r["site_id"] for r in referral.recommendations if r["rank"] == rank), None)
    if site is not None:
        actor.require_site(site)
    return _change(referral_id, deps, actor.id, "referral.choose",
                   lambda r, now: r.choose(rank, actor.id, now), rank=rank)


# --- the workflow's steps -------------------------------------------------------------


def _candidate(deps: ReferralDeps, referral: Referral, site_id: str, earliest: datetime,
               latest: datetime, home: Any) -> SiteCandidate | None:
    request = FindRequest(ServiceId(referral.service_id), PatientId(referral.patient_id), earliest, latest,
                          frozenset({SiteId(site_id)}), Urgency(referral.urgency), limit=5)
    options = find(request, deps.booking).options
    if not options:
        return None
    best = options[0]
    with deps.booking.uow() as uow:
        catalog = deps.booking.catalogs.get(uow)
    service = catalog.service(referral.service_id)
    clinicians = [catalog.resources[a.resource_id] for a in best.allocations
                  if catalog.resources[a.resource_id].kind is ResourceKind.CLINICIAN]
    match = service.specialty is None or not service.roles or any(
        service.specialty in c.clinician.specialties for c in clinicians)
    site = catalog.site(site_id)
    return SiteCandidate(site_id, best.start, min(o.start for o in options),
                         distance_km(home, site.position) if home is not None else None, match,
                         service.specialty if service.roles else None,
                         tuple((a.role, a.resource_id) for a in best.allocations))


def triage(referral_id: str, deps: ReferralDeps) -> list[Recommendation]:
    """Rank the sites that can see the patient within the acuity's horizon (read only)."""
    with deps.booking.uow() as uow:
        referral = deps.referrals_of(uow).get(referral_id)
        if referral is None:
            raise NotFound("referral", referral_id)
        catalog = deps.booking.catalogs.get(uow)
        service = catalog.service(referral.service_id)
        patient = load_patient(uow, referral.patient_id)
    now = deps.booking.clock()
    earliest = max(referral.earliest or now, now)
    latest = referral.latest or earliest + timedelta(days=deps.policy.horizon_days[referral.urgency])
    if latest <= earliest:
        return []
    probe = FindRequest(service.id, patient.id, earliest, latest,
                        frozenset(SiteId(s) for s in referral.site_ids), Urgency(referral.urgency))
    sites = candidate_sites(catalog, probe, service, patient)
    found = [_candidate(deps, referral, s.id, earliest, latest, patient.home) for s in sites]
    return triage_sites([c for c in found if c is not None], referral.urgency, now, deps.policy)


def option_of(referral: Referral, rec: Recommendation, deps: ReferralDeps) -> Option:
    """The recommendation as a bookable option (intervals re-derived from the card)."""
    with deps.booking.uow() as uow:
        catalog = deps.booking.catalogs.get(uow)
        patient = load_patient(uow, referral.patient_id)
    service = catalog.service(referral.service_id)
    assignments = [Assignment(role, ResourceId(rid)) for role, rid in rec.assignments]
    end, allocations = build_allocations(service, service.needs(patient.interpreter_language), rec.start,
                                         assignments, catalog.resources)
    return Option(service.id, PatientId(referral.patient_id), SiteId(rec.site_id), rec.start, end,
                  allocations, urgency=Urgency(referral.urgency))


def book_recommendation(referral_id: str, rank: int, recommendations: list[Recommendation],
                        decision: str, deps: ReferralDeps) -> Booking | None:
    """Book the recommendation ranked ``rank`` and mark the referral booked; None when it
    can no longer be booked (someone took the time). A referral already booked returns
    its booking (the step ran before a crash)."""
    with deps.booking.uow() as uow:
        referral = deps.referrals_of(uow).get(referral_id)
        if referral is None:
            raise NotFound("referral", referral_id)
        if referral.booking_id is not None:
            return uow.bookings.get(referral.booking_id)
    rec = next(r for r in recommendations if r.rank == rank)
    try:
        booking = book_option(BookOption(option_of(referral, rec, deps), SYSTEM), deps.booking)
    except CareflowError:  # taken meanwhile, or the card or a resource changed: not bookable now
        return None
    note = (f"booked rank {rank} at {rec.site_id} ({decision}): "
            + "; ".join(r["detail"] for r in rec.reasons))

    def step(r: Referral, now: datetime) -> None:
        r.decision = r.decision or decision
        if not r.recommendations:
            r.recommendations = [x.to_dict() for x in recommendations]
        r.booked(booking.id, now, note)

    _change(referral_id, deps, SYSTEM.id, "referral.book", step, booking_id=booking.id, rank=rank)
    return booking


def offer(referral_id: str, recommendations: list[Recommendation], deps: ReferralDeps,
          note: str) -> Referral:
    """Offer the top recommendations; the choice is due after the policy's timeout."""
    top = recommendations[:deps.policy.choices]

    def step(r: Referral, now: datetime) -> None:
        if r.status is ReferralStatus.AWAITING_CHOICE and r.recommendations == [x.to_dict() for x in top]:
            return  # offered already (the step runs again after a crash)
        r.offer(top, now + deps.policy.choice_timeout, now, note)

    return _change(referral_id, deps, SYSTEM.id, "referral.offer", step, options=len(top))


def notify_offer(referral: Referral, round_no: int, notifier: Notifier) -> bool:
    """Tell the patient the options (times and site ids only) and how to choose."""
    lines = [f"{r['rank']}. {r['start']} at site {r['site_id']}" for r in referral.recommendations]
    due = referral.choice_due_at.isoformat() if referral.choice_due_at else ""
    return notifier.notify(Notification(
        f"referral:{referral.id}:offer:{round_no}", "patient", referral.patient_id, "referral.offer",
        "Choose your appointment", "Reply with the number of the time that suits you:\n"
        + "\n".join(lines) + f"\nPlease choose by {due}.",
        data={"referral_id": referral.id, "ranks": [r["rank"] for r in referral.recommendations],
              "due": due}))


def notify_booked(referral_id: str, booking: Booking, notifier: Notifier) -> bool:
    return notifier.notify(Notification(
        f"referral:{referral_id}:booked", "patient", booking.patient_id, "referral.booked",
        "Your appointment is booked", f"Your appointment is on {booking.start.isoformat()} at site "
        f"{booking.site_id}.", booking.id, {"referral_id": referral_id, "site_id": booking.site_id,
                                             "start": booking.start.isoformat()}))


def exception_id_for(referral_id: str) -> str:
    """One queue item per referral: a step that runs again finds the item it raised."""
    return f"ex_{uuid.uuid5(uuid.NAMESPACE_URL, 'careflow:referral:' + referral_id).hex}"


def queue(referral_id: str, summary: str, priority: str, deps: ReferralDeps) -> Referral:
    """Hand the referral to the referral center with the ranked options attached."""
    item_id = exception_id_for(referral_id)
    with deps.booking.uow() as uow:
        referral = deps.referrals_of(uow).get(referral_id)
        if referral is None:
            raise NotFound("referral", referral_id)
        if referral.status is ReferralStatus.QUEUED:
            return referral
        exists = uow.exceptions.get(item_id) is not None
    if not exists:
        site = referral.site_ids[0] if len(referral.site_ids) == 1 else None
        exception_queue.raise_exception(RaiseException(
            "referral_triage", TEAM, priority, summary, case_id=referral.id, patient_id=referral.patient_id,
            site_id=site, alternatives=tuple(referral.recommendations)), SYSTEM, deps.booking.uow,
            deps.booking.clock, item_id=item_id)
    return _change(referral_id, deps, SYSTEM.id, "referral.queue",
                   lambda r, now: r.queued(item_id, now, summary), exception_id=item_id)


def refresh(referral_id: str, deps: ReferralDeps) -> Referral:
    with deps.booking.uow() as uow:
        found = deps.referrals_of(uow).get(referral_id)
    if found is None:
        raise NotFound("referral", referral_id)
    return found


def triage_or_none(referral_id: str, deps: ReferralDeps) -> tuple[list[Recommendation], str]:
    """Recommendations, or none and why (a referral naming an unknown patient or service
    goes to the queue with the reason instead of failing the workflow)."""
    try:
        return triage(referral_id, deps), ""
    except CareflowError as exc:
        return [], str(exc)
