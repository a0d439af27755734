"""The SMTP channel against a real local SMTP server (aiosmtpd): the message arrives with
its headers and recipients, login and STARTTLS (certificate verified) work, refusals and a
dead server are failures that a later notify retries, and a patient without an address
gets 'no address'."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine
from tests.fakes import FixedClock

from careflow.adapters.db import make_engine, migrate
from careflow.adapters.notify import LoggedNotifier, SmtpChannel, SmtpConfig, SqlSendLog
from careflow.services.ports import Notification, NotificationFailed

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SENDER = "careflow@example.org"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """The channel's tests need one database (the send log runs on both in test_notify_send_log)."""
    migrate(sqlite_url)
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@dataclass
class Inbox:
    """What the local server accepted: (envelope sender, recipients, parsed message)."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    reject_data: bool = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reject_data:
            return "554 Transaction failed"
        msg = message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"cf", b"pw")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=check_login,
                            auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def notifier(engine: Engine, port: int, emails: dict[str, str | None], **config: Any) -> LoggedNotifier:
    channel = SmtpChannel(SmtpConfig("127.0.0.1", port, SENDER, timeout=5, **config), emails.get,
                          {"procurement": ("proc@example.org", "proc2@example.org")}, FixedClock(T0))
    return LoggedNotifier([channel], SqlSendLog(engine), FixedClock(T0))


def moved(key: str = "booking.rescheduled:bk_1:2", recipient: str = "pt_1", audience: str = "patient"
          ) -> Notification:
    return Notification(key, audience, recipient, "booking.rescheduled", "Your visit moved",
                        "Please arrive at 10:15 (synthetic).", booking_id="bk_1", data={"booking_id": "bk_1"})


def test_a_patient_email_arrives_once_with_its_headers(engine: Engine,
                                                       smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    n = notifier(engine, port, {"pt_1": "zed@example.org"}, username="cf", password="pw")
    assert n.notify(moved()) is True
    assert n.notify(moved()) is False
    assert len(inbox.messages) == 1
    sender, rcpts, msg = inbox.messages[0]
    assert (sender, rcpts) == (SENDER, ["zed@example.org"])
    assert (msg["From"], msg["To"], msg["Subject"]) == (SENDER, "zed@example.org", "Your visit moved")
    assert msg["X-Careflow-Key"] == "booking.rescheduled:bk_1:2"
    assert msg["X-Careflow-Topic"] == "booking.rescheduled"
    assert msg.get_content().strip() == "Please arrive at 10:15 (synthetic)."
    row = n.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and (row.status, row.channels) == ("sent", {"smtp": "sent"})


def test_a_team_gets_one_message_to_all_its_addresses(engine: Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    n = notifier(engine, port, {})
    assert n.notify(moved("case.implant_short:c1", "procurement", "team")) is True
    assert [(m[1], m[2]["To"]) for m in inbox.messages] == [
        (["proc@example.org", "proc2@example.org"], "proc@example.org, proc2@example.org")]


def test_a_patient_without_an_address_is_recorded_not_failed(engine: Engine,
                                                            smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    n = notifier(engine, port, {"pt_1": None})
    assert n.notify(moved()) is True
    row = n.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and (row.status, row.channels) == ("sent", {"smtp": "no address"})
    assert inbox.messages == []


def test_a_refused_recipient_fails_and_is_retried_later(engine: Engine,
                                                       smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    inbox.refuse.add("zed@example.org")
    n = notifier(engine, port, {"pt_1": "zed@example.org"})
    with pytest.raises(NotificationFailed, match=r"smtp: SMTP 127\.0\.0\.1") as caught:
        n.notify(moved())
    assert "zed@example.org" not in str(caught.value)  # errors never carry the address
    row = n.send_log.get("booking.rescheduled:bk_1:2")
    assert row is not None and row.status == "failed" and "zed" not in (row.last_error or "")

    inbox.refuse.clear()
    assert n.notify(moved()) is True
    assert [m[1] for m in inbox.messages] == [["zed@example.org"]]
    assert n.send_log.get("booking.rescheduled:bk_1:2").attempts == 2  # type: ignore[union-attr]


def test_one_refused_team_address_is_partly_sent_and_not_resent(engine: Engine,
                                                                smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    inbox.refuse.add("proc2@example.org")
    n = notifier(engine, port, {})
    assert n.notify(moved("case.implant_short:c1", "procurement", "team")) is True
    assert n.notify(moved("case.implant_short:c1", "procurement", "team")) is False
    assert [m[1] for m in inbox.messages] == [["proc@example.org"]]
    row = n.send_log.get("case.implant_short:c1")
    assert row is not None and row.channels == {"smtp": "partly sent"}


def test_a_rejected_message_and_a_dead_server_are_failures(engine: Engine,
                                                           smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    inbox.reject_data = True
    with pytest.raises(NotificationFailed, match=r"answered 554 \(SMTPDataError\)"):
        notifier(engine, port, {"pt_1": "zed@example.org"}, username="cf", password="pw").notify(moved())
    with pytest.raises(NotificationFailed, match=r"failed \(ConnectionRefusedError\)"):
        notifier(engine, free_port(), {"pt_1": "zed@example.org"}).notify(moved("k2"))
    assert inbox.messages == []


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "careflow test smtp")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_is_used_and_the_server_certificate_verified(engine: Engine, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls,
                            require_starttls=True, authenticator=check_login)
    controller.start()
    try:
        with pytest.raises(NotificationFailed, match=r"answered 530"):  # plain text is refused
            notifier(engine, port, {"pt_1": "zed@example.org"}).notify(moved("plain"))
        with pytest.raises(NotificationFailed, match=r"SSLCertVerificationError"):  # an unknown CA
            notifier(engine, port, {"pt_1": "zed@example.org"}, starttls=True).notify(moved("untrusted"))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the default context now trusts it
        n = notifier(engine, port, {"pt_1": "zed@example.org"}, starttls=True, username="cf", password="pw")
        assert n.notify(moved("tls")) is True
    finally:
        controller.stop()
    assert [(m[1], m[2]["X-Careflow-Key"]) for m in inbox.messages] == [(["zed@example.org"], "tls")]
