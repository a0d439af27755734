"""The bed placement workflow (DBOS): an admission waits, durably, until it has a bed.

    place    ─ the best bed that suits the patient and is clean and free for the stay
               (services/beds/placement.py); placed or cancelled: done
    overdue  ─ waited past its SLA: a bed_placement exception for bed management, once,
               with the ranked near-misses
    wait     ─ DBOS.recv: a signal (a bed came back from housekeeping and this admission
               was placed in it, or may fit now) or a timeout (look again)

Beds that come back from housekeeping are given out by the ``BedCleaned`` handler, most
urgent admission first, then the longest waiting; the placements it makes signal their
workflows here through ``AdmissionPlaced``. Every step is safe to repeat: ``place`` of a
placed admission returns it, the overdue exception is recorded on the admission in the
transaction that raises it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from dbos import DBOS

from careflow.domain.beds import AdmissionStatus
from careflow.services.beds import placement
from careflow.services.beds.ports import AdmissionFilter, BedDeps
from careflow.services.workflows import runtime

__all__ = ["BED_PLACEMENT", "SIGNAL_TOPIC", "configure", "placement_workflow", "resume_waiting", "signal",
           "start", "wire", "workflow_id"]

BED_PLACEMENT = "careflow.bed_placement"
SIGNAL_TOPIC = "bed.signal"
MAX_ROUNDS = 10_000
_log = logging.getLogger(__name__)
_deps: BedDeps | None = None


def configure(bed_deps: BedDeps) -> None:
    global _deps
    _deps = bed_deps


def _bed_deps() -> BedDeps:
    if _deps is None:
        raise RuntimeError("bed placement is not configured: call workflows.beds.configure() at start-up")
    return _deps


def workflow_id(admission_id: str) -> str:
    return f"admission-{admission_id}"


@DBOS.step(name="beds.place")
def place_step(admission_id: str) -> dict[str, Any]:
    """Try to place the admission; how long to wait before looking again, and whether it
    is overdue (past its SLA, not yet on the exception queue)."""
    d = _bed_deps()
    adm = placement.place(admission_id, d)
    now = d.booking.clock()
    left = (adm.sla_due_at - now).total_seconds()
    overdue = adm.status is AdmissionStatus.WAITING and adm.exception_id is None and left <= 0
    wait = d.poll_seconds if adm.exception_id is not None or left <= 0 else min(d.poll_seconds, left)
    return {"status": adm.status.value, "bed_id": adm.bed_id, "booking_id": adm.booking_id,
            "overdue": overdue, "wait_seconds": max(wait, 0.05)}


@DBOS.step(name="beds.overdue")
def overdue_step(admission_id: str) -> str | None:
    return placement.raise_overdue(admission_id, _bed_deps())


@DBOS.workflow(name=BED_PLACEMENT)
def placement_workflow(admission_id: str) -> dict[str, Any]:
    """Wait for a bed for one admission; returns how it ended (placed or cancelled)."""
    for _ in range(MAX_ROUNDS):
        result = place_step(admission_id)
        if result["status"] != AdmissionStatus.WAITING.value:
            return result
        if result["overdue"]:
            overdue_step(admission_id)
        DBOS.recv(SIGNAL_TOPIC, timeout_seconds=result["wait_seconds"])
    return {"status": AdmissionStatus.WAITING.value, "bed_id": None, "booking_id": None}


def start(admission_id: str) -> None:
    """Start the admission's workflow (a second start with the same id is the same workflow)."""
    runtime.enqueue(placement_workflow, BED_PLACEMENT, workflow_id(admission_id), admission_id)


def signal(admission_id: str) -> None:
    """Wake the admission's workflow, if it has one still running (an admission placed at
    once never had one). A signal that cannot be sent is only a delay: the workflow looks
    again every ``poll_seconds`` and finds the admission placed."""
    wid = workflow_id(admission_id)
    try:
        if runtime.workflow_status(wid) in (None, "SUCCESS", "ERROR", "CANCELLED"):
            return
        runtime.send(wid, {"admission_id": admission_id}, SIGNAL_TOPIC)
    except Exception as exc:  # the system database unreachable, or not created yet
        _log.warning("bed placement workflow of admission %s not signalled: %s", admission_id,
                     type(exc).__name__)


def _start_logged(admission_id: str) -> None:
    """Starting the wait must not fail the request that recorded the admission: a bed that
    comes back is given out by the BedCleaned handler anyway; only the SLA alarm is lost."""
    try:
        start(admission_id)
    except Exception as exc:  # the system database unreachable, say
        _log.warning("bed placement workflow not started for admission %s: %s", admission_id,
                     type(exc).__name__)


def resume_waiting(limit: int = 10_000) -> int:
    """Start the workflow of every admission still waiting (at launch: one whose start failed,
    or was asked of a process without DBOS, is picked up here; a running one is the same
    workflow, started again by id); returns how many were asked. A no-op when bed placement
    is not configured."""
    if _deps is None:
        return 0
    with _deps.booking.uow() as uow:
        waiting, _ = _deps.beds_of(uow).admissions(AdmissionFilter(status=AdmissionStatus.WAITING), 0, limit)
    for adm in waiting:
        start(adm.id)
    return len(waiting)


def wire(bed_deps: BedDeps) -> BedDeps:
    """Bed placement with its workflow: admissions left waiting start one, placements signal it."""
    wired = replace(bed_deps, start=_start_logged, signal=signal)
    configure(wired)
    return wired
