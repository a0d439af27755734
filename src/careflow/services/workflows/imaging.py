"""Imaging readiness, as a DBOS workflow (id ``imaging-readiness:<booking id>@<start>``).

Started by the ``BookingConfirmed`` and ``BookingRescheduled`` handlers for services whose
bookings need it (imaging with prep items, see ``domain/readiness.py``). It plans its
checkpoints from the booking's start and the clock, then waits durably until each (a
``DBOS.recv`` timeout, which a wake-up message cuts short: ``wake``):

* at a reminder: ready → done; not ready → the patient is reminded of what is missing
  (one notification per reminder, keyed by booking and reminder);
* at the cut-off: ready → done; not ready → the booking is cancelled with the reason,
  an ``imaging_not_ready`` item goes to the imaging desk and the patient is told. The
  cancellation's ``BookingCancelled`` event offers the freed slot to the waitlist (the
  waitlist's own handler, ``services/waitlist.py``), in the same transaction's outbox.

A booking cancelled or moved meanwhile ends the workflow at once (the ``BookingCancelled``
and ``BookingRescheduled`` handlers wake it; the moved booking's plan for its new time is
a workflow of its own). Each step is safe to repeat: a
recovered workflow does not run finished steps again, and a step cut short by a crash
finds its own effect (a cancelled booking, an item with its deterministic id, a
notification key sent).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from dbos import DBOS
from dbos._error import DBOSNonExistentWorkflowError

from careflow.domain.access import SYSTEM
from careflow.domain.bookings import BookingStatus
from careflow.domain.commands import CancelBooking
from careflow.domain.exceptions_queue import RaiseException
from careflow.domain.ids import ServiceId
from careflow.domain.readiness import checkpoints, missing_prep, needs_readiness
from careflow.services import exception_queue
from careflow.services.booking import cancel
from careflow.services.ports import Notification, UnitOfWork
from careflow.services.workflows import care_paths, runtime

__all__ = ["NAME", "TEAM", "imaging_readiness", "on_booking_cancelled", "on_booking_confirmed",
           "on_booking_rescheduled", "start", "wake", "workflow_id"]

TEAM = "imaging_desk"
WAKE_TOPIC = "imaging.readiness.wake"  # "look again now": the booking moved or was cancelled


def workflow_id(booking_id: str, start_at: str) -> str:
    """One workflow per booking and start: a booking moved to another time gets its own."""
    return f"imaging-readiness:{booking_id}@{start_at}"


NAME = "careflow.imaging_readiness"


def start(booking_id: str, start_at: str) -> str:
    """Start the workflow of a booking at ``start_at`` (ISO; once per booking and start)."""
    wid = workflow_id(booking_id, start_at)
    runtime.enqueue(imaging_readiness, NAME, wid, booking_id, start_at)
    return wid


def on_booking_confirmed(payload: dict[str, Any], uow: UnitOfWork) -> None:
    """The ``BookingConfirmed`` handler: start the workflow when the service needs it."""
    _start_if_needed(str(payload["aggregate_id"]), uow)


def on_booking_rescheduled(payload: dict[str, Any], uow: UnitOfWork) -> None:
    """The ``BookingRescheduled`` handler: the moved booking gets a plan for its new time,
    and the workflow of the old time is woken to see the move and end."""
    booking_id = str(payload["aggregate_id"])
    if payload.get("old_start") and _needs(uow, booking_id):
        wake(booking_id, str(payload["old_start"]))
    _start_if_needed(booking_id, uow)


def on_booking_cancelled(payload: dict[str, Any], uow: UnitOfWork) -> None:
    """The ``BookingCancelled`` handler: the booking's workflow ends now, not at its next
    checkpoint (its own cancellation at the cut-off wakes nothing: that workflow is done)."""
    booking_id = str(payload["aggregate_id"])
    booking = uow.bookings.get(booking_id)
    if booking is not None and _needs(uow, booking_id):
        wake(booking_id, booking.start.isoformat())


def wake(booking_id: str, start_at: str) -> bool:
    """Ask the booking's workflow for ``start_at`` to look again now; False when there is
    none (a service without readiness, a booking older than the workflow)."""
    try:
        runtime.send(workflow_id(booking_id, start_at), {"wake": True}, WAKE_TOPIC)
        return True
    except DBOSNonExistentWorkflowError:
        return False


def _needs(uow: UnitOfWork, booking_id: str) -> bool:
    booking = uow.bookings.get(booking_id)
    if booking is None:
        return False
    service = runtime.deps().booking.catalogs.get(uow).services.get(ServiceId(booking.service_id))
    return service is not None and needs_readiness(service)


def _start_if_needed(booking_id: str, uow: UnitOfWork) -> None:
    booking = uow.bookings.get(booking_id)
    if booking is None or booking.status is not BookingStatus.BOOKED:
        return
    service = runtime.deps().booking.catalogs.get(uow).services.get(ServiceId(booking.service_id))
    if service is not None and needs_readiness(service):
        start(booking.id, booking.start.isoformat())


@DBOS.step(name="careflow.imaging.state")
def _state(booking_id: str) -> dict[str, Any]:
    """The booking's status and start, the prep it misses, and the clock."""
    booking_deps = runtime.deps().booking
    with booking_deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
        if booking is None:
            return {"status": "missing", "start": "", "missing": [], "now": booking_deps.clock().isoformat()}
        service = booking_deps.catalogs.get(uow).service(booking.service_id)
        patient = uow.master.patient(booking.patient_id)
        done = patient.completed_prep if patient is not None else {}
    return {"status": booking.status.value, "start": booking.start.isoformat(),
            "missing": missing_prep(service, done), "site_id": booking.site_id,
            "patient_id": booking.patient_id, "now": booking_deps.clock().isoformat()}


