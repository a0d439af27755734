"""The FakeNotifier keeps the Notifier port's promise: each key is sent once."""

from __future__ import annotations

import pytest
from tests.fakes import FakeNotifier

from careflow.services.ports import Notification, NotificationFailed


def a_notification(key: str = "k1", recipient: str = "pt_1") -> Notification:
    return Notification(key, "patient", recipient, "booking.rescheduled", "Your visit moved",
                        "synthetic body", booking_id="bk_1", data={"booking_id": "bk_1"})


def test_sends_a_key_once_and_answers_false_when_asked_again() -> None:
    fake = FakeNotifier()
    assert fake.notify(a_notification()) is True
    assert fake.notify(a_notification()) is False
    assert fake.asked == 2
    assert [n.key for n in fake.sent] == ["k1"]


def test_a_failed_send_is_not_recorded_and_a_later_ask_sends_it() -> None:
    fake = FakeNotifier()
    fake.fail_next = NotificationFailed("smtp down")
    with pytest.raises(NotificationFailed):
        fake.notify(a_notification())
    assert fake.sent == []
    assert fake.notify(a_notification()) is True
    assert fake.topics() == ["booking.rescheduled"]


def test_lists_what_went_to_one_recipient() -> None:
    fake = FakeNotifier()
    fake.notify(a_notification("k1", "pt_1"))
    fake.notify(a_notification("k2", "procurement"))
    assert [n.key for n in fake.to("procurement")] == ["k2"]
