"""The webhook channel against a local HTTP server: the body arrives signed (the receiver
verifies the HMAC-SHA256 with the shared secret), a non-2xx answer, a redirect or a
timeout is a failure, and the next notify of the key delivers it once."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine
from tests.fakes import FixedClock

from careflow.adapters.db import make_engine, migrate
from careflow.adapters.notify import SIGNATURE_HEADER, LoggedNotifier, SqlSendLog, WebhookChannel
from careflow.services.ports import Notification, NotificationFailed

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SECRET = "a-synthetic-shared-secret-0123456789"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """The channel's tests need one database (the send log runs on both in test_notify_send_log)."""
    migrate(sqlite_url)
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@dataclass
class Receiver:
    """What the local server got, and how it answers (status, or a delay past the timeout)."""

    received: list[tuple[dict[str, object], bool, str]] = field(default_factory=list)
    status: int = 204
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.delay:
                release.wait(state.delay)
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            verified = hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER, ""))
            state.received.append((json.loads(body), verified, self.headers.get("X-Careflow-Key", "")))
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/careflow"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def offer(key: str = "waitlist.offer:wl_1:1") -> Notification:
    return Notification(key, "patient", "pt_7", "waitlist.offer", "A slot opened", "Reply YES (synthetic).",
                        booking_id="bk_9", data={"booking_id": "bk_9", "expires_at": "2030-01-07T10:00:00Z"})


def notifier(engine: Engine, url: str, timeout: float = 5) -> LoggedNotifier:
    return LoggedNotifier([WebhookChannel(url, SECRET, timeout, FixedClock(T0))], SqlSendLog(engine),
                          FixedClock(T0))


def test_the_post_is_signed_and_sent_once(engine: Engine, receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    n = notifier(engine, url)
    assert n.notify(offer()) is True
    assert n.notify(offer()) is False
    assert len(state.received) == 1
    doc, verified, key_header = state.received[0]
    assert verified and key_header == "waitlist.offer:wl_1:1"
    assert doc == {"key": "waitlist.offer:wl_1:1", "audience": "patient", "recipient": "pt_7",
                   "topic": "waitlist.offer", "booking_id": "bk_9", "subject": "A slot opened",
                   "body": "Reply YES (synthetic).", "sent_at": "2030-01-07T08:00:00+00:00",
                   "data": {"booking_id": "bk_9", "expires_at": "2030-01-07T10:00:00Z"}}


def test_a_wrong_secret_does_not_verify(engine: Engine, receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    channel = WebhookChannel(url, "another-secret-of-sufficient-length", 5, FixedClock(T0))
    LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0)).notify(offer())
    assert [verified for _, verified, _ in state.received] == [False]


@pytest.mark.parametrize(("status", "headers"), [(500, {}), (404, {}), (302, {"Location": "/elsewhere"})])
def test_a_non_2xx_answer_fails_and_a_later_notify_retries(engine: Engine, receiver: tuple[Receiver, str],
                                                           status: int, headers: dict[str, str]) -> None:
    state, url = receiver
    state.status, state.headers = status, headers
    n = notifier(engine, url)
    with pytest.raises(NotificationFailed, match=rf"webhook 127\.0\.0\.1:\d+ answered {status}"):
        n.notify(offer())
    row = n.send_log.get("waitlist.offer:wl_1:1")
    assert row is not None and (row.status, row.channels["webhook"]) == ("failed", "failed")

    state.status, state.headers = 200, {}
    assert n.notify(offer()) is True
    assert n.notify(offer()) is False
    assert len(state.received) == 2  # the failed attempt and the retry; never a third
    row = n.send_log.get("waitlist.offer:wl_1:1")
    assert row is not None and (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_a_slow_receiver_is_a_timeout_failure(engine: Engine, receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    state.delay = 5
    with pytest.raises(NotificationFailed, match=r"failed \((TimeoutError|URLError)\)"):
        notifier(engine, url, timeout=0.3).notify(offer())
