"""The outbox relayed through the real NATS JetStream server: publish, consume, ack;
deduplication by message id; NATS down, then up, drains everything."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import Iterator

import nats
import pytest
from sqlalchemy import Engine, update
from tests.integration.test_events_dispatch import effects, now, record_effect, write_events

from careflow.adapters.db import make_engine, migrate
from careflow.adapters.db.tables import outbox
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.adapters.events.nats import NatsTopology, encode
from careflow.adapters.events.pump import EventPump, build_pump
from careflow.services.dispatch import HandlerRegistry

pytestmark = pytest.mark.nats


@pytest.fixture
def topology(nats_url: str) -> Iterator[NatsTopology]:
    """A stream, subject prefix and durable consumer of this test's own, deleted after."""
    tag = uuid.uuid4().hex[:10]
    topo = NatsTopology(stream=f"CFTEST_{tag}", prefix=f"cftest.{tag}", durable=f"handlers_{tag}")
    yield topo

    async def delete() -> None:
        nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False)
        try:
            await nc.jetstream().delete_stream(topo.stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(delete())


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Engine]:
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def pump(engine: Engine, url: str, topology: NatsTopology) -> EventPump:
    registry = HandlerRegistry()
    registry.register("BookingCancelled", "effects", record_effect)
    return build_pump(engine, SqlUnitOfWorkFactory(engine), now, registry, url, topology)


async def run_ticks(p: EventPump, ticks: int) -> list[int]:
    done = []
    try:
        for _ in range(ticks):
            done.append((await p.tick()).done)
    finally:
        await p.close()
    return done


async def stream_state(url: str, topo: NatsTopology) -> tuple[int, int, int]:
    """(messages in the stream, pending for the consumer, delivered but not acked)."""
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        js = nc.jetstream()
        info = await js.stream_info(topo.stream)
        consumer = await js.consumer_info(topo.stream, topo.durable)
        return info.state.messages, consumer.num_pending, consumer.num_ack_pending
    finally:
        await nc.close()


def test_published_consumed_and_acked_once(db: Engine, nats_url: str, topology: NatsTopology) -> None:
    write_events(db, 12)
    p = pump(db, nats_url, topology)
    done = asyncio.run(run_ticks(p, 3))
    assert sum(done) == 12
    assert effects(db) == Counter({f"fx-b{i}": 1 for i in range(12)})
    assert p.outbox.pending() == 0
    assert asyncio.run(stream_state(nats_url, topology)) == (12, 0, 0)


def test_a_second_publish_of_a_row_is_deduplicated(db: Engine, nats_url: str,
                                                    topology: NatsTopology) -> None:
    write_events(db, 3)
    p = pump(db, nats_url, topology)
    asyncio.run(run_ticks(p, 1))
    with db.begin() as conn:  # as if the relay died between the ack and the mark
        conn.execute(update(outbox).values(published_at=None))

    async def republish() -> bool:
        nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False)
        try:
            event = p.outbox.load([1])[0]
            ack = await nc.jetstream().publish(f"{topology.prefix}.{event.type}", encode(event),
                                               headers={"Nats-Msg-Id": "1"})
            return bool(ack.duplicate)
        finally:
            await nc.close()

    assert asyncio.run(republish()) is True
    again = pump(db, nats_url, topology)
    asyncio.run(run_ticks(again, 2))
    assert asyncio.run(stream_state(nats_url, topology)) == (3, 0, 0)
    assert effects(db) == Counter({"fx-b0": 1, "fx-b1": 1, "fx-b2": 1})
    assert again.outbox.pending() == 0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nats_down_keeps_the_outbox_then_drains_when_it_is_back(
        db: Engine, nats_url: str, topology: NatsTopology) -> None:
    write_events(db, 30)
    down = pump(db, f"nats://127.0.0.1:{closed_port()}", topology)

    async def ticks_while_down() -> list[list[str]]:
        try:
            return [(await down.tick()).errors for _ in range(2)]
        finally:
            await down.close()

    errors = asyncio.run(ticks_while_down())
    assert all(e and "NATS unavailable" in e[0] for e in errors)
    assert down.outbox.pending() == 30
    assert effects(db) == Counter()
    write_events(db, 5, start=30)  # more happens while NATS is down

    up = pump(db, nats_url, topology)
    asyncio.run(run_ticks(up, 3))
    assert up.outbox.pending() == 0
    assert sum(effects(db).values()) == 35 and set(effects(db).values()) == {1}
    assert asyncio.run(stream_state(nats_url, topology)) == (35, 0, 0)
