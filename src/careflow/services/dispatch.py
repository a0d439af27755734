"""Delivering outbox events to in-process handlers, at least once, each effect once.

A handler is registered for an event type under a consumer name. Its work and its inbox
row (consumer, event id) commit in one transaction; the inbox's primary key decides, so
a redelivered event, or one two dispatchers deliver at once, takes effect once. A failing
handler is recorded (attempts, last error) and retried with backoff by ``retry_due``;
after ``max_attempts`` it is moved aside as ``dead`` (listed, never dropped). Handlers do
not block each other: each runs in its own transaction.

A handler receives the event's payload with ``__event_id`` and ``__event_type`` added (a
handler that records work keys it by the event id).

Where events come from is a port: the outbox in process (``dispatch_once``) or a durable
JetStream consumer (adapters/events/nats.py); both end in ``deliver``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from careflow.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "DEAD",
    "DONE",
    "RETRY",
    "DeliveryReport",
    "Dispatcher",
    "Handler",
    "HandlerRegistry",
    "InboxRecord",
    "InboxStore",
    "OutboxEvent",
    "OutboxSource",
    "Standalone",
    "drain",
]

DONE, RETRY, DEAD = "done", "retry", "dead"
Handler = Callable[[dict[str, Any], UnitOfWork], None]


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    type: str
    aggregate_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InboxRecord:
    status: str
    attempts: int


class InboxStore(Protocol):
    """The inbox, on the connection of one unit of work."""

    def get(self, consumer: str, event_id: int) -> InboxRecord | None: ...

    def record(self, consumer: str, event_id: int, seen: InboxRecord | None, status: str,
               attempts: int, error: str | None, next_at: datetime | None, at: datetime) -> bool:
        """Insert (``seen`` None) or update the row still as ``seen``; False when another
        delivery got there first."""
        ...

    def due(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        """(consumer, event id) of retries whose time has come."""
        ...


class OutboxSource(Protocol):
    def claim(self, limit: int) -> AbstractContextManager[list[OutboxEvent]]:
        """Unpublished events in id order (locked against other dispatchers where the
        database can); marked published when the block exits without error."""
        ...

    def load(self, ids: list[int]) -> list[OutboxEvent]: ...


@dataclass(frozen=True, slots=True)
class Standalone:
    """A handler that opens its own transactions (it books, reschedules, raises queue
    items through the use cases) instead of working in the dispatcher's one; it must be
    idempotent itself. Its inbox row is claimed for ``lease_seconds`` first: when the
    process dies mid-way, the retry pass delivers the event again after the lease."""

    fn: Callable[[dict[str, Any]], None]
    lease_seconds: float = 300.0


class HandlerRegistry:
    """Event type → (consumer name, handler)."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[tuple[str, Handler | Standalone]]] = defaultdict(list)

    def register(self, event_type: str, consumer: str, handler: Handler | Standalone) -> None:
        if any(name == consumer for name, _ in self._by_type[event_type]):
            raise ValueError(f"{consumer} already handles {event_type}")
        self._by_type[event_type].append((consumer, handler))

    def handlers(self, event_type: str) -> list[tuple[str, Handler | Standalone]]:
        return list(self._by_type.get(event_type, ()))

    def consumer(self, event_type: str, consumer: str) -> Handler | Standalone | None:
        return next((h for name, h in self.handlers(event_type) if name == consumer), None)


@dataclass
class DeliveryReport:
    events: int = 0
    published: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.events += other.events
        self.published += other.published
        self.done += other.done
        self.skipped += other.skipped
        self.failed += other.failed
        self.dead += other.dead
        self.errors.extend(other.errors)


