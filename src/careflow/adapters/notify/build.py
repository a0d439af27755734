"""The notifier from settings: the channels named in ``notify_channels``, in that order,
behind the SQL send log (or, for a careflow built without a database, the in-memory one).
A channel without the settings it needs is refused with a message naming them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from careflow.adapters.notify.channel import Channel
from careflow.adapters.notify.file_channel import FileChannel
from careflow.adapters.notify.notifier import LoggedNotifier
from careflow.adapters.notify.send_log import MemorySendLog, SendLog, SqlSendLog
from careflow.adapters.notify.smtp_channel import SmtpChannel, SmtpConfig
from careflow.adapters.notify.webhook_channel import WebhookChannel
from careflow.config import Settings
from careflow.services.ports import AuditEntry, UnitOfWorkFactory

__all__ = ["audit_to", "booking_site_lookup", "build_notifier", "notification_file", "patient_email_lookup"]

Clock = Callable[[], datetime]


def notification_file(settings: Settings) -> Path:
    """``notify_file``, else ``notifications.jsonl`` beside the SQLite file, else under var/."""
    if settings.notify_file:
        return Path(settings.notify_file)
    db = settings.sqlite_path()
    if db is not None and db.name not in ("", ":memory:"):
        return db.with_name("notifications.jsonl")
    return Path("var") / "notifications.jsonl"


def patient_email_lookup(uow: UnitOfWorkFactory) -> Callable[[str], str | None]:
    """A patient's e-mail contact by id (None for an unknown patient or no address)."""
    def lookup(patient_id: str) -> str | None:
        with uow() as u:
            found = u.master.patient(patient_id)
        return found.email if found is not None else None
    return lookup


def booking_site_lookup(uow: UnitOfWorkFactory) -> Callable[[str], str | None]:
    """A booking's site by id (None for an unknown booking)."""
    def lookup(booking_id: str) -> str | None:
        with uow() as u:
            found = u.bookings.get(booking_id)
        return found.site_id if found is not None else None
    return lookup


def audit_to(uow: UnitOfWorkFactory) -> Callable[[AuditEntry], None]:
    """Write one audit entry in its own unit of work."""
    def audit(entry: AuditEntry) -> None:
        with uow(write=True) as u:
            u.audit(entry)
            u.commit()
    return audit


def _smtp(settings: Settings, uow: UnitOfWorkFactory, clock: Clock) -> SmtpChannel:
    config = SmtpConfig(settings.notify_smtp_host, settings.notify_smtp_port, settings.notify_smtp_from,
                        settings.notify_smtp_starttls, settings.notify_smtp_username,
                        settings.notify_smtp_password, settings.notify_smtp_timeout)
    return SmtpChannel(config, patient_email_lookup(uow), settings.team_emails(),
                       clock)


def build_notifier(settings: Settings, engine: Engine | None, uow: UnitOfWorkFactory,
                   clock: Clock) -> LoggedNotifier:
    """The configured notifier; raises ``ValueError`` for a channel missing its settings."""
    channels: list[Channel] = []
    for name in settings.notify_channels.split(","):
        if name == "file":
            channels.append(FileChannel(notification_file(settings), clock))
        elif name == "smtp":
            channels.append(_smtp(settings, uow, clock))
        elif name == "webhook":
            channels.append(WebhookChannel(settings.notify_webhook_url, settings.notify_webhook_secret,
                                           settings.notify_webhook_timeout, clock))
        else:
            raise ValueError(f"unknown notification channel {name!r}")
    send_log: SendLog = (SqlSendLog(engine) if engine is not None
                         else MemorySendLog(booking_site_lookup(uow), audit_to(uow)))
    return LoggedNotifier(channels, send_log, clock)
