"""What a notification channel is, and the outcomes it reports.

A channel delivers one notification one way (a file, e-mail, a webhook). ``deliver``
returns ``SENT`` (or ``PARTLY_SENT``), or ``NO_ADDRESS`` when this channel has nowhere to send it (a patient
without an e-mail address): that is an outcome, not an error, and the other channels
still deliver. Any failure to deliver raises ``ChannelError`` whose message holds no
subject, body or address (it is stored and logged): ids, hosts and status codes only.
"""

from __future__ import annotations

from typing import Protocol

from careflow.services.ports import Notification

__all__ = ["FAILED", "NO_ADDRESS", "PARTLY_SENT", "SENT", "Channel", "ChannelError"]

SENT = "sent"
NO_ADDRESS = "no address"
PARTLY_SENT = "partly sent"  # some recipients refused, others reached: final, never resent
FAILED = "failed"  # recorded by the notifier when ``deliver`` raised: retried


class ChannelError(Exception):
    """A channel could not deliver; the message is safe to log (no PHI)."""


class Channel(Protocol):
    name: str

    def deliver(self, notification: Notification) -> str:
        """Deliver it; ``SENT`` or ``NO_ADDRESS``, or raise ``ChannelError``."""
        ...