@dataclass
class Dispatcher:
    """Hands events to the registered handlers through the inbox."""

    uow: UnitOfWorkFactory
    inbox_of: Callable[[UnitOfWork], InboxStore]
    registry: HandlerRegistry
    clock: Clock
    max_attempts: int = 5
    backoff_seconds: float = 2.0

    def deliver(self, event: OutboxEvent) -> DeliveryReport:
        """Every handler of the event, each in its own transaction with its inbox row."""
        report = DeliveryReport(events=1)
        for consumer, handler in self.registry.handlers(event.type):
            self._deliver_one(event, consumer, handler, report)
        return report

    def _deliver_one(self, event: OutboxEvent, consumer: str, handler: Handler | Standalone,
                     report: DeliveryReport, retrying: bool = False) -> None:
        if isinstance(handler, Standalone):
            self._deliver_standalone(event, consumer, handler, report, retrying)
            return
        with self.uow(write=True) as uow:
            inbox = self.inbox_of(uow)
            seen = inbox.get(consumer, event.id)
            if seen is not None and seen.status in (DONE, DEAD):
                report.skipped += 1
                return
            attempts = (seen.attempts if seen else 0) + 1
            try:
                handler(event.payload | {"__event_id": event.id, "__event_type": event.type}, uow)
                if not inbox.record(consumer, event.id, seen, DONE, attempts, None, None, self.clock()):
                    uow.rollback()  # another delivery did it first: our effects go
                    report.skipped += 1
                    return
                uow.commit()
                report.done += 1
                return
            except Exception as exc:
                uow.rollback()
                error = f"{type(exc).__name__}: {exc}"
        self._record_failure(event.id, consumer, seen, attempts, error, report)

    def _deliver_standalone(self, event: OutboxEvent, consumer: str, handler: Standalone,
                            report: DeliveryReport, retrying: bool) -> None:
        """Claim the inbox row (as a retry due when the lease ends, so a process that dies
        mid-way hands the event to the retry pass), run the handler outside any
        transaction of ours, then mark the row done."""
        now = self.clock()
        with self.uow(write=True) as uow:
            inbox = self.inbox_of(uow)
            seen = inbox.get(consumer, event.id)
            if seen is not None and (seen.status in (DONE, DEAD) or not retrying):
                report.skipped += 1  # done, or running / waiting for its retry elsewhere
                return
            attempts = (seen.attempts if seen else 0) + 1
            lease_end = now + timedelta(seconds=handler.lease_seconds)
            if not inbox.record(consumer, event.id, seen, RETRY, attempts, "running", lease_end, now):
                report.skipped += 1
                return
            uow.commit()
        claim = InboxRecord(RETRY, attempts)
        try:
            handler.fn(event.payload | {"__event_id": event.id, "__event_type": event.type})
        except Exception as exc:
            self._record_failure(event.id, consumer, claim, attempts, f"{type(exc).__name__}: {exc}", report)
            return
        with self.uow(write=True) as uow:
            if self.inbox_of(uow).record(consumer, event.id, claim, DONE, attempts, None, None, self.clock()):
                uow.commit()
        report.done += 1

    def _record_failure(self, event_id: int, consumer: str, seen: InboxRecord | None,
                        attempts: int, error: str, report: DeliveryReport) -> None:
        now = self.clock()
        dead = attempts >= self.max_attempts
        next_at = None if dead else now + timedelta(seconds=self.backoff_seconds * 2 ** (attempts - 1))
        with self.uow(write=True) as uow:
            if self.inbox_of(uow).record(consumer, event_id, seen, DEAD if dead else RETRY,
                                         attempts, error[:2000], next_at, now):
                uow.commit()
        report.errors.append(f"{consumer} #{event_id}: {error}")
        if dead:
            report.dead += 1
        else:
            report.failed += 1

    def dispatch_once(self, outbox: OutboxSource, limit: int = 200) -> DeliveryReport:
        """One batch of unpublished events, delivered in id order, then marked published."""
        report = DeliveryReport()
        with outbox.claim(limit) as events:
            for event in events:
                report.add(self.deliver(event))
        report.published = report.events
        return report

    def retry_due(self, outbox: OutboxSource, limit: int = 200) -> DeliveryReport:
        """Failed deliveries whose backoff has passed, one more attempt each."""
        with self.uow() as uow:
            due = self.inbox_of(uow).due(self.clock(), limit)
        report = DeliveryReport()
        events = {e.id: e for e in outbox.load(sorted({i for _, i in due}))}
        for consumer, event_id in due:
            event = events.get(event_id)
            handler = self.registry.consumer(event.type, consumer) if event else None
            if event is None or handler is None:
                continue  # the handler is gone; the row stays for a person to see
            report.events += 1
            self._deliver_one(event, consumer, handler, report, retrying=True)
        return report


def drain(dispatcher: Dispatcher, outbox: OutboxSource, limit: int = 200) -> Iterator[DeliveryReport]:
    """Batches until the outbox has nothing unpublished (tests, the CLI's ``--once``)."""
    while True:
        report = dispatcher.dispatch_once(outbox, limit)
        yield report
        if report.events == 0:
            return
