"""The bed placement workflow on DBOS, in process, on a real SQLite database: an admission
with no bed waits durably, goes to bed management past its SLA (once), and is placed and
finishes when a bed comes back from housekeeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import select
from tests.beds import BED_MANAGER, T0, ask, hospital
from tests.fakes import FakeNotifier, FixedClock

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.tables import exception_item
from careflow.adapters.workflows import start_workflows, stop_workflows
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.domain.beds import AdmissionStatus
from careflow.domain.bookings import Urgency
from careflow.domain.events import BedCleaned, PatientDischarged
from careflow.services.beds import placement
from careflow.services.workflows import beds as bed_workflow
from careflow.services.workflows import runtime


@dataclass
class World:
    app: App
    clock: FixedClock


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('beds') / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, hospital((("4w-any", "4W", "surgical", "any", False),)), replace=True)
    engine.dispose()
    clock = FixedClock(T0)
    app = bootstrap(load_settings(database_url=url, environment="test", workflow_poll_seconds=0.1),
                    clock=clock, notifier=FakeNotifier())
    app.beds = replace(app.beds, poll_seconds=0.2)
    bed_workflow.configure(app.beds)
    start_workflows(app.settings, "beds-executor")
    yield World(app, clock)
    stop_workflows()
    app.dispose()


def _until(what: str, check: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _tick(world: World) -> None:
    asyncio.run(world.app.events.tick())


def test_a_waiting_admission_escalates_once_then_is_placed_when_the_bed_is_clean(world: World) -> None:
    deps, clock = world.app.beds, world.clock
    first = placement.request_admission(ask("pf1"), BED_MANAGER, deps)
    assert first.bed_id == "4w-any"
    assert runtime.workflow_status(bed_workflow.workflow_id(first.id)) is None  # placed at once: no wait
    waiting = placement.request_admission(ask("pm1", urgency=Urgency.EMERGENT), BED_MANAGER, deps)
    assert waiting.status is AdmissionStatus.WAITING
    wid = bed_workflow.workflow_id(waiting.id)
    _until("the workflow to start", lambda: runtime.workflow_status(wid) == "PENDING")
    time.sleep(0.5)  # it looks again every 0.2 s: still within the SLA, nothing raised
    assert placement.get_admission(waiting.id, BED_MANAGER, deps).exception_id is None
    clock.advance(minutes=16)  # past the emergent SLA (15 minutes)
    _until("the SLA exception", lambda: placement.get_admission(waiting.id, BED_MANAGER, deps).exception_id)
    time.sleep(0.5)  # more rounds: still one exception
    with world.app.engine.connect() as conn:
        items = conn.execute(select(exception_item.c.id, exception_item.c.owner_team)
                             .where(exception_item.c.case_id == waiting.id)).all()
    assert [team for _, team in items] == ["bed_management"]
    clock.advance(hours=2)
    with world.app.deps.uow(write=True) as uow:
        uow.publish([PatientDischarged("4w-any", "pf1", first.booking_id or "", clock.now, "ehr", "adt-1")])
        uow.commit()
    _tick(world)
    assert placement.get_admission(waiting.id, BED_MANAGER, deps).bed_id is None  # dirty: not offered
    clock.advance(minutes=30)
    with world.app.deps.uow(write=True) as uow:
        uow.publish([BedCleaned("4w-any", clock.now, "evs", "clean-1")])
        uow.commit()
    _tick(world)  # the bed goes to the waiting admission; AdmissionPlaced wakes its workflow
    _tick(world)
    _until("the workflow to finish", lambda: runtime.workflow_status(wid) == "SUCCESS")
    result = runtime.workflow_status(wid)
    placed = placement.get_admission(waiting.id, BED_MANAGER, deps)
    assert (result, placed.status, placed.bed_id) == ("SUCCESS", AdmissionStatus.PLACED, "4w-any")
    with world.app.engine.connect() as conn:
        status = conn.execute(select(exception_item.c.status)
                              .where(exception_item.c.id == placed.exception_id)).scalar_one()
    assert status == "resolved"


def test_an_admission_left_waiting_without_its_workflow_gets_one_at_launch(world: World) -> None:
    deps = replace(world.app.beds, start=lambda admission_id: None)  # as if the start had failed
    waiting = placement.request_admission(ask("pf2"), BED_MANAGER, deps)
    assert waiting.status is AdmissionStatus.WAITING
    wid = bed_workflow.workflow_id(waiting.id)
    assert runtime.workflow_status(wid) is None
    assert bed_workflow.resume_waiting() >= 1
    _until("the resumed workflow", lambda: runtime.workflow_status(wid) in ("ENQUEUED", "PENDING"))
    assert bed_workflow.resume_waiting() >= 1  # again: the same workflow, not a second one
    assert runtime.workflow_status(wid) in ("ENQUEUED", "PENDING")
