"""E-mail over SMTP: host, port, STARTTLS or implicit TLS, optional login, from configuration."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from kuota.notify.senders import DeliveryError


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = None
    sender: str = "kuota <no-reply@localhost>"
    timeout_seconds: float = 15.0


class SmtpSender:
    """One connection per message: the worker sends a few per second at most, and a fresh
    connection never carries a half-broken session from an earlier failure."""

    def __init__(self, settings: SmtpSettings) -> None:
        if settings.security not in {"starttls", "tls", "none"}:
            raise ValueError("SMTP security is one of: starttls, tls, none")
        self._settings = settings

    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=s.sender.rpartition("@")[2].strip(">") or None)
        message.set_content(body)
        context = ssl.create_default_context()
        try:
            if s.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            with client:
                if s.security == "starttls":
                    client.starttls(context=context)
                if s.username:
                    client.login(s.username, s.password or "")
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the mail server refused {recipient}: {exc.recipients}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP delivery to {recipient} failed: {exc}") from exc
        if refused:
            raise DeliveryError(f"the mail server refused {recipient}: {refused}")
