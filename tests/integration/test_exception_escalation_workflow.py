"""Exception-queue escalation on durable timers (DBOS, in process, on SQLite): each item's
workflow sleeps until its thresholds and escalates an unresolved item once per level,
telling its team once per level; a resolved item is left alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import tiny_system
from tests.fakes import FakeNotifier, FixedClock

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.tables import audit_log
from careflow.adapters.workflows import start_workflows, stop_workflows
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.exceptions_queue import RaiseException
from careflow.services import exception_queue
from careflow.services.workflows import runtime
from careflow.services.workflows.escalation import workflow_id

SCHEDULER = Actor("sched-1", frozenset({"scheduler"}))
T0 = datetime(2030, 3, 4, 14, 0, tzinfo=UTC)
SLA = timedelta(minutes=30)  # recoordination, urgent: levels at 15, 30 and 45 minutes


@dataclass
class World:
    app: App
    clock: FixedClock
    notifier: FakeNotifier


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('esc') / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, tiny_system(), replace=True)
    engine.dispose()
    clock, notifier = FixedClock(T0), FakeNotifier()
    app = bootstrap(load_settings(database_url=url, environment="test", workflow_poll_seconds=0.1),
                    clock=clock, notifier=notifier)
    start_workflows(app.settings, "escalation-test")
    yield World(app, clock, notifier)
    stop_workflows()
    app.dispose()


def _raise(world: World, booking: str) -> str:
    world.clock.set(T0)
    item = exception_queue.raise_exception(
        RaiseException("recoordination", "scheduling", "urgent", "test item", booking_id=booking),
        SCHEDULER, world.app.deps.uow, world.clock)
    return item.id


def _until(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s")


def _deliver(world: World) -> None:
    assert world.app.events is not None
    asyncio.run(world.app.events.tick())


def _level(world: World, item_id: str) -> int:
    return exception_queue.get(item_id, SCHEDULER, world.app.deps.uow).escalation_level


def test_an_unresolved_item_past_its_thresholds_escalates_once_per_level(world: World) -> None:
    item_id = _raise(world, "bk_esc_1")
    world.clock.set(T0 + 2 * SLA)  # every threshold has passed: the timers fire at once
    _deliver(world)
    _until(lambda: runtime.workflow_status(workflow_id(item_id)) == "SUCCESS")
    assert _level(world, item_id) == 3
    told = [n for n in world.notifier.sent if n.data.get("item_id") == item_id]
    assert sorted(n.data["level"] for n in told) == [1, 2, 3]
    assert {n.recipient for n in told} == {"scheduling"} and {n.audience for n in told} == {"team"}
    _deliver(world)  # the same ExceptionRaised again, and the sweep: nothing moves twice
    assert exception_queue.escalate_due(world.app.deps.uow, world.clock) == 0
    with world.app.engine.connect() as conn:
        audited = conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == "exception.escalate", audit_log.c.entity_id == item_id)).scalar_one()
    assert audited == 3


def test_the_timer_sleeps_until_the_threshold(world: World) -> None:
    item_id = _raise(world, "bk_esc_2")
    world.clock.set(T0 + SLA / 2 - timedelta(seconds=1))  # level 1 is a second away
    began = time.monotonic()
    _deliver(world)
    _until(lambda: _level(world, item_id) == 1)
    assert time.monotonic() - began >= 0.9, "it slept until the threshold"
    time.sleep(0.5)
    assert _level(world, item_id) == 1, "level 2 is 15 minutes later on the item's clock"
    assert runtime.workflow_status(workflow_id(item_id)) == "PENDING"
    # resolving the item wakes its timer, which ends (nothing is left waiting)
    exception_queue.resolve(item_id, "rescheduled", "done", SCHEDULER, world.app.deps.uow, world.clock)
    _deliver(world)
    _until(lambda: runtime.workflow_status(workflow_id(item_id)) == "SUCCESS")
    assert _level(world, item_id) == 1


def test_a_resolved_item_is_left_alone(world: World) -> None:
    item_id = _raise(world, "bk_esc_3")
    exception_queue.resolve(item_id, "no_action_needed", "fixed by phone", SCHEDULER, world.app.deps.uow,
                            world.clock)
    world.clock.set(T0 + 2 * SLA)
    _deliver(world)
    _until(lambda: runtime.workflow_status(workflow_id(item_id)) == "SUCCESS")
    assert _level(world, item_id) == 0
    assert not [n for n in world.notifier.sent if n.data.get("item_id") == item_id]
