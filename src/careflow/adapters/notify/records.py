"""The send log's rows as values, and the listing filter (shared by both logs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["FAILED", "SENDING", "SENT", "STATUSES", "NotificationFilter", "NotificationRecord"]

SENDING = "sending"
SENT = "sent"
FAILED = "failed"
STATUSES = (SENDING, SENT, FAILED)


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One key's row: ``channels`` maps each channel to its outcome (``sent``,
    ``no address`` or ``failed``); a row left ``sending`` by a crash is never resent."""

    key: str
    audience: str
    recipient: str
    topic: str
    booking_id: str | None
    channels: dict[str, str]
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    subject: str = ""
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    """``site_ids`` (None: every site) keeps the notifications of those sites' bookings and
    those about no booking."""

    booking_id: str | None = None
    topic: str | None = None
    status: str | None = None
    site_ids: frozenset[str] | None = None
