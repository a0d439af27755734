"""The outbox relayed to NATS JetStream, and in-process handlers fed by a durable consumer.

Each outbox row is published to ``<prefix>.<Type>`` with ``Nats-Msg-Id`` = its outbox id,
so JetStream drops a second publish of the same row (two relays, or a crash between the
ack and the mark); a row is marked published only after its publish ack. NATS down: the
rows stay unpublished and drain on a later tick. Handlers consume through a durable pull
consumer and ack after their inbox commit, so an unacked event is redelivered, and the
inbox makes the redelivery a no-op.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from careflow.adapters.events.sql import SqlOutbox
from careflow.services.dispatch import DeliveryReport, Dispatcher, OutboxEvent

__all__ = ["NatsRelay", "NatsTopology"]

log = logging.getLogger("careflow.events")


@dataclass(frozen=True)
class NatsTopology:
    """Where events go: the stream, its subject prefix and the handlers' durable consumer."""

    stream: str = "CAREFLOW"
    prefix: str = "careflow.events"
    durable: str = "careflow-handlers"


async def _quiet(exc: Exception) -> None:
    log.debug("NATS: %s", exc)


def encode(event: OutboxEvent) -> bytes:
    return json.dumps({"id": event.id, "type": event.type, "aggregate_id": event.aggregate_id,
                       "payload": event.payload}, separators=(",", ":")).encode()


def decode(data: bytes) -> OutboxEvent:
    doc = json.loads(data)
    return OutboxEvent(int(doc["id"]), str(doc["type"]), str(doc["aggregate_id"]), dict(doc["payload"]))


class NatsRelay:
    """Publishes the outbox to JetStream and feeds the dispatcher from a durable consumer."""

    def __init__(self, url: str, outbox: SqlOutbox, dispatcher: Dispatcher,
                 topology: NatsTopology | None = None, connect_timeout: float = 2.0) -> None:
        self.url = url
        self.outbox = outbox
        self.dispatcher = dispatcher
        self.topology = topology or NatsTopology()
        self._timeout = connect_timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: Any = None

    async def connect(self) -> JetStreamContext:
        if self._nc is not None and self._nc.is_connected and self._js is not None:
            return self._js
        await self.close()
        t = self.topology
        # bounded: the client's own loop over unreachable servers may not end by itself.
        # One retry after 50 ms, then NoServersError: with no retry limit the client slept
        # its 2 s reconnect wait until the bound, so every tick while NATS was down took 3 s
        # (and held up the server's sweep loop, which ticks the relay).
        nc = await asyncio.wait_for(
            nats.connect(self.url, connect_timeout=int(max(1, self._timeout)), allow_reconnect=False,
                         max_reconnect_attempts=1, reconnect_time_wait=0.05, error_cb=_quiet),
            self._timeout + 1)
        try:
            js = nc.jetstream(timeout=self._timeout)
            await js.add_stream(name=t.stream, subjects=[f"{t.prefix}.>"])
            self._sub = await js.pull_subscribe(f"{t.prefix}.>", durable=t.durable, stream=t.stream)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js
        return js

    async def close(self) -> None:
        nc, self._nc, self._js, self._sub = self._nc, None, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except Exception:  # closing a dead connection
                log.debug("closing NATS failed", exc_info=True)

    async def publish_pending(self, limit: int = 200) -> int:
        """Publish up to ``limit`` unpublished rows; mark those JetStream acked."""
        js = await self.connect()
        events = await asyncio.to_thread(self.outbox.unpublished, limit)
        acked: list[int] = []
        try:
            for event in events:
                await js.publish(f"{self.topology.prefix}.{event.type}", encode(event),
                                 headers={"Nats-Msg-Id": str(event.id)})
                acked.append(event.id)
        finally:
            await asyncio.to_thread(self.outbox.mark_published, acked)
        return len(acked)

    async def consume(self, batch: int = 200, wait: float = 0.2) -> DeliveryReport:
        """Deliver what the durable consumer has; ack each after its inbox commits."""
        await self.connect()
        report = DeliveryReport()
        try:
            msgs = await self._sub.fetch(batch, timeout=wait)
        except nats.errors.TimeoutError:
            return report
        for msg in msgs:
            report.add(await asyncio.to_thread(self.dispatcher.deliver, decode(msg.data)))
            await msg.ack()
        return report

    async def tick(self, limit: int = 200) -> DeliveryReport:
        """Publish, then consume; NATS unreachable leaves everything for the next tick."""
        report = DeliveryReport()
        try:
            report.published = await self.publish_pending(limit)
            report.add(await self.consume(limit))
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            log.warning("NATS at %s unavailable (%s); the outbox keeps the events", self.url, exc)
            report.errors.append(f"NATS unavailable: {type(exc).__name__}: {exc}")
            await self.close()
        return report
