"""Imaging readiness on DBOS: reminders before the slot, the cut-off that cancels a booking
still not ready (one exception, one notice, the slot freed for the waitlist), nothing
cancelled for a patient who gets ready, and reminders sent once each across a ``kill -9``
of the worker. Timers are seconds here (the policy is configurable), not hours."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS, DBOSClient
from sqlalchemy import select
from tests.care_paths import (
    FileNotifier,
    Harness,
    book_ct,
    drop_system_schema,
    option_of,
    record_prep,
    running,
    seed,
    start_readiness,
    system_database,
)
from tests.integration.readiness_worker import EXECUTOR, POLICY

from careflow.adapters.db.tables import outbox
from careflow.domain.access import Actor
from careflow.domain.bookings import BookingStatus
from careflow.domain.commands import CancelBooking, RescheduleBooking
from careflow.domain.events import BookingCancelled, BookingConfirmed, BookingRescheduled
from careflow.domain.readiness import ReadinessPolicy
from careflow.services.booking import cancel, reschedule
from careflow.services.ports import ExceptionFilter
from careflow.services.workflows import imaging, runtime

# reminders 7 s and 4 s before the slot, the cut-off 2 s before (bookings start 10 s ahead)
FAST = ReadinessPolicy((timedelta(seconds=7), timedelta(seconds=4)), timedelta(seconds=2))
ROOT = Path(__file__).resolve().parents[2]
SCHEDULER = Actor("sched-1", frozenset({"scheduler"}))


def _wait_for(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s")


def _result(wid: str, seconds: float = 60) -> str:
    """The workflow's outcome, waiting for it to finish (bounded: a stuck workflow fails)."""
    _wait_for(lambda: runtime.workflow_status(wid) in ("SUCCESS", "ERROR"), seconds)
    return str(DBOS.retrieve_workflow(wid).get_result())


def _status(h: Harness, booking_id: str) -> BookingStatus:
    with h.app.deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    assert booking is not None
    return booking.status


def _items(h: Harness) -> list[Any]:
    with h.app.deps.uow() as uow:
        return uow.exceptions.find(ExceptionFilter(category="imaging_not_ready"), 0, 100)[0]


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Any:
    url = seed(tmp_path, db_url if db_url.startswith("postgres") else None)
    with running(url, tmp_path, readiness_policy=FAST) as h:
        yield h


def test_a_patient_who_gets_ready_in_time_keeps_the_booking(harness: Harness) -> None:
    booking_id = book_ct(harness.app, "p1", seconds_ahead=10)
    wid = start_readiness(harness.app, booking_id)
    _wait_for(lambda: harness.notifier.topics() == ["imaging.readiness_reminder"])
    first = harness.notifier.sent[0]
    assert first.recipient == "p1" and first.booking_id == booking_id
    assert first.data["missing"] == ["contrast-labs", "prep-instructions"]
    record_prep(harness.app, "p1", "contrast-labs", "prep-instructions")
    assert _result(wid) == "ready"
    assert _status(harness, booking_id) is BookingStatus.BOOKED
    assert harness.notifier.topics() == ["imaging.readiness_reminder"]  # no second reminder, no notice
    assert _items(harness) == []


def test_a_patient_never_ready_loses_the_slot_at_the_cut_off(harness: Harness) -> None:
    booking_id = book_ct(harness.app, "p2", seconds_ahead=10)
    record_prep(harness.app, "p2", "prep-instructions")  # the labs never come
    assert _result(start_readiness(harness.app, booking_id)) == "cancelled"
    with harness.app.deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    assert booking is not None and booking.status is BookingStatus.CANCELLED
    assert booking.reason.startswith("imaging_not_ready") and "contrast-labs" in booking.reason
    items = _items(harness)
    assert len(items) == 1
    assert (items[0].booking_id, items[0].owner_team) == (booking_id, "imaging_desk")
    assert items[0].patient_id == "p2"
    notices = [n for n in harness.notifier.sent if n.topic == "imaging.cancelled_not_ready"]
    assert len(notices) == 1 and notices[0].recipient == "p2"
    reminders = [n.data["reminder"] for n in harness.notifier.sent if n.topic == "imaging.readiness_reminder"]
    assert reminders in (["7s", "4s"], ["4s"])  # the first is skipped only if booking took 3 s (a busy host)
    assert all(n.data["missing"] == ["contrast-labs"] for n in harness.notifier.sent)
    # the freed slot: the cancellation's event (which the waitlist handles) is in the outbox
    assert harness.app.engine is not None
    with harness.app.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.type).where(outbox.c.aggregate_id == booking_id))
        types = [r.type for r in rows]
    assert BookingCancelled.name in types