@DBOS.step(name="careflow.imaging.plan")
def _plan(start_at: str, now: str) -> list[dict[str, str]]:
    policy = care_paths.paths().readiness_policy
    return [c.to_dict() for c in checkpoints(datetime.fromisoformat(start_at), datetime.fromisoformat(now),
                                             policy)]


@DBOS.step(name="careflow.imaging.now")
def _now() -> str:
    return runtime.deps().booking.clock().isoformat()


@DBOS.step(name="careflow.imaging.remind")
def _remind(booking_id: str, patient_id: str, label: str, start_at: str, missing: list[str]) -> bool:
    return runtime.deps().notifier.notify(Notification(
        f"imaging-readiness:{booking_id}@{start_at}:reminder:{label}", "patient", patient_id,
        "imaging.readiness_reminder",
        "Getting ready for your imaging appointment",
        f"Your appointment on {start_at} needs: {', '.join(missing)}. Please complete them before the "
        "appointment, or it may be given to another patient.", booking_id,
        {"missing": list(missing), "start": start_at, "reminder": label}))


@DBOS.step(name="careflow.imaging.cancel")
def _cancel(booking_id: str, missing: list[str]) -> bool:
    """Cancel the booking for readiness; False when it is no longer booked (someone else
    cancelled or moved it, or this step ran before a crash)."""
    booking_deps = runtime.deps().booking
    with booking_deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    if booking is None or booking.status is not BookingStatus.BOOKED:
        return booking is not None and booking.reason.startswith("imaging_not_ready")
    reason = f"imaging_not_ready: {', '.join(missing)} not completed by the cut-off"
    cancel(CancelBooking(booking_id, reason, SYSTEM), booking_deps)
    return True


def exception_id_for(booking_id: str) -> str:
    return f"ex_{uuid.uuid5(uuid.NAMESPACE_URL, 'careflow:imaging-readiness:' + booking_id).hex}"


@DBOS.step(name="careflow.imaging.raise")
def _raise(booking_id: str, patient_id: str, site_id: str, missing: list[str]) -> str:
    booking_deps = runtime.deps().booking
    item_id = exception_id_for(booking_id)
    with booking_deps.uow() as uow:
        if uow.exceptions.get(item_id) is not None:
            return item_id
    exception_queue.raise_exception(RaiseException(
        "imaging_not_ready", TEAM, "high",
        f"booking {booking_id} cancelled at the readiness cut-off: {', '.join(missing)} missing",
        booking_id=booking_id, patient_id=patient_id, site_id=site_id), SYSTEM, booking_deps.uow,
        booking_deps.clock, item_id=item_id)
    return item_id


@DBOS.step(name="careflow.imaging.tell_cancelled")
def _tell_cancelled(booking_id: str, patient_id: str, start_at: str, missing: list[str]) -> bool:
    return runtime.deps().notifier.notify(Notification(
        f"imaging-readiness:{booking_id}:cancelled", "patient", patient_id, "imaging.cancelled_not_ready",
        "Your imaging appointment was cancelled",
        f"Your appointment on {start_at} was cancelled because {', '.join(missing)} "
        "was not completed in time. The imaging desk will contact you to book a new time.", booking_id,
        {"missing": list(missing), "start": start_at}))


def _wait_until(at: datetime) -> bool:
    """A durable timer (recorded: a recovered workflow waits only what is left) that a
    ``WAKE_TOPIC`` message cuts short; True when woken before ``at``."""
    remaining = (at - datetime.fromisoformat(_now())).total_seconds()
    if remaining <= 0:
        return False
    return DBOS.recv(WAKE_TOPIC, timeout_seconds=remaining) is not None


@DBOS.workflow(name=NAME)
def imaging_readiness(booking_id: str, start_at: str) -> str:
    """Remind, then cancel at the cut-off if still not ready; returns the outcome."""
    state = _state(booking_id)
    if state["status"] != BookingStatus.BOOKED.value or state["start"] != start_at:
        return "moved_or_cancelled"
    for point in _plan(start_at, state["now"]):
        while True:
            woken = _wait_until(datetime.fromisoformat(point["at"]))
            state = _state(booking_id)
            if state["status"] != BookingStatus.BOOKED.value or state["start"] != start_at:
                return "moved_or_cancelled"
            if not state["missing"]:
                return "ready"
            if not woken:
                break  # the checkpoint's time has come
        if point["kind"] == "reminder":
            _remind(booking_id, state["patient_id"], point["label"], start_at, state["missing"])
            continue
        if _cancel(booking_id, state["missing"]):
            _raise(booking_id, state["patient_id"], state["site_id"], state["missing"])
            _tell_cancelled(booking_id, state["patient_id"], start_at, state["missing"])
            return "cancelled"
        return "moved_or_cancelled"
    return "ready" if not _state(booking_id)["missing"] else "not_ready_no_cutoff"
