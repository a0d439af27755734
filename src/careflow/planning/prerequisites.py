"""Patient-level prerequisites narrow the search before any resource is looked at.

An authorization is valid on some days only; a readiness item that is not complete must
be done a number of days before the case. Both turn into the days on which a case may
take place at all, so ``find`` searches only those and, when there are none, says why
at once instead of testing every slot against the same refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from careflow.domain.checks import check_authorization, check_prep
from careflow.domain.patients import Authorization, AuthorizationStatus, Patient
from careflow.domain.preference_cards import Service
from careflow.domain.timespans import Span, intersect, normalize, to_ts
from careflow.domain.violations import Violation

__all__ = ["prerequisite_days"]

FAR = 2**40


def _midnight(day: date, zone: ZoneInfo) -> int:
    return to_ts(datetime.combine(day, time(), tzinfo=zone))


def _authorized(service: Service, auths: Sequence[Authorization], zone: ZoneInfo) -> list[Span] | None:
    """Spans covered by an approved (or not-required) authorization; None: no constraint."""
    if not service.prerequisites.authorization:
        return None
    spans: list[Span] = []
    for a in auths:
        if a.service_id != service.id:
            continue
        if a.status is AuthorizationStatus.NOT_REQUIRED:
            return None
        if a.status is AuthorizationStatus.APPROVED:
            lo = _midnight(a.valid_from, zone) if a.valid_from else -FAR
            hi = _midnight(a.valid_to + timedelta(days=1), zone) if a.valid_to else FAR
            spans.append((lo, hi))
    return normalize(spans)


def prerequisite_days(service: Service, patient: Patient, auths: Sequence[Authorization],
                      window: Span, now: datetime, zone: ZoneInfo) -> tuple[list[Span], list[Violation]]:
    """The parts of ``window`` where authorization and readiness allow a case, and why not elsewhere."""
    allowed: list[Span] = [window]
    why: list[Violation] = []
    covered = _authorized(service, auths, zone)
    if covered is not None:
        allowed = intersect(allowed, covered)
        if not allowed:
            day = datetime.fromtimestamp(window[0], zone).date()
            why += check_authorization(service, auths, day)
    today = now.astimezone(zone).date()
    lead = max((p.due_days_before for p in service.prerequisites.prep
                if p.code not in patient.completed_prep), default=None)
    if lead is not None and allowed:
        first = today + timedelta(days=lead)
        allowed = intersect(allowed, [(_midnight(first, zone), FAR)])
        if not allowed:
            day = datetime.fromtimestamp(window[1] - 1, zone).date()
            why += check_prep(service, patient, day, today)
    return allowed, why
