"""The durable send log on SQLite and PostgreSQL: a key is sent once, also when threads
race on it (fresh, or retrying a failed one); a failure is recorded and retried; a key
left 'sending' by a crash is never resent; the listing filters and pages."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from tests.concurrency import at_once
from tests.fakes import FixedClock

from careflow.adapters.db.tables import audit_log
from careflow.adapters.notify import SENT, ChannelError, LoggedNotifier, NotificationFilter, SqlSendLog
from careflow.services.ports import Notification, NotificationFailed

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
RACERS = 8


class Counting:
    """A channel that counts deliveries (thread-safe) and can be told to fail."""

    name = "file"

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.failing = False
        self._lock = threading.Lock()

    def deliver(self, notification: Notification) -> str:
        if self.failing:
            raise ChannelError("down")
        with self._lock:
            self.keys.append(notification.key)
        return SENT


def note(key: str = "booking.cancelled:bk_1", booking_id: str | None = "bk_1",
         topic: str = "booking.cancelled") -> Notification:
    return Notification(key, "patient", "pt_1", topic, "Cancelled", "Synthetic body.",
                        booking_id=booking_id, data={"booking_id": booking_id})


def test_the_same_key_twice_sends_once(engine: Engine) -> None:
    channel = Counting()
    notifier = LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0))
    assert [notifier.notify(note()), notifier.notify(note())] == [True, False]
    assert channel.keys == ["booking.cancelled:bk_1"]
    row = SqlSendLog(engine).get("booking.cancelled:bk_1")  # a second process sees the same row
    assert row is not None
    assert (row.status, row.attempts, row.channels, row.sent_at, row.last_error) == (
        "sent", 1, {"file": "sent"}, T0, None)
    assert (row.subject, row.body, row.data) == ("Cancelled", "Synthetic body.", {"booking_id": "bk_1"})


def test_threads_racing_on_one_key_send_it_once(engine: Engine) -> None:
    channel = Counting()
    notifiers = [LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0)) for _ in range(RACERS)]
    results, errors = at_once([lambda n=n: n.notify(note()) for n in notifiers])
    assert errors == []
    assert sorted(results) == [False] * (RACERS - 1) + [True]
    assert channel.keys == ["booking.cancelled:bk_1"]


def test_threads_retrying_a_failed_key_send_it_once(engine: Engine) -> None:
    channel = Counting()
    channel.failing = True
    with pytest.raises(NotificationFailed):
        LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0)).notify(note())
    channel.failing = False
    notifiers = [LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0)) for _ in range(RACERS)]
    results, errors = at_once([lambda n=n: n.notify(note()) for n in notifiers])
    assert errors == []
    assert sorted(results) == [False] * (RACERS - 1) + [True]
    assert channel.keys == ["booking.cancelled:bk_1"]
    row = SqlSendLog(engine).get("booking.cancelled:bk_1")
    assert row is not None and (row.status, row.attempts) == ("sent", 2)


def test_a_failure_is_recorded_and_a_later_notify_retries_it(engine: Engine) -> None:
    channel = Counting()
    clock = FixedClock(T0)
    notifier = LoggedNotifier([channel], SqlSendLog(engine), clock)
    channel.failing = True
    for _ in range(2):
        with pytest.raises(NotificationFailed, match="file: down"):
            notifier.notify(note())
    row = notifier.send_log.get("booking.cancelled:bk_1")
    assert row is not None and (row.status, row.attempts, row.last_error, row.sent_at) == (
        "failed", 2, "file: down", None)
    channel.failing = False
    clock.advance(minutes=5)
    assert notifier.notify(note()) is True
    row = notifier.send_log.get("booking.cancelled:bk_1")
    assert row is not None and (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert (row.created_at, row.sent_at) == (T0, clock())


def test_each_outcome_is_audited_with_ids_only(engine: Engine) -> None:
    channel = Counting()
    notifier = LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0))
    channel.failing = True
    with pytest.raises(NotificationFailed):
        notifier.notify(note())
    channel.failing = False
    notifier.notify(note())
    notifier.notify(note())  # skipped: nothing written, nothing audited
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "notification.send")
                            .order_by(audit_log.c.id)).all()
    assert [(r.actor, r.entity_type, r.entity_id, r.outcome, r.reason) for r in rows] == [
        ("system", "notification", "booking.cancelled:bk_1", "failed", "file: down"),
        ("system", "notification", "booking.cancelled:bk_1", "ok", "")]
    assert rows[1].detail == {"topic": "booking.cancelled", "audience": "patient", "recipient": "pt_1",
                              "booking_id": "bk_1", "channels": {"file": "sent"}, "attempts": 2}
    assert all("Synthetic" not in str(r.detail) and "Cancelled" not in str(r.detail) for r in rows)


def test_a_key_left_sending_by_a_crash_is_never_resent(engine: Engine) -> None:
    channel = Counting()
    log = SqlSendLog(engine)
    assert log.claim(note(), T0) == {}  # claimed (and perhaps sent) by a process that then died
    notifier = LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0))
    assert notifier.notify(note()) is False
    assert channel.keys == []
    rows, total = log.find(NotificationFilter(status="sending"), 0, 10)
    assert total == 1 and rows[0].key == "booking.cancelled:bk_1"


def test_the_listing_filters_pages_and_orders_newest_first(engine: Engine) -> None:
    clock = FixedClock(T0)
    channel = Counting()
    notifier = LoggedNotifier([channel], SqlSendLog(engine), clock)
    for i, (booking_id, topic) in enumerate([("bk_1", "booking.cancelled"), ("bk_2", "booking.rescheduled"),
                                             ("bk_1", "booking.rescheduled"), (None, "case.implant_short")]):
        clock.advance(minutes=1)
        notifier.notify(note(f"k{i}", booking_id, topic))
    channel.failing = True
    clock.advance(minutes=1)
    with pytest.raises(NotificationFailed):
        notifier.notify(note("k4", "bk_3"))
    log = notifier.send_log

    def keys(flt: NotificationFilter, offset: int = 0, limit: int = 10) -> tuple[list[str], int]:
        rows, total = log.find(flt, offset, limit)
        return [r.key for r in rows], total

    assert keys(NotificationFilter()) == (["k4", "k3", "k2", "k1", "k0"], 5)
    assert keys(NotificationFilter(booking_id="bk_1")) == (["k2", "k0"], 2)
    assert keys(NotificationFilter(topic="booking.rescheduled")) == (["k2", "k1"], 2)
    assert keys(NotificationFilter(status="failed")) == (["k4"], 1)
    assert keys(NotificationFilter(status="sent"), 1, 2) == (["k2", "k1"], 4)
    assert keys(NotificationFilter(site_ids=frozenset({"s1"}))) == (["k3"], 1)  # no bookings stored here
