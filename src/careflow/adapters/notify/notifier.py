"""The notifier: a durable send log in front of the configured channels.

``notify`` claims the key in the send log, delivers through each channel that has not
already delivered it, and records every channel's outcome. A key is sent once: asking
again returns False. When a channel fails, the key is marked ``failed`` (with the
channels that did deliver) and ``NotificationFailed`` is raised; a later ``notify`` of the
same key retries only the channels that failed. A process that dies between delivering
and recording leaves the key ``sending``, which is never resent: at most once in that
window, never a duplicate (see send_log.py).

The log line of each attempt carries the key, topic, audience, recipient id (a patient id
or a team name), booking id and outcomes, never an address, the subject or the body. A
malformed notification is refused with ``ValueError`` before anything is claimed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import structlog

from careflow.adapters.notify.channel import FAILED, NO_ADDRESS, Channel, ChannelError
from careflow.adapters.notify.send_log import SendLog
from careflow.services.ports import Notification, NotificationFailed

__all__ = ["AUDIENCES", "LoggedNotifier"]

log: Any = structlog.wrap_logger(
    logging.getLogger("careflow.notify"), wrapper_class=structlog.stdlib.BoundLogger,
    processors=[structlog.stdlib.filter_by_level, structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True), structlog.processors.JSONRenderer()])

AUDIENCES = ("patient", "team")


class LoggedNotifier:
    """Sends each notification key once through ``channels``, recorded in ``send_log``."""

    def __init__(self, channels: Sequence[Channel], send_log: SendLog, clock: Callable[[], datetime]) -> None:
        if not channels:
            raise ValueError("a notifier needs at least one channel")
        self.channels = tuple(channels)
        self.send_log = send_log
        self._clock = clock

    def notify(self, notification: Notification) -> bool:
        n = _checked(notification)
        earlier = self.send_log.claim(n, self._clock())
        if earlier is None:
            log.info("notification.skipped", **_ids(n), reason="sent before")
            return False
        outcomes = dict(earlier)
        errors: list[str] = []
        for channel in self.channels:
            if outcomes.get(channel.name, FAILED) != FAILED:
                continue  # delivered (or nowhere to deliver) on an earlier attempt
            try:
                outcomes[channel.name] = channel.deliver(n)
            except ChannelError as exc:
                outcomes[channel.name] = FAILED
                errors.append(f"{channel.name}: {exc}")
            except Exception as exc:  # a channel's own bug: recorded (type only, no PHI), not stuck
                outcomes[channel.name] = FAILED
                errors.append(f"{channel.name}: unexpected {type(exc).__name__}")
        error = "; ".join(errors) or None
        self.send_log.finish(n.key, outcomes, error, self._clock())
        if error is not None:
            log.warning("notification.failed", **_ids(n), channels=outcomes)
            raise NotificationFailed(f"notification {n.key} failed: {error}")
        if all(o == NO_ADDRESS for o in outcomes.values()):
            log.warning("notification.unreachable", **_ids(n), channels=outcomes)
        else:
            log.info("notification.sent", **_ids(n), channels=outcomes)
        return True


# Printable ASCII ids that fit their columns (the key also travels in mail and HTTP headers).
LIMITS = (("key", 255), ("recipient", 128), ("topic", 64), ("booking_id", 64))


def _checked(n: Notification) -> Notification:
    """Refuse a malformed notification before anything is claimed or sent; ``data`` comes
    back as plain JSON (datetimes and dates as ISO text)."""
    if n.audience not in AUDIENCES:
        raise ValueError(f"notification audience must be one of {', '.join(AUDIENCES)}")
    for name, limit in LIMITS:
        value = getattr(n, name)
        if value is None and name == "booking_id":
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isascii() \
                or not value.isprintable():
            raise ValueError(f"notification {name} must be 1 to {limit} printable ASCII characters")
    if not isinstance(n.subject, str) or not n.subject.strip() or len(n.subject) > 400 \
            or not n.subject.isprintable():
        raise ValueError("notification subject must be 1 to 400 printable characters on one line")
    if not isinstance(n.body, str) or "\x00" in n.body or len(n.body) > 100_000:
        raise ValueError("notification body must be text of at most 100000 characters without NUL")
    if not isinstance(n.data, dict):
        raise ValueError("notification data must be an object of ids and times")
    try:
        data = json.loads(json.dumps(n.data, default=_plain, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"notification data must hold ids and times only ({exc})") from exc
    if _has_nul(data):
        raise ValueError("notification data must not contain NUL characters")
    return replace(n, data=data)


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _plain(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _ids(n: Notification) -> dict[str, object]:
    """The structured fields of a log line: ids only (a patient id or a team name, never an
    address, a subject or a body)."""
    return {"notification_key": n.key, "topic": n.topic, "audience": n.audience, "recipient": n.recipient,
            "booking_id": n.booking_id}
