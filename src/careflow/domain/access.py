"""Who is acting, and what they may do.

Roles map to named permissions; a token's SMART-style scopes can only narrow them
(``user/Appointment.read`` lets a scheduler's token read appointments and nothing else).
An actor may be limited to some sites: a clinic manager of one clinic sees and changes
that clinic only. Break-glass adds a small, explicit set of permissions for a limited
time; the API layer grants and audits it, the domain only sees the resulting actor.

"Minimum necessary" (HIPAA) is expressed by two patient permissions: ``patient.read``
gives what scheduling needs (name, birth date, language, interpreter, preferences,
readiness), ``patient.read_clinical`` adds the rest (MRN, home position, isolation,
prep dates, usual clinicians).
"""

from __future__ import annotations

from dataclasses import dataclass

from careflow.domain.errors import PermissionDenied
from careflow.domain.ids import SiteId

__all__ = [
    "BREAK_GLASS_PERMISSIONS",
    "EXCEPTION_MANAGER_ROLES",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SCOPE_PERMISSIONS",
    "SYSTEM",
    "Actor",
    "Permission",
    "permissions_for_scopes",
]


class Permission:
    BOOKING_READ = "booking.read"
    BOOKING_WRITE = "booking.write"
    BOOKING_OVERRIDE = "booking.override"
    PATIENT_READ = "patient.read"
    PATIENT_READ_CLINICAL = "patient.read_clinical"
    PATIENT_WRITE = "patient.write"
    AUTHORIZATION_READ = "authorization.read"
    AUTHORIZATION_WRITE = "authorization.write"
    MASTER_READ = "master.read"
    MASTER_WRITE = "master.write"
    STOCK_READ = "stock.read"
    STOCK_WRITE = "stock.write"
    AUDIT_READ = "audit.read"
    RULE_WRITE = "rule.write"
    RULE_APPROVE = "rule.approve"
    USER_MANAGE = "user.manage"
    EVENT_INGEST = "event.ingest"
    EXCEPTION_READ = "exception.read"
    EXCEPTION_WORK = "exception.work"  # claim, reassign, comment, resolve
    EXCEPTION_RAISE = "exception.raise"
    BED_READ = "bed.read"  # the bed board and admissions
    BED_WRITE = "bed.write"  # request admissions, report beds cleaned
    BREAK_GLASS = "break_glass"
    PLAN_READ = "plan.read"  # optimized plans and proposals: day sequencing, admission plan, weights
    PLAN_WRITE = "plan.write"  # run the optimizer on the site's data and apply its proposals
    PLAN_CONFIGURE = "plan.configure"  # a site's planning cost weights
    PREDICT_READ = "predict.read"  # no-show risk, durations, demand, overbooking advice, model cards
    PREDICT_CONFIGURE = "predict.configure"  # a site's overbooking mode (advisory or executable) and caps


P = Permission
ALL_PERMISSIONS: frozenset[str] = frozenset(
    v for k, v in vars(Permission).items() if k.isupper() and isinstance(v, str))

_SCHEDULING = frozenset({P.BOOKING_READ, P.BOOKING_WRITE, P.PATIENT_READ, P.MASTER_READ,
                         P.STOCK_READ, P.AUTHORIZATION_READ, P.BREAK_GLASS,
                         P.EXCEPTION_READ, P.EXCEPTION_WORK, P.EXCEPTION_RAISE})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "scheduler": _SCHEDULING | {P.PREDICT_READ},
    "perioperative_coordinator": _SCHEDULING | {P.BOOKING_OVERRIDE, P.PATIENT_READ_CLINICAL, P.STOCK_WRITE,
                                                P.PLAN_READ, P.PLAN_WRITE, P.PLAN_CONFIGURE, P.PREDICT_READ},
    "bed_manager": _SCHEDULING | {P.PATIENT_READ_CLINICAL, P.BED_READ, P.BED_WRITE, P.PLAN_READ,
                                  P.PREDICT_READ},
    "clinic_manager": _SCHEDULING | {P.BOOKING_OVERRIDE, P.MASTER_WRITE, P.PLAN_READ, P.PREDICT_READ,
                                     P.PREDICT_CONFIGURE},
    "operations_viewer": frozenset({P.BOOKING_READ, P.MASTER_READ, P.STOCK_READ, P.EXCEPTION_READ,
                                    P.BED_READ, P.PLAN_READ, P.PREDICT_READ}),
    "rule_author": frozenset({P.MASTER_READ, P.RULE_WRITE}),
    "rule_approver": frozenset({P.MASTER_READ, P.RULE_APPROVE}),
    "auditor": frozenset({P.AUDIT_READ, P.BOOKING_READ, P.MASTER_READ, P.EXCEPTION_READ}),
    "integration_client": frozenset({
        P.BOOKING_READ, P.BOOKING_WRITE, P.PATIENT_READ, P.PATIENT_WRITE, P.MASTER_READ,
        P.MASTER_WRITE, P.STOCK_READ, P.STOCK_WRITE, P.AUTHORIZATION_READ, P.AUTHORIZATION_WRITE,
        P.EVENT_INGEST, P.EXCEPTION_RAISE, P.BED_READ, P.BED_WRITE}),
    "admin": ALL_PERMISSIONS - {P.BREAK_GLASS},
}
ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)
# Who may resolve an exception claimed by someone else (besides its assignee).
EXCEPTION_MANAGER_ROLES: frozenset[str] = frozenset({"clinic_manager", "admin"})

# What an active break-glass elevation adds: the clinical patient view, at every site.
BREAK_GLASS_PERMISSIONS: frozenset[str] = frozenset({P.PATIENT_READ, P.PATIENT_READ_CLINICAL})

