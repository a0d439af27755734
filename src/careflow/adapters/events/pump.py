"""One loop for both deliveries: in process by default, through JetStream with a URL."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from sqlalchemy import Engine

from careflow.adapters.events.nats import NatsRelay, NatsTopology
from careflow.adapters.events.sql import SqlOutbox, inbox_of
from careflow.services.dispatch import DeliveryReport, Dispatcher, HandlerRegistry
from careflow.services.ports import Clock, UnitOfWorkFactory

__all__ = ["EventPump", "build_pump"]

MAX_BATCHES = 20  # per tick: 4,000 events, then the caller's other work gets a turn


@dataclass
class EventPump:
    dispatcher: Dispatcher
    outbox: SqlOutbox
    relay: NatsRelay | None = None
    batch: int = 200
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _woken: asyncio.Event | None = field(default=None, init=False, repr=False)

    async def wait(self, seconds: float) -> None:
        """Sleep until the next tick is due, or until ``wake`` asks for one now."""
        loop = asyncio.get_running_loop()
        if self._woken is None or self._loop is not loop:  # one per loop (an app may outlive one)
            self._loop, self._woken = loop, asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
        self._woken.clear()

    def wake(self) -> None:
        """Ask for a tick now (from any thread): an ingested event is delivered at once."""
        if self._loop is not None and self._woken is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._woken.set)

    async def tick(self) -> DeliveryReport:
        """Publish or dispatch what the outbox holds, then the retries that are due."""
        report = DeliveryReport()
        for _ in range(MAX_BATCHES):
            if self.relay is None:
                step = await asyncio.to_thread(self.dispatcher.dispatch_once, self.outbox, self.batch)
            else:
                step = await self.relay.tick(self.batch)
            report.add(step)
            if step.events < self.batch and step.published < self.batch:
                break
            if self.relay is not None and step.errors:
                break
        report.add(await asyncio.to_thread(self.dispatcher.retry_due, self.outbox, self.batch))
        return report

    async def close(self) -> None:
        if self.relay is not None:
            await self.relay.close()


def build_pump(engine: Engine, uow: UnitOfWorkFactory, clock: Clock, registry: HandlerRegistry,
               nats_url: str = "", topology: NatsTopology | None = None,
               max_attempts: int = 5, backoff_seconds: float = 2.0) -> EventPump:
    dispatcher = Dispatcher(uow, inbox_of, registry, clock, max_attempts, backoff_seconds)
    outbox = SqlOutbox(engine, clock)
    relay = NatsRelay(nats_url, outbox, dispatcher, topology) if nats_url else None
    return EventPump(dispatcher, outbox, relay)
