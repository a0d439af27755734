"""The default channel: one JSON line per notification, appended to a file.

The file (``var/notifications.jsonl`` beside the SQLite database unless configured) is
the outgoing mailbox of a careflow without an e-mail server: another process (or a
person) reads it. Each line is written with one ``write`` on a file opened in append
mode, so lines from several processes do not interleave.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from careflow.adapters.notify.channel import SENT, ChannelError
from careflow.services.ports import Notification

__all__ = ["FileChannel", "file_line"]


def file_line(notification: Notification, at: datetime) -> str:
    """The JSON line for one notification (sorted keys, one line, newline-terminated)."""
    n = notification
    doc = {"key": n.key, "at": at.isoformat(), "audience": n.audience, "recipient": n.recipient,
           "topic": n.topic, "booking_id": n.booking_id, "subject": n.subject, "body": n.body,
           "data": n.data}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str) + "\n"


class FileChannel:
    """Appends each notification to ``path`` as a JSON line."""

    name = "file"

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()

    def deliver(self, notification: Notification) -> str:
        data = file_line(notification, self._clock()).encode()
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise ChannelError(f"cannot append to {self.path}: {exc.strerror or type(exc).__name__}") from exc
        return SENT