# SMART-style scopes: ``{user|system|patient}/{ResourceType|*}.{read|write|*}``. A scope
# names a FHIR resource type; these are the permissions it lets through.
_TYPE_PERMISSIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # type: (read permissions, write permissions)
    "Appointment": (frozenset({P.BOOKING_READ}), frozenset({P.BOOKING_WRITE, P.BOOKING_OVERRIDE})),
    "AppointmentResponse": (frozenset({P.BOOKING_READ}), frozenset({P.BOOKING_WRITE})),
    "Slot": (frozenset({P.BOOKING_READ, P.MASTER_READ}), frozenset()),
    "Schedule": (frozenset({P.MASTER_READ}), frozenset({P.MASTER_WRITE})),
    "Patient": (frozenset({P.PATIENT_READ, P.PATIENT_READ_CLINICAL}), frozenset({P.PATIENT_WRITE})),
    "Coverage": (frozenset({P.AUTHORIZATION_READ}), frozenset({P.AUTHORIZATION_WRITE})),
    "Practitioner": (frozenset({P.MASTER_READ}), frozenset({P.MASTER_WRITE})),
    "PractitionerRole": (frozenset({P.MASTER_READ}), frozenset({P.MASTER_WRITE})),
    "Location": (frozenset({P.MASTER_READ}), frozenset({P.MASTER_WRITE})),
    "HealthcareService": (frozenset({P.MASTER_READ}), frozenset({P.MASTER_WRITE})),
    "Device": (frozenset({P.MASTER_READ}), frozenset({P.MASTER_WRITE})),
    "SupplyDelivery": (frozenset({P.STOCK_READ}), frozenset({P.STOCK_WRITE})),
    "AuditEvent": (frozenset({P.AUDIT_READ}), frozenset()),
}
SCOPE_PERMISSIONS = _TYPE_PERMISSIONS


def permissions_for_scopes(scopes: frozenset[str]) -> frozenset[str]:
    """The permissions a set of SMART-style scopes lets through (``*`` types include the
    permissions no FHIR type names: rules, users, events, break-glass)."""
    allowed: set[str] = set()
    for scope in scopes:
        context, _, rest = scope.partition("/")
        resource, _, access = rest.partition(".")
        if context not in ("user", "system", "patient") or access not in ("read", "write", "*"):
            continue
        if resource == "*":
            types = list(_TYPE_PERMISSIONS.values())
        elif resource in _TYPE_PERMISSIONS:
            types = [_TYPE_PERMISSIONS[resource]]
        else:
            continue
        for read, write in types:
            if access in ("read", "*"):
                allowed |= read
            if access in ("write", "*"):
                allowed |= write | read
        if resource == "*" and access in ("write", "*"):
            allowed |= {P.RULE_WRITE, P.RULE_APPROVE, P.USER_MANAGE, P.EVENT_INGEST, P.BREAK_GLASS,
                        P.EXCEPTION_READ, P.EXCEPTION_WORK, P.EXCEPTION_RAISE, P.BED_READ, P.BED_WRITE,
                        P.PLAN_READ, P.PLAN_WRITE, P.PLAN_CONFIGURE, P.PREDICT_READ, P.PREDICT_CONFIGURE}
        elif resource == "*":
            allowed |= {P.EXCEPTION_READ, P.BED_READ, P.PLAN_READ, P.PREDICT_READ}
    return frozenset(allowed)


@dataclass(frozen=True, slots=True)
class Actor:
    """A person or system acting through careflow (an id only: never a name in logs).

    ``scopes`` of ``None`` means no narrowing (the CLI, tests, the system itself);
    ``sites`` of ``None`` means every site. ``break_glass`` is set while an elevation is
    active; it widens the patient view and lifts the site limit.
    """

    id: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    break_glass: bool = False

    @property
    def permissions(self) -> frozenset[str]:
        perms: set[str] = set()
        for role in self.roles:
            perms |= ROLE_PERMISSIONS.get(role, frozenset())
        if self.break_glass and P.BREAK_GLASS in perms:
            perms |= BREAK_GLASS_PERMISSIONS
        if self.scopes is not None:
            perms &= permissions_for_scopes(self.scopes) | (
                BREAK_GLASS_PERMISSIONS if self.break_glass else frozenset())
        return frozenset(perms)

    @property
    def manages_exceptions(self) -> bool:
        """Whether this actor may resolve or reassign an exception someone else claimed."""
        return bool(self.roles & EXCEPTION_MANAGER_ROLES)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(permission, f"actor {self.id!r} lacks permission {permission!r}")

    def may_see_site(self, site_id: str) -> bool:
        """Whether this actor's site limit lets it see or change things at ``site_id``."""
        return self.sites is None or self.break_glass or site_id in self.sites

    def require_site(self, site_id: str) -> None:
        if not self.may_see_site(site_id):
            raise PermissionDenied("site", f"actor {self.id!r} may not act at site {site_id!r}")

    def search_sites(self, asked: frozenset[SiteId]) -> frozenset[SiteId]:
        """The sites a search may cover: those asked for (none: every site), within this
        actor's site limit; refused when none is left."""
        if self.sites is None or self.break_glass:
            return asked
        allowed = frozenset(SiteId(s) for s in self.sites)
        chosen = asked & allowed if asked else allowed
        if not chosen:
            raise PermissionDenied("site", f"actor {self.id!r} may not search at the sites asked for")
        return chosen


SYSTEM = Actor("system", frozenset({"admin"}))