def test_the_handlers_start_the_workflow_only_for_services_with_readiness_prerequisites(
        harness: Harness) -> None:
    visit = book_ct(harness.app, "p1", seconds_ahead=3600, service_id="svc_cardio")
    scan = book_ct(harness.app, "p3", seconds_ahead=3600)
    with harness.app.deps.uow() as uow:
        imaging.on_booking_confirmed(BookingConfirmed(visit).payload(), uow)
        for _ in range(2):  # a redelivered event finds the workflow started
            imaging.on_booking_confirmed(BookingConfirmed(scan).payload(), uow)
        booked = uow.bookings.get(scan)
    assert booked is not None
    first = imaging.workflow_id(scan, booked.start.isoformat())
    _wait_for(lambda: runtime.workflow_status(first) in ("PENDING", "SUCCESS"))
    assert [w.workflow_id for w in DBOS.list_workflows(name=imaging.NAME)] == [first]
    # moved to another time: the plan for the new time is a workflow of its own
    option = option_of(harness.app, scan, booked.start + timedelta(hours=1))
    moved = reschedule(RescheduleBooking(scan, option, "patient asked", SCHEDULER), harness.app.deps)
    with harness.app.deps.uow() as uow:
        imaging.on_booking_rescheduled(BookingRescheduled(scan, booked.start, moved.start).payload(), uow)
    second = imaging.workflow_id(scan, moved.start.isoformat())
    _wait_for(lambda: runtime.workflow_status(second) in ("PENDING", "SUCCESS"))
    assert {w.workflow_id for w in DBOS.list_workflows(name=imaging.NAME)} == {first, second}
    assert _result(first, 20) == "moved_or_cancelled"  # woken by the move, not at its next checkpoint
    cancel(CancelBooking(scan, "patient cancelled", SCHEDULER), harness.app.deps)
    with harness.app.deps.uow() as uow:
        imaging.on_booking_cancelled(BookingCancelled(scan).payload(), uow)
        imaging.on_booking_cancelled(BookingCancelled(visit).payload(), uow)  # no workflow: nothing
    assert _result(second, 20) == "moved_or_cancelled"
    assert harness.notifier.sent == [] and _items(harness) == []


def _recorded(url: str, tmp: Path, wid: str, step: str) -> bool:
    """Whether DBOS recorded the output of a ``step`` of the workflow ``wid``."""
    system = system_database(tmp, url)
    client = DBOSClient(system_database_url=system.url, dbos_system_schema=system.schema)
    try:
        steps = client.list_workflow_steps(wid)
    finally:
        client.destroy()
    return any(s["function_name"] == f"careflow.{step}" for s in steps)


def test_reminders_are_sent_once_each_when_a_killed_worker_is_recovered(db_url: str, tmp_path: Path) -> None:
    url = seed(tmp_path, db_url if db_url.startswith("postgres") else None)
    notes = tmp_path / "notifications.jsonl"
    notifier = FileNotifier(notes)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = tmp_path / "booking_id"
    child = subprocess.Popen([sys.executable, "-m", "tests.integration.readiness_worker", url, str(tmp_path),
                              str(notes)], cwd=ROOT, env=env)
    try:
        _wait_for(lambda: started.exists() or child.poll() is not None)
        assert child.poll() is None, "the worker died before starting the workflow"
        booking_id, wid = started.read_text().split()
        _wait_for(lambda: _recorded(url, tmp_path, wid, "imaging.remind"))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert notifier.count("sent", ":reminder:16s") == 1, notes.read_text() if notes.exists() else "no file"
    assert notifier.count("sent", ":reminder:6s") == 0, "killed before the second reminder"
    try:
        with running(url, tmp_path, notifier, executor=EXECUTOR, readiness_policy=POLICY) as h:
            assert _result(wid) == "cancelled"  # the recovered workflow went on to the cut-off
            assert _status(h, booking_id) is BookingStatus.CANCELLED
            assert len(_items(h)) == 1
    finally:
        drop_system_schema(url, tmp_path)
    assert notifier.count("asked", ":reminder:16s") == 1, "the finished reminder step ran again"
    assert notifier.count("sent", ":reminder:6s") == 1
    assert notifier.count("sent", ":cancelled") == 1
