"""The notifier from settings: the channels named in ``notify_channels``, in that order,
behind the SQL send log (or, for a careflow built without a database, the in-memory one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from careflow.adapters.notify.channel import Channel
from careflow.adapters.notify.file_channel import FileChannel
from careflow.adapters.notify.notifier import LoggedNotifier
from careflow.adapters.notify.send_log import MemorySendLog, SendLog, SqlSendLog
from careflow.config import Settings

__all__ = ["build_notifier", "notification_file"]


def notification_file(settings: Settings) -> Path:
    """``notify_file``, else ``notifications.jsonl`` beside the SQLite file, else under var/."""
    if settings.notify_file:
        return Path(settings.notify_file)
    db = settings.sqlite_path()
    if db is not None and db.name not in ("", ":memory:"):
        return db.with_name("notifications.jsonl")
    return Path("var") / "notifications.jsonl"


def build_notifier(settings: Settings, engine: Engine | None,
                   clock: Callable[[], datetime]) -> LoggedNotifier:
    """The configured notifier; a channel without its required settings is refused."""
    channels: list[Channel] = []
    for name in settings.notify_channels.split(","):
        if name == "file":
            channels.append(FileChannel(notification_file(settings), clock))
        else:
            raise ValueError(f"unknown notification channel {name!r}")
    send_log: SendLog = SqlSendLog(engine) if engine is not None else MemorySendLog()
    return LoggedNotifier(channels, send_log, clock)
