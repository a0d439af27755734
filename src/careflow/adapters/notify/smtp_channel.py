"""E-mail through an SMTP server (the standard library's ``smtplib``).

A patient's address is their ``email`` contact (looked up by patient id when sending); a
team's comes from ``notify_team_emails`` ("procurement=proc@example.org,or=or@example.org",
a team may be listed more than once). Without an address the outcome is ``no address``,
not an error. When the server refuses some of a team's addresses but accepts others the
outcome is ``partly sent``, which is not retried (the others would get it twice).

The ``Message-ID`` is derived from the notification key, so a receiving system can also
drop a duplicate; ``X-Careflow-Key`` and ``X-Careflow-Topic`` carry the key and topic for
filters. Errors are reported by class and SMTP code only: a server's reply may echo
addresses.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from careflow.adapters.notify.channel import NO_ADDRESS, PARTLY_SENT, SENT, ChannelError
from careflow.services.ports import Notification

__all__ = ["SmtpChannel", "SmtpConfig", "email_message"]


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0


def email_message(notification: Notification, sender: str, to: Sequence[str], at: datetime) -> EmailMessage:
    """The e-mail for one notification (plain text, UTF-8)."""
    n = notification
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = n.subject
    digest = hashlib.sha256(n.key.encode()).hexdigest()[:32]
    msg["Message-ID"] = f"<{digest}@careflow>"
    msg["X-Careflow-Key"] = n.key
    msg["X-Careflow-Topic"] = n.topic
    msg["Date"] = format_datetime(at)
    msg.set_content(n.body)
    return msg


class SmtpChannel:
    """Sends each notification as one e-mail, one SMTP session per message."""

    name = "smtp"

    def __init__(self, config: SmtpConfig, patient_email: Callable[[str], str | None],
                 team_emails: Mapping[str, Sequence[str]], clock: Callable[[], datetime]) -> None:
        if not config.host or not config.sender:
            raise ValueError("the smtp channel needs notify_smtp_host and notify_smtp_from")
        self.config = config
        self._patient_email = patient_email
        self._teams = dict(team_emails)
        self._clock = clock

    def addresses(self, notification: Notification) -> list[str]:
        if notification.audience == "patient":
            found = self._patient_email(notification.recipient)
            return [found] if found else []
        return list(self._teams.get(notification.recipient, ()))

    def deliver(self, notification: Notification) -> str:
        to = self.addresses(notification)
        if not to:
            return NO_ADDRESS
        c = self.config
        msg = email_message(notification, c.sender, to, self._clock())
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, c.password)
                refused = smtp.send_message(msg, from_addr=c.sender, to_addrs=to)
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(f"SMTP {c.host}:{c.port} answered {exc.smtp_code} "
                               f"({type(exc).__name__})") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP {c.host}:{c.port} failed ({type(exc).__name__})") from exc
        if refused:  # some were accepted (all refused raises): sending again would duplicate theirs
            return PARTLY_SENT
        return SENT
