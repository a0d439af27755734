"""Who is acting, and what they may do.

The full role model, tokens and scopes arrive with the API security layer; the domain
only needs an ``Actor`` and named permissions so that use cases can refuse what the
actor may not do (an override of soft violations, for one).
"""

from __future__ import annotations

from dataclasses import dataclass

from careflow.domain.errors import PermissionDenied

__all__ = ["ROLE_PERMISSIONS", "SYSTEM", "Actor", "Permission"]


class Permission:
    BOOKING_READ = "booking.read"
    BOOKING_WRITE = "booking.write"
    BOOKING_OVERRIDE = "booking.override"
    MASTER_WRITE = "master.write"


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "scheduler": frozenset({Permission.BOOKING_READ, Permission.BOOKING_WRITE}),
    "perioperative_coordinator": frozenset(
        {Permission.BOOKING_READ, Permission.BOOKING_WRITE, Permission.BOOKING_OVERRIDE}),
    "clinic_manager": frozenset(
        {Permission.BOOKING_READ, Permission.BOOKING_WRITE, Permission.BOOKING_OVERRIDE}),
    "bed_manager": frozenset({Permission.BOOKING_READ, Permission.BOOKING_WRITE}),
    "operations_viewer": frozenset({Permission.BOOKING_READ}),
    "admin": frozenset({Permission.BOOKING_READ, Permission.BOOKING_WRITE,
                        Permission.BOOKING_OVERRIDE, Permission.MASTER_WRITE}),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """A person or system acting through careflow (an id only: never a name in logs)."""

    id: str
    roles: frozenset[str] = frozenset()

    @property
    def permissions(self) -> frozenset[str]:
        perms: set[str] = set()
        for role in self.roles:
            perms |= ROLE_PERMISSIONS.get(role, frozenset())
        return frozenset(perms)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(permission, f"actor {self.id!r} lacks permission {permission!r}")


SYSTEM = Actor("system", frozenset({"admin"}))
