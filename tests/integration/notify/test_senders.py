"""The production senders against real peers: an SMTP server (aiosmtpd) and an HTTP SMS
gateway speaking Kannel's sendsms interface."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import select

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.notify.models import OutboxMessage, OutboxStatus
from kuota.notify.senders import DeliveryError
from kuota.notify.sms import KannelSmsSender, SmsGatewaySettings
from kuota.notify.smtp import SmtpSender, SmtpSettings
from kuota.notify.worker import deliver_due
from kuota.renewals import service as renewals
from kuota.renewals.service import RenewalRequest

from factories import FlakySender, make_card, make_subscriber, publish_demo_plans
from http_helpers import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append(
            (str(envelope.mail_from), list(envelope.rcpt_tos), message_from_bytes(content))
        )
        return "250 Message accepted"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"kuota", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield port, inbox
    controller.stop()


def sender_for(port: int, **over: Any) -> SmtpSender:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "kuota",
        "password": "s3cret",
        "sender": "kuota <no-reply@kuota.example>",
    }
    values.update(over)
    return SmtpSender(SmtpSettings(**values))


def test_smtp_sender_logs_in_and_delivers(smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    sender_for(port).send(
        channel="email", recipient="siti@kuota.example", subject="Paket aktif", body="Rp 15.000 ✓"
    )
    [(mail_from, rcpt, message)] = inbox.messages
    assert mail_from == "no-reply@kuota.example" and rcpt == ["siti@kuota.example"]
    assert message["Subject"] == "Paket aktif"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes) and "Rp 15.000 ✓" in payload.decode()


def test_smtp_refusals_and_wrong_login_are_delivery_errors(
    smtp_server: tuple[int, Inbox],
) -> None:
    port, inbox = smtp_server
    with pytest.raises(DeliveryError, match="refused"):
        sender_for(port).send(channel="email", recipient="x@refused.example", subject="s", body="b")
    with pytest.raises(DeliveryError, match="SMTP delivery"):
        sender_for(port, password="wrong").send(
            channel="email", recipient="a@kuota.example", subject="s", body="b"
        )
    with pytest.raises(DeliveryError, match="SMTP delivery"):
        sender_for(free_port()).send(
            channel="email", recipient="a@kuota.example", subject="s", body="b"
        )
    assert inbox.messages == []


def test_worker_delivers_a_renewal_confirmation_by_smtp(
    db: Database, ctx: Context, smtp_server: tuple[int, Inbox]
) -> None:
    port, inbox = smtp_server
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx)
        msisdn = make_card(s, ctx, user, balance=100_000)
    with db.unit_of_work() as s:
        renewals.renew(s, ctx, user, RenewalRequest(msisdn, "DATA-1GB-7D", "balance"))
    sms = FlakySender()
    stats = deliver_due(db, {"email": sender_for(port), "sms": sms}, max_attempts=3)
    assert stats.sent == 2
    [(_, rcpt, message)] = inbox.messages
    assert rcpt == [user.name] and "aktif" in message["Subject"]
    assert sms.sent == [msisdn]
    with db.unit_of_work(write=False) as s:
        statuses = set(s.execute(select(OutboxMessage.status)).scalars())
    assert statuses == {OutboxStatus.SENT}


class Gateway(BaseHTTPRequestHandler):
    requests: list[dict[str, list[str]]] = []
    status = 202

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        type(self).requests.append(query)
        answer = b"0: Accepted for delivery" if self.status == 202 else b"Authorization failed"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sms_gateway() -> Iterator[tuple[str, type[Gateway]]]:
    handler = type("RecordingGateway", (Gateway,), {"requests": [], "status": 202})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/sendsms", handler
    server.shutdown()
    server.server_close()


def test_kannel_sender_sends_the_documented_query(
    sms_gateway: tuple[str, type[Gateway]],
) -> None:
    url, gateway = sms_gateway
    sender = KannelSmsSender(SmsGatewaySettings(url=url, username="u", password="p"))
    sender.send(channel="sms", recipient="+6281100000001", subject="", body="Paket aktif")
    sender.send(channel="sms", recipient="+6281100000001", subject="", body="套餐已生效")
    plain, chinese = gateway.requests
    assert plain == {
        "username": ["u"],
        "password": ["p"],
        "from": ["kuota"],
        "to": ["+6281100000001"],
        "text": ["Paket aktif"],
        "charset": ["UTF-8"],
        "coding": ["0"],
    }
    assert chinese["text"] == ["套餐已生效"] and chinese["coding"] == ["2"]


def test_kannel_refusal_and_outage_are_delivery_errors(
    sms_gateway: tuple[str, type[Gateway]],
) -> None:
    url, gateway = sms_gateway
    gateway.status = 403
    sender = KannelSmsSender(SmsGatewaySettings(url=url, username="u", password="bad"))
    with pytest.raises(DeliveryError, match="403 Authorization failed"):
        sender.send(channel="sms", recipient="+6281100000001", subject="", body="x")
    down = KannelSmsSender(
        SmsGatewaySettings(
            url=f"http://127.0.0.1:{free_port()}/sendsms", username="u", password="p"
        )
    )
    with pytest.raises(DeliveryError, match="unreachable"):
        down.send(channel="sms", recipient="+6281100000001", subject="", body="x")


def test_production_without_providers_names_the_missing_settings(db: Database) -> None:
    from kuota.core.config import Mode, Settings
    from kuota.core.errors import ConfigurationError
    from kuota.notify.delivery import senders_for

    bare = Settings(mode=Mode.PRODUCTION, secret_key="k", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="KUOTA_SMTP_HOST and KUOTA_SMS_GATEWAY_URL"):
        senders_for(bare, db)
    configured = bare.model_copy(
        update={"smtp_host": "mail.example", "sms_gateway_url": "http://sms.example/sendsms"}
    )
    senders = senders_for(configured, db)
    assert isinstance(senders["email"], SmtpSender)
    assert isinstance(senders["sms"], KannelSmsSender)
