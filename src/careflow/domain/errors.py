"""Domain errors.

An expected outcome (no slot, a dependency that fails) is a result carrying violations,
not an exception. Exceptions are for requests that cannot be processed at all:

    CareflowError
    ├── InvalidRequest      malformed or impossible input (names the field)
    ├── NotFound            an id that does not exist
    ├── Conflict            a dependency fails or a race is lost (carries violations)
    ├── InvalidTransition   a lifecycle step that the booking's status forbids
    ├── Unauthenticated     no valid credentials (missing, forged or expired token)
    └── PermissionDenied    the actor lacks a permission (e.g. to override)

Entry points map these once: problem+json on REST, exit code 2 on the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careflow.domain.violations import Violation

__all__ = [
    "CareflowError",
    "Conflict",
    "InvalidRequest",
    "InvalidTransition",
    "NotFound",
    "PermissionDenied",
    "Unauthenticated",
]


class CareflowError(Exception):
    """Base of every error careflow raises on purpose."""


class InvalidRequest(CareflowError):
    """The request is malformed or impossible; `field` names the offending input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(CareflowError):
    """An id that does not exist."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class Conflict(CareflowError):
    """A dependency fails, or a concurrent writer won the race; carries the violations."""

    def __init__(self, message: str, violations: Sequence[Violation] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations = tuple(violations)


class InvalidTransition(CareflowError):
    """The booking's current status does not allow the requested step."""


class Unauthenticated(CareflowError):
    """No valid credentials: a missing, malformed, forged or expired bearer token."""


class PermissionDenied(CareflowError):
    """The actor lacks the permission the step needs."""

    def __init__(self, permission: str, message: str | None = None) -> None:
        super().__init__(message or f"permission {permission!r} required")
        self.permission = permission
