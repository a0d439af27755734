"""The dispatcher with fakes: order, idempotent redelivery, failure isolation, dead letters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from careflow.services.dispatch import (
    DEAD,
    DONE,
    RETRY,
    Dispatcher,
    HandlerRegistry,
    InboxRecord,
    OutboxEvent,
)


class Store:
    """Committed state shared by the fake units: the inbox and each handler's effects."""

    def __init__(self) -> None:
        self.inbox: dict[tuple[str, int], dict[str, Any]] = {}
        self.effects: list[tuple[str, int]] = []


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.inbox: dict[tuple[str, int], dict[str, Any]] = {}
        self.effects: list[tuple[str, int]] = []

    def __enter__(self) -> FakeUow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def commit(self) -> None:
        self.store.inbox.update(self.inbox)
        self.store.effects.extend(self.effects)
        self.rollback()

    def rollback(self) -> None:
        self.inbox, self.effects = {}, []


class FakeInbox:
    def __init__(self, uow: FakeUow) -> None:
        self.uow = uow

    def get(self, consumer: str, event_id: int) -> InboxRecord | None:
        row = self.uow.store.inbox.get((consumer, event_id))
        return None if row is None else InboxRecord(row["status"], row["attempts"])

    def record(self, consumer: str, event_id: int, seen: InboxRecord | None, status: str,
               attempts: int, error: str | None, next_at: datetime | None, at: datetime) -> bool:
        if self.get(consumer, event_id) != seen:
            return False
        self.uow.inbox[(consumer, event_id)] = {"status": status, "attempts": attempts,
                                                "error": error, "next_at": next_at}
        return True

    def due(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        return sorted(k for k, r in self.uow.store.inbox.items()
                      if r["status"] == RETRY and r["next_at"] <= now)[:limit]


class FakeOutbox:
    def __init__(self, events: list[OutboxEvent]) -> None:
        self.events = events
        self.published: set[int] = set()

    @contextmanager
    def claim(self, limit: int) -> Iterator[list[OutboxEvent]]:
        batch = [e for e in self.events if e.id not in self.published][:limit]
        yield batch
        self.published |= {e.id for e in batch}

    def load(self, ids: list[int]) -> list[OutboxEvent]:
        return [e for e in self.events if e.id in ids]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _setup(events: int = 3) -> tuple[Dispatcher, Store, FakeOutbox, HandlerRegistry, Clock]:
    store, clock, registry = Store(), Clock(), HandlerRegistry()
    outbox = FakeOutbox([OutboxEvent(i, "BookingCancelled", f"b{i}", {"n": i}) for i in range(1, events + 1)])
    dispatcher = Dispatcher(lambda write=False: FakeUow(store), FakeInbox, registry, clock,  # type: ignore[arg-type]
                            max_attempts=3, backoff_seconds=10)
    return dispatcher, store, outbox, registry, clock


def _effect(name: str) -> Any:
    def handle(payload: dict[str, Any], uow: Any) -> None:
        uow.effects.append((name, payload["n"]))
    return handle


def test_events_reach_handlers_in_id_order_and_are_marked_published() -> None:
    dispatcher, store, outbox, registry, _ = _setup(5)
    registry.register("BookingCancelled", "a", _effect("a"))
    report = dispatcher.dispatch_once(outbox, limit=2)
    assert (report.events, report.done, report.published) == (2, 2, 2)
    dispatcher.dispatch_once(outbox, limit=10)
    assert store.effects == [("a", n) for n in range(1, 6)]
    assert outbox.published == {1, 2, 3, 4, 5}
    assert dispatcher.dispatch_once(outbox).events == 0


def test_a_redelivered_event_takes_effect_once() -> None:
    dispatcher, store, outbox, registry, _ = _setup(2)
    registry.register("BookingCancelled", "a", _effect("a"))
    dispatcher.dispatch_once(outbox)
    again = dispatcher.deliver(outbox.events[0])
    assert (again.done, again.skipped) == (0, 1)
    assert store.effects == [("a", 1), ("a", 2)]
    assert store.inbox[("a", 1)]["status"] == DONE


def test_events_of_other_types_reach_no_handler() -> None:
    dispatcher, store, outbox, registry, _ = _setup(1)
    registry.register("HoldPlaced", "a", _effect("a"))
    assert dispatcher.dispatch_once(outbox).published == 1
    assert store.effects == [] and outbox.published == {1}


def test_a_failing_handler_does_not_block_the_others_and_is_retried_then_dead() -> None:
    dispatcher, store, outbox, registry, clock = _setup(2)
    calls = {"n": 0}

    def broken(payload: dict[str, Any], uow: Any) -> None:
        calls["n"] += 1
        uow.effects.append(("broken", payload["n"]))  # rolled back with the failure
        raise RuntimeError("downstream refused")

    registry.register("BookingCancelled", "broken", broken)
    registry.register("BookingCancelled", "a", _effect("a"))
    report = dispatcher.dispatch_once(outbox)
    assert (report.done, report.failed, report.dead) == (2, 2, 0)
    assert store.effects == [("a", 1), ("a", 2)]
    assert outbox.published == {1, 2}
    row = store.inbox[("broken", 1)]
    assert row["status"] == RETRY and row["attempts"] == 1 and "downstream refused" in row["error"]

    assert dispatcher.retry_due(outbox).events == 0  # the backoff has not passed
    clock.now += timedelta(seconds=10)
    assert dispatcher.retry_due(outbox).failed == 2
    assert store.inbox[("broken", 1)]["attempts"] == 2
    clock.now += timedelta(seconds=15)
    assert dispatcher.retry_due(outbox).events == 0  # backoff doubled: 20 s
    clock.now += timedelta(seconds=5)
    final = dispatcher.retry_due(outbox)
    assert (final.dead, final.failed) == (2, 0)
    assert store.inbox[("broken", 1)]["status"] == DEAD
    assert store.inbox[("broken", 1)]["attempts"] == 3
    clock.now += timedelta(days=1)
    assert dispatcher.retry_due(outbox).events == 0  # dead letters wait for a person
    assert dispatcher.deliver(outbox.events[0]).skipped == 2
    assert calls["n"] == 6
    assert store.effects == [("a", 1), ("a", 2)]


def test_a_handler_that_recovers_is_done_on_retry() -> None:
    dispatcher, store, outbox, registry, clock = _setup(1)
    state = {"fail": True}

    def flaky(payload: dict[str, Any], uow: Any) -> None:
        if state["fail"]:
            raise ValueError("not yet")
        uow.effects.append(("flaky", payload["n"]))

    registry.register("BookingCancelled", "flaky", flaky)
    dispatcher.dispatch_once(outbox)
    state["fail"] = False
    clock.now += timedelta(seconds=10)
    assert dispatcher.retry_due(outbox).done == 1
    assert store.effects == [("flaky", 1)]
    assert store.inbox[("flaky", 1)]["status"] == DONE


def test_a_consumer_registers_once_per_type() -> None:
    registry = HandlerRegistry()
    registry.register("X", "a", _effect("a"))
    try:
        registry.register("X", "a", _effect("a"))
    except ValueError:
        return
    raise AssertionError("a second registration was accepted")


# --- standalone handlers: they run their own transactions ------------------------------


def test_a_standalone_handler_runs_once_outside_the_dispatchers_transaction() -> None:
    from careflow.services.dispatch import Standalone

    dispatcher, store, outbox, registry, _ = _setup(2)
    seen: list[tuple[int, str, int]] = []

    def work(payload: dict[str, Any]) -> None:
        seen.append((payload["__event_id"], payload["__event_type"], payload["n"]))

    registry.register("BookingCancelled", "solo", Standalone(work))
    report = dispatcher.dispatch_once(outbox)
    assert (report.done, report.failed) == (2, 0)
    assert seen == [(1, "BookingCancelled", 1), (2, "BookingCancelled", 2)]
    assert store.inbox[("solo", 1)]["status"] == DONE
    assert dispatcher.deliver(outbox.events[0]).skipped == 1 and len(seen) == 2


def test_a_standalone_handler_that_died_midway_is_delivered_again_after_its_lease() -> None:
    from careflow.services.dispatch import Standalone

    dispatcher, store, outbox, registry, clock = _setup(1)
    runs: list[int] = []

    class Died(BaseException):  # a process killed mid-handler: nothing after the claim runs
        pass

    def work(payload: dict[str, Any]) -> None:
        runs.append(payload["n"])
        if len(runs) == 1:
            raise Died

    registry.register("BookingCancelled", "solo", Standalone(work, lease_seconds=60))
    with contextlib.suppress(Died):
        dispatcher.dispatch_once(outbox)
    claimed = store.inbox[("solo", 1)]
    assert (claimed["status"], claimed["error"]) == (RETRY, "running")
    assert dispatcher.deliver(outbox.events[0]).skipped == 1, "running elsewhere: not started twice"
    assert dispatcher.retry_due(outbox).events == 0, "the lease still holds"
    clock.now += timedelta(seconds=61)
    assert dispatcher.retry_due(outbox).done == 1
    assert runs == [1, 1] and store.inbox[("solo", 1)]["status"] == DONE


def test_a_failing_standalone_handler_is_retried_with_backoff_then_dead() -> None:
    from careflow.services.dispatch import Standalone

    dispatcher, store, outbox, registry, clock = _setup(1)

    def broken(payload: dict[str, Any]) -> None:
        raise ValueError("no")

    registry.register("BookingCancelled", "solo", Standalone(broken))
    assert dispatcher.dispatch_once(outbox).failed == 1
    assert store.inbox[("solo", 1)]["error"] == "ValueError: no"
    for _ in range(2):
        clock.now += timedelta(hours=1)
        dispatcher.retry_due(outbox)
    assert store.inbox[("solo", 1)]["status"] == DEAD
