"""The notification channels' formatting, and the notifier's contract over an in-memory
send log: one send per key, failures recorded and retried only where they failed, no
subject, body or address in the log lines."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from tests.factories import small_system
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.adapters.notify import (
    NO_ADDRESS,
    SENT,
    ChannelError,
    FileChannel,
    LoggedNotifier,
    MemorySendLog,
    NotificationFilter,
    SmtpChannel,
    SmtpConfig,
    WebhookChannel,
)
from careflow.adapters.notify.file_channel import file_line
from careflow.adapters.notify.smtp_channel import email_message
from careflow.adapters.notify.webhook_channel import sign, webhook_body
from careflow.bootstrap import bootstrap
from careflow.config import load_settings, parse_team_emails
from careflow.services.ports import AuditEntry, Notification, NotificationFailed

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SUBJECT, BODY = "Your visit moved to 10:30", "Synthetic Patient Zed: please arrive at 10:15."


def a_notification(key: str = "booking.rescheduled:bk_1:2", audience: str = "patient",
                   recipient: str = "pt_1", booking_id: str | None = "bk_1") -> Notification:
    return Notification(key, audience, recipient, "booking.rescheduled", SUBJECT, BODY,
                        booking_id=booking_id, data={"booking_id": "bk_1", "start": "2030-01-08T10:30:00Z"})


class Recording:
    """A channel that records what it delivered and can be told to fail or have no address."""

    def __init__(self, name: str, outcome: str = SENT) -> None:
        self.name = name
        self.outcome = outcome
        self.failing = False
        self.delivered: list[str] = []

    def deliver(self, notification: Notification) -> str:
        if self.failing:
            raise ChannelError(f"{self.name} is down")
        self.delivered.append(notification.key)
        return self.outcome


def test_the_file_line_is_one_json_object_per_line_with_the_message() -> None:
    line = file_line(a_notification(), T0)
    assert line.endswith("\n") and line.count("\n") == 1
    doc = json.loads(line)
    assert doc == {"key": "booking.rescheduled:bk_1:2", "at": "2030-01-07T08:00:00+00:00",
                   "audience": "patient", "recipient": "pt_1", "topic": "booking.rescheduled",
                   "booking_id": "bk_1", "subject": SUBJECT, "body": BODY,
                   "data": {"booking_id": "bk_1", "start": "2030-01-08T10:30:00Z"}}


def test_the_file_channel_appends_a_line_per_notification(tmp_path: Path) -> None:
    path = tmp_path / "var" / "notifications.jsonl"
    channel = FileChannel(path, FixedClock(T0))
    assert channel.deliver(a_notification("k1")) == SENT
    assert channel.deliver(a_notification("k2", "team", "procurement")) == SENT
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(d["key"], d["recipient"]) for d in lines] == [("k1", "pt_1"), ("k2", "procurement")]


def test_the_file_channel_reports_an_unwritable_file_without_the_message(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file, not a directory")
    channel = FileChannel(tmp_path / "blocked" / "notifications.jsonl", FixedClock(T0))
    with pytest.raises(ChannelError) as caught:
        channel.deliver(a_notification())
    assert SUBJECT not in str(caught.value) and BODY not in str(caught.value)


def test_the_email_carries_the_key_topic_and_recipients() -> None:
    msg = email_message(a_notification(), "careflow@example.org", ["zed@example.org"], T0)
    parsed = message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert parsed["From"] == "careflow@example.org" and parsed["To"] == "zed@example.org"
    assert parsed["Subject"] == SUBJECT
    assert parsed["X-Careflow-Key"] == "booking.rescheduled:bk_1:2"
    assert parsed["X-Careflow-Topic"] == "booking.rescheduled"
    digest = hashlib.sha256(b"booking.rescheduled:bk_1:2").hexdigest()[:32]
    assert parsed["Message-ID"] == f"<{digest}@careflow>"
    assert parsed["Date"] == "Mon, 07 Jan 2030 08:00:00 +0000"
    assert parsed.get_content().strip() == BODY


def test_team_addresses_are_parsed_and_malformed_entries_refused() -> None:
    teams = parse_team_emails(" procurement=proc@example.org, or=or1@example.org,or=or2@example.org ,")
    assert teams == {"procurement": ("proc@example.org",), "or": ("or1@example.org", "or2@example.org")}
    for bad in ("procurement", "procurement=not-an-address", "=a@b.org", "or=a b@c.org"):
        with pytest.raises(ValueError, match="team=name@domain"):
            parse_team_emails(bad)


@pytest.mark.parametrize(("settings", "message"), [
    ({"notify_channels": "file,pigeon"}, "must list file, smtp and/or webhook"),
    ({"notify_channels": "file,file"}, "twice"),
    ({"notify_channels": "smtp"}, "notify_smtp_host and notify_smtp_from"),
    ({"notify_channels": "smtp", "notify_smtp_host": "mail.example.org"}, "notify_smtp_from"),
    ({"notify_channels": "webhook", "notify_webhook_secret": "s" * 16}, "http\\(s\\) URL"),
    ({"notify_channels": "webhook", "notify_webhook_url": "https://hooks.example.org/x",
      "notify_webhook_secret": "short"}, "at least 16 characters"),
    ({"notify_team_emails": "procurement"}, "team=name@domain")])
def test_unusable_notification_settings_are_refused_at_load(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(**settings)


def test_complete_notification_settings_load() -> None:
    s = load_settings(notify_channels=" file , smtp,webhook", notify_smtp_host="mail.example.org",
                      notify_smtp_from="careflow@example.org", notify_webhook_url="https://hooks.example.org/x",
                      notify_webhook_secret="s" * 16, notify_team_emails="or=or@example.org")
    assert s.notify_channels == "file,smtp,webhook"
    assert s.team_emails() == {"or": ("or@example.org",)}
    assert load_settings().notify_channels == "file"  # the default needs nothing else


def test_the_smtp_channel_has_no_address_for_a_patient_without_email_or_an_unknown_team() -> None:
    emails = {"pt_1": None, "pt_2": "two@example.org"}
    channel = SmtpChannel(SmtpConfig("127.0.0.1", 1, "careflow@example.org"), emails.get,
                          {"procurement": ("proc@example.org",)}, FixedClock(T0))
    assert channel.deliver(a_notification(recipient="pt_1")) == NO_ADDRESS  # no server contacted
    assert channel.deliver(a_notification(audience="team", recipient="housekeeping")) == NO_ADDRESS
    assert channel.addresses(a_notification(recipient="pt_2")) == ["two@example.org"]
    assert channel.addresses(a_notification(audience="team", recipient="procurement")) == ["proc@example.org"]
    with pytest.raises(ValueError, match="notify_smtp_host"):
        SmtpChannel(SmtpConfig("", 25, ""), emails.get, {}, FixedClock(T0))


def test_the_webhook_body_is_signed_with_hmac_sha256() -> None:
    body = webhook_body(a_notification(), T0)
    doc = json.loads(body)
    assert doc["key"] == "booking.rescheduled:bk_1:2" and doc["sent_at"] == "2030-01-07T08:00:00+00:00"
    assert doc["subject"] == SUBJECT and doc["data"]["booking_id"] == "bk_1"
    expected = hmac.new(b"s" * 32, body, hashlib.sha256).hexdigest()
    assert sign(body, "s" * 32) == f"sha256={expected}"
    assert sign(body + b" ", "s" * 32) != sign(body, "s" * 32)


def test_the_webhook_channel_refuses_a_bad_url_or_a_short_secret() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookChannel("ftp://example.org/x", "s" * 32, 5, FixedClock(T0))
    with pytest.raises(ValueError, match="16 characters"):
        WebhookChannel("https://example.org/x", "short", 5, FixedClock(T0))


def test_a_key_is_sent_once_however_often_it_is_asked() -> None:
    channel = Recording("file")
    notifier = LoggedNotifier([channel], MemorySendLog(), FixedClock(T0))
    assert notifier.notify(a_notification()) is True
    assert notifier.notify(a_notification()) is False
    assert channel.delivered == ["booking.rescheduled:bk_1:2"]
    row = notifier.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and (row.status, row.attempts, row.channels) == ("sent", 1, {"file": "sent"})
    assert row.sent_at == T0


def test_a_failed_channel_is_retried_alone_on_the_next_ask() -> None:
    file, webhook = Recording("file"), Recording("webhook")
    webhook.failing = True
    notifier = LoggedNotifier([file, webhook], MemorySendLog(), FixedClock(T0))
    with pytest.raises(NotificationFailed, match="webhook is down"):
        notifier.notify(a_notification())
    row = notifier.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and row.status == "failed"
    assert row.channels == {"file": "sent", "webhook": "failed"}
    assert row.last_error == "webhook: webhook is down"

    webhook.failing = False
    assert notifier.notify(a_notification()) is True
    assert file.delivered == webhook.delivered == ["booking.rescheduled:bk_1:2"]  # file: once only
    row = notifier.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert notifier.notify(a_notification()) is False


def test_the_memory_log_audits_each_outcome() -> None:
    entries: list[AuditEntry] = []
    webhook = Recording("webhook")
    webhook.failing = True
    notifier = LoggedNotifier([webhook], MemorySendLog(audit=entries.append), FixedClock(T0))
    with pytest.raises(NotificationFailed):
        notifier.notify(a_notification())
    webhook.failing = False
    notifier.notify(a_notification())
    assert [(e.actor, e.action, e.entity_id, e.outcome) for e in entries] == [
        ("system", "notification.send", "booking.rescheduled:bk_1:2", "failed"),
        ("system", "notification.send", "booking.rescheduled:bk_1:2", "ok")]
    assert SUBJECT not in str(entries) and BODY not in str(entries)


def test_no_address_on_one_channel_does_not_stop_the_others() -> None:
    file, smtp = Recording("file"), Recording("smtp", NO_ADDRESS)
    notifier = LoggedNotifier([smtp, file], MemorySendLog(), FixedClock(T0))
    assert notifier.notify(a_notification()) is True
    row = notifier.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and row.status == "sent" and row.channels == {"smtp": NO_ADDRESS, "file": "sent"}


def test_a_channel_bug_is_recorded_as_a_failure_not_left_sending() -> None:
    class Broken(Recording):
        def deliver(self, notification: Notification) -> str:
            raise KeyError("a secret detail")

    notifier = LoggedNotifier([Broken("file")], MemorySendLog(), FixedClock(T0))
    with pytest.raises(NotificationFailed):
        notifier.notify(a_notification())
    row = notifier.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and row.status == "failed" and row.last_error == "file: unexpected KeyError"


@pytest.mark.parametrize(("change", "field"), [
    ({"audience": "doctor"}, "audience"), ({"key": ""}, "key"), ({"key": "k" * 256}, "key"),
    ({"key": "naïve"}, "key"), ({"recipient": "pt\n1"}, "recipient"), ({"topic": ""}, "topic"),
    ({"booking_id": "b" * 65}, "booking_id"), ({"subject": "two\nlines"}, "subject"),
    ({"subject": " "}, "subject"),
    ({"body": "nul\x00"}, "body"), ({"data": {"ids": {1, 2}}}, "data"), ({"data": {"x": "a\x00"}}, "data"),
    ({"data": {"ratio": float("nan")}}, "data"), ({"data": ["bk_1"]}, "data")])
def test_a_malformed_notification_is_refused_before_anything_is_sent(change: dict[str, str],
                                                                     field: str) -> None:
    channel = Recording("file")
    notifier = LoggedNotifier([channel], MemorySendLog(), FixedClock(T0))
    fields = {"key": "k1", "audience": "patient", "recipient": "pt_1", "topic": "t", "subject": "s",
              "body": "b", "booking_id": None, **change}
    with pytest.raises(ValueError, match=field):
        notifier.notify(Notification(**fields))  # type: ignore[arg-type]
    assert channel.delivered == [] and notifier.send_log.find(NotificationFilter(), 0, 10)[1] == 0


def test_times_in_data_are_stored_as_iso_text() -> None:
    log = MemorySendLog()
    notifier = LoggedNotifier([Recording("file")], log, FixedClock(T0))
    notifier.notify(Notification("k1", "patient", "pt_1", "t", "s", "b", data={"at": T0, "day": T0.date()}))
    row = log.get("k1")
    assert row is not None and row.data == {"at": "2030-01-07T08:00:00+00:00", "day": "2030-01-07"}


def test_log_lines_carry_ids_but_never_the_subject_body_or_address(caplog: pytest.LogCaptureFixture) -> None:
    file, webhook = Recording("file"), Recording("webhook")
    notifier = LoggedNotifier([file, webhook], MemorySendLog(), FixedClock(T0))
    with caplog.at_level(logging.INFO, logger="careflow.notify"):
        notifier.notify(a_notification())
        notifier.notify(a_notification())
        webhook.failing = True
        with pytest.raises(NotificationFailed):
            notifier.notify(a_notification("k2"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    events = [json.loads(r.getMessage())["event"] for r in caplog.records]
    assert events == ["notification.sent", "notification.skipped", "notification.failed"]
    assert "booking.rescheduled:bk_1:2" in text and "bk_1" in text and "pt_1" in text
    assert SUBJECT not in text and BODY not in text and "Zed" not in text


def test_the_memory_log_lists_newest_first_with_filters_and_sites() -> None:
    clock = FixedClock(T0)
    sites = {"bk_1": "s1", "bk_2": "s2"}
    notifier = LoggedNotifier([Recording("file")], MemorySendLog(sites.get), clock)
    notifier.notify(a_notification("k1", booking_id="bk_1"))
    clock.advance(minutes=1)
    notifier.notify(a_notification("k2", booking_id="bk_2"))
    clock.advance(minutes=1)
    notifier.notify(a_notification("k3", audience="team", recipient="procurement", booking_id=None))
    log = notifier.send_log
    assert [r.key for r in log.find(NotificationFilter(), 0, 10)[0]] == ["k3", "k2", "k1"]
    assert [r.key for r in log.find(NotificationFilter(booking_id="bk_2"), 0, 10)[0]] == ["k2"]
    assert [r.key for r in log.find(NotificationFilter(site_ids=frozenset({"s1"})), 0, 10)[0]] == ["k3", "k1"]
    page, total = log.find(NotificationFilter(status="sent"), 1, 1)
    assert [r.key for r in page] == ["k2"] and total == 3


def test_a_careflow_without_a_database_keeps_its_log_in_memory_and_audits(tmp_path: Path) -> None:
    fake = FakeUnitOfWorkFactory.of(small_system())
    app = bootstrap(load_settings(notify_file=str(tmp_path / "out.jsonl")), uow=fake, clock=FixedClock(T0))
    assert app.notifier.notify(a_notification()) is True
    assert app.notifier.notify(a_notification()) is False
    row = app.notification_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and (row.status, row.channels) == ("sent", {"file": "sent"})
    assert [(a.action, a.outcome) for a in fake.committed.audit] == [("notification.send", "ok")]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
