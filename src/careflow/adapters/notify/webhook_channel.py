"""A webhook: each notification POSTed as JSON to one URL, signed.

The body is the notification as JSON (key, audience, recipient, topic, booking id,
subject, body, data, sent_at). ``X-Careflow-Signature: sha256=<hex>`` is the
HMAC-SHA256 of the exact body bytes with the shared secret; ``X-Careflow-Key`` repeats the
notification key so the receiver can drop a duplicate. Any answer but 2xx is a failure
(redirects are not followed), as is a timeout; errors name the host and status only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from careflow.adapters.notify.channel import SENT, ChannelError
from careflow.services.ports import Notification

__all__ = ["SIGNATURE_HEADER", "WebhookChannel", "sign", "webhook_body"]

SIGNATURE_HEADER = "X-Careflow-Signature"


def webhook_body(notification: Notification, at: datetime) -> bytes:
    """The JSON body (sorted keys, UTF-8) the signature covers."""
    n = notification
    doc = {"key": n.key, "audience": n.audience, "recipient": n.recipient, "topic": n.topic,
           "booking_id": n.booking_id, "subject": n.subject, "body": n.body, "data": n.data,
           "sent_at": at.isoformat()}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is then raised as an HTTPError: not a delivery


class WebhookChannel:
    """POSTs each notification to ``url``; 2xx is delivered, anything else failed."""

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float, clock: Callable[[], datetime]) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("notify_webhook_url must be an http(s) URL")
        if len(secret) < 16:
            raise ValueError("notify_webhook_secret must be at least 16 characters")
        self.url = url
        self.host = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._secret = secret
        self._timeout = timeout
        self._clock = clock
        self._opener = urllib.request.build_opener(_NoRedirect())

    def deliver(self, notification: Notification) -> str:
        body = webhook_body(notification, self._clock())
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self._secret),
            "X-Careflow-Key": notification.key, "User-Agent": "careflow-notify"})
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"webhook {self.host} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ChannelError(f"webhook {self.host} failed ({type(exc).__name__})") from exc
        if not 200 <= status < 300:
            raise ChannelError(f"webhook {self.host} answered {status}")
        return SENT
