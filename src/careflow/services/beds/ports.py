"""What bed placement stores and needs: the ``BedStore`` port and ``BedDeps``.

The store works on the connection of the caller's unit of work (``beds_of(uow)``), so an
event handler's bed changes commit with its inbox row, and a placement commits with the
booking it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from careflow.domain.beds import Admission, AdmissionStatus, BedState
from careflow.domain.ids import ServiceId
from careflow.domain.preference_cards import Service, ServiceKind
from careflow.services.booking import BookingDeps
from careflow.services.ports import UnitOfWork

__all__ = ["STAY_SERVICE", "AdmissionFilter", "BedDeps", "BedStore", "BedsOf", "Signal"]

# The service every bed-only booking (a placed admission) is recorded under. It is
# inactive, so find never proposes it and nobody books it by hand; placement makes sure
# the row exists (bookings refer to a service).
STAY_SERVICE = Service(ServiceId("svc-inpatient-stay"), "INPATIENT-STAY", "Inpatient stay (bed placement)",
                       ServiceKind.PROCEDURE, 60, active=False)


@dataclass(frozen=True, slots=True)
class AdmissionFilter:
    site_id: str | None = None
    status: AdmissionStatus | None = None
    patient_id: str | None = None
    site_ids: frozenset[str] | None = None  # an actor's site limit (None: every site)


class BedStore(Protocol):
    """Admissions and bed status, in the caller's transaction."""

    def add_admission(self, admission: Admission) -> None: ...

    def admission(self, admission_id: str, *, lock: bool = False) -> Admission | None: ...

    def save_admission(self, admission: Admission, expected_version: int) -> None:
        """Write it if its stored version is still ``expected_version`` (else ``RaceLost``)."""
        ...

    def admissions(self, flt: AdmissionFilter, offset: int, limit: int) -> tuple[list[Admission], int]:
        """A page, in waiting order (urgency, then request time), and the total."""
        ...

    def waiting(self, site_id: str) -> list[Admission]:
        """The site's waiting admissions, most urgent first, then the longest waiting."""
        ...

    def states(self, site_id: str) -> dict[str, BedState]:
        """The recorded status of the site's beds (a bed with no row is clean)."""
        ...

    def lock_beds(self, site_id: str, bed_ids: Collection[str], now: datetime) -> dict[str, BedState]:
        """Lock these beds' status rows until commit (creating clean rows for beds never
        seen), in id order, and return their status: placements at a site and a bed's
        discharge or cleaning take turns, so nobody is placed in a bed being vacated."""
        ...

    def put_state(self, state: BedState) -> BedState:
        """Write a locked bed's status (its version moves on)."""
        ...

    def ensure_service(self, service: Service) -> bool:
        """Create the service row if it is missing (True when it was created)."""
        ...


BedsOf = Callable[[UnitOfWork], BedStore]
Signal = Callable[[str], None]


def _no_signal(admission_id: str) -> None:
    """No workflow runtime: nothing to start or wake (beds that come back are still given
    out by the BedCleaned handler)."""


@dataclass(frozen=True)
class BedDeps:
    """What bed placement needs, wired once in ``bootstrap``.

    ``start`` starts the placement workflow of an admission left waiting, ``signal`` wakes
    it (DBOS under services/workflows/beds.py; without it, no-ops); ``poll_seconds`` is how
    long a waiting workflow sleeps between looks when no signal comes."""

    booking: BookingDeps
    beds_of: BedsOf
    signal: Signal = field(default=_no_signal)
    start: Signal = field(default=_no_signal)  # starts the durable wait of an admission left waiting
    poll_seconds: float = 300.0
