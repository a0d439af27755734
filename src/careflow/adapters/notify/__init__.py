"""Notifications: the ``Notifier`` port behind a durable send log, with file, e-mail and
webhook channels (see notifier.py for the idempotency contract)."""

from careflow.adapters.notify.build import build_notifier, notification_file
from careflow.adapters.notify.channel import NO_ADDRESS, SENT, Channel, ChannelError
from careflow.adapters.notify.file_channel import FileChannel
from careflow.adapters.notify.notifier import LoggedNotifier
from careflow.adapters.notify.records import NotificationFilter, NotificationRecord
from careflow.adapters.notify.send_log import MemorySendLog, SendLog, SqlSendLog
from careflow.adapters.notify.smtp_channel import SmtpChannel, SmtpConfig
from careflow.adapters.notify.webhook_channel import SIGNATURE_HEADER, WebhookChannel

__all__ = ["NO_ADDRESS", "SENT", "SIGNATURE_HEADER", "Channel", "ChannelError", "FileChannel",
           "LoggedNotifier", "MemorySendLog", "NotificationFilter", "NotificationRecord", "SendLog",
           "SmtpChannel", "SmtpConfig", "SqlSendLog", "WebhookChannel", "build_notifier",
           "notification_file"]
