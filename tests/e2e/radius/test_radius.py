"""The RADIUS server as an access server sees it: FreeRADIUS's `radclient` against
kuota's server running in-process on the demo database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from pyrad import packet as radius
from sqlalchemy import delete, select, update

from kuota.cards.models import Card, CardStatus
from kuota.catalog import service as catalog
from kuota.core.clock import FixedClock
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.radius import RadiusThread, start_in_thread
from kuota.radius.attributes import dictionary, session_key, split_quota
from kuota.usage import network
from kuota.usage import service as usage
from kuota.usage.models import Package, RadiusClient, UsageSession

from factories import charge_card, lock_card

if shutil.which("radclient") is None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise RuntimeError(
            "radclient is missing: CI installs it with scripts/system-deps "
            "(Debian's freeradius-utils)"
        )
    pytestmark = pytest.mark.skip(
        reason="radclient is missing: run scripts/system-deps (Debian's freeradius-utils)"
    )

SECRET = "testing123"
CARD_1, CARD_2, CARD_3 = "+6281100000001", "+6281100000002", "+6281100000003"
GB = 10**9
GIGAWORD = 2**32
# radclient reads the system's FreeRADIUS dictionary, whose ChilliSpot part may predate
# the gigawords attributes: it prints them by number.
_BY_NUMBER = {
    "Attr-26.14559.21": "ChilliSpot-Max-Input-Gigawords",
    "Attr-26.14559.22": "ChilliSpot-Max-Output-Gigawords",
    "Attr-26.14559.23": "ChilliSpot-Max-Total-Gigawords",
}


@dataclass
class Reply:
    code: str | None  # "Access-Accept", "Access-Reject", "Accounting-Response"; None: no reply
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def one(self, name: str) -> str:
        values = self.attributes[name]
        assert len(values) == 1, (name, values)
        return values[0]

    def number(self, name: str) -> int:
        value = self.one(name)
        return int(value, 16) if value.startswith("0x") else int(value)


def radclient(
    port: int, command: str, attributes: str, *, secret: str = SECRET, wait: float = 3.0
) -> Reply:
    """Send one packet with radclient; a request that gets no answer times out quickly."""
    done = subprocess.run(
        ["radclient", "-x", "-t", str(wait), "-r", "1", f"127.0.0.1:{port}", command, secret],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=wait + 10,
    )
    received = re.search(r"^Received (\S+) Id", done.stdout, re.MULTILINE)
    if received is None:
        assert "No reply from server" in done.stdout + done.stderr, done.stdout + done.stderr
        return Reply(None)
    reply = Reply(received.group(1))
    for line in done.stdout[received.end() :].splitlines()[1:]:
        match = re.match(r"^\s+(\S+) = (.*)$", line)
        if match is None:
            break
        name, value = match.groups()
        reply.attributes.setdefault(_BY_NUMBER.get(name, name), []).append(value.strip('"'))
    return reply


def access(server: RadiusThread, attributes: str, **kw: Any) -> Reply:
    return radclient(server.auth_port, "auth", attributes, **kw)


def accounting(
    server: RadiusThread,
    status: str,
    *,
    session: str = "sess-1",
    card: str = CARD_1,
    octets: int = 0,
    gigawords: int = 0,
    extra: str = "",
    **kw: Any,
) -> Reply:
    attributes = (
        f"User-Name = {card}, Acct-Status-Type = {status}, Acct-Session-Id = {session}, "
        f"NAS-IP-Address = 127.0.0.1, Acct-Input-Octets = {octets // 3}, "
        f"Acct-Output-Octets = {octets - octets // 3}, Acct-Input-Gigawords = {gigawords}" + extra
    )
    return radclient(server.acct_port, "acct", attributes, **kw)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DisconnectListener:
    """Stands in for an access server's RFC 5176 port: keeps each Disconnect-Request and
    answers it with a Disconnect-ACK."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            request = radius.CoAPacket(packet=data, secret=SECRET.encode(), dict=dictionary())
            self.requests.append(request)
            self.sock.sendto(request.CreateReply().ReplyPacket(), addr)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[DisconnectListener]:
    nas = DisconnectListener()
    yield nas
    nas.close()


@pytest.fixture
def server(demo_db: Database, ctx: Context, listener: DisconnectListener) -> Iterator[RadiusThread]:
    running = start_in_thread(
        demo_db,
        ctx,
        host="127.0.0.1",
        auth_port=0,
        acct_port=0,
        disconnect_port=listener.port,
        clients_ttl=0.2,
    )
    yield running
    running.stop()


def give_package(db: Database, ctx: Context, msisdn: str, plan_code: str) -> None:
    with db.unit_of_work() as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        lock_card(s, card_id)
        plan = catalog.current_plan(s, plan_code)
        usage.add_purchase(
            s,
            card_id=card_id,
            plan_code=plan.code,
            plan_version_id=plan.id,
            data_bytes=plan.data_bytes,
            validity_days=plan.validity_days,
            now=ctx.clock.now(),
        )


def used_bytes(db: Database, msisdn: str) -> int:
    with db.unit_of_work(write=False) as s:
        return sum(
            s.execute(
                select(Package.quota_used_bytes)
                .join(Card, Card.id == Package.card_id)
                .where(Card.msisdn == msisdn)
            ).scalars()
        )


# -- Access-Request ----------------------------------------------------------------------


def test_accept_gives_the_whole_quota_in_octets_and_gigawords(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")

    reply = access(server, f"User-Name = {CARD_1}, Message-Authenticator = 0x00")

    assert reply.code == "Access-Accept"
    total = 20 * GB
    assert reply.number("ChilliSpot-Max-Total-Gigawords") == total // GIGAWORD == 4
    assert reply.number("ChilliSpot-Max-Total-Octets") == total % GIGAWORD == 2_820_130_816
    assert reply.number("Mikrotik-Total-Limit-Gigawords") == 4
    assert reply.number("Mikrotik-Total-Limit") == 2_820_130_816
    assert 0 < reply.number("Session-Timeout") <= int(timedelta(days=30).total_seconds())
    assert reply.number("Acct-Interim-Interval") == ctx.settings.radius_interim_interval
    assert reply.one("Message-Authenticator").startswith("0x")


def test_session_timeout_ends_at_the_earliest_expiry_and_small_quota_has_no_gigawords(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    assert isinstance(ctx.clock, FixedClock)
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")
    ctx.clock.advance(timedelta(days=29, hours=23))
    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")

    reply = access(server, f"User-Name = {CARD_1}, Message-Authenticator = 0x00")

    assert reply.code == "Access-Accept"
    assert reply.number("Session-Timeout") == 3600  # the 20 GB package ends in an hour
    assert reply.number("ChilliSpot-Max-Total-Gigawords") == 21 * GB // GIGAWORD


def test_the_card_can_be_named_by_calling_station_id_as_3gpp_sends_it(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_3, "DATA-1GB-7D")

    reply = access(
        server,
        "User-Name = web, Calling-Station-Id = 6281100000003, Message-Authenticator = 0x00",
    )

    assert reply.code == "Access-Accept"
    assert reply.number("ChilliSpot-Max-Total-Octets") == GB
    assert reply.number("ChilliSpot-Max-Total-Gigawords") == 0
    assert reply.number("Session-Timeout") == 7 * 24 * 3600


def test_reject_says_why(server: RadiusThread, demo_db: Database, ctx: Context) -> None:
    assert isinstance(ctx.clock, FixedClock)

    def reason(card: str) -> str:
        reply = access(server, f"User-Name = {card}, Message-Authenticator = 0x00")
        assert reply.code == "Access-Reject", reply
        assert reply.one("Message-Authenticator").startswith("0x")
        return reply.one("Reply-Message")

    assert reason("+6281199999999") == "unknown subscriber"
    assert reason("alice") == "unknown subscriber"
    assert reason(CARD_2) == "no data package"

    give_package(demo_db, ctx, CARD_3, "DATA-1GB-7D")
    with demo_db.unit_of_work() as s:
        s.execute(update(Card).where(Card.msisdn == CARD_3).values(status=CardStatus.TERMINATED))
    assert reason(CARD_3) == "card blocked: terminated"

    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")
    ctx.clock.advance(timedelta(days=8))
    assert reason(CARD_1) == "all data packages expired"


def test_reject_a_used_up_card_as_used_up(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")
    with demo_db.unit_of_work() as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == CARD_1)).scalar_one()
        charge_card(s, card_id, GB, ctx.clock.now(), source="test")

    reply = access(server, f"User-Name = {CARD_1}, Message-Authenticator = 0x00")

    assert reply.code == "Access-Reject"
    assert reply.one("Reply-Message") == "data quota used up"


# -- what is dropped without an answer ---------------------------------------------------


def test_access_request_without_message_authenticator_is_dropped(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")

    assert access(server, f"User-Name = {CARD_1}", wait=0.5).code is None
    assert server.server.stats["dropped: Access-Request without Message-Authenticator"] == 1


def test_wrong_message_authenticator_is_dropped(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")
    request = radius.AuthPacket(secret=SECRET.encode(), dict=dictionary())
    request["User-Name"] = CARD_1
    request.add_message_authenticator()
    raw = bytearray(request.RequestPacket())
    assert raw[20:22] == bytes([80, 18])  # pyrad puts Message-Authenticator first
    raw[22] ^= 0x01

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(bytes(raw), ("127.0.0.1", server.auth_port))
        with pytest.raises(TimeoutError):
            sock.recvfrom(4096)
    assert server.server.stats["dropped: Access-Request with a wrong Message-Authenticator"] == 1


def test_wrong_secret_gets_no_answer(server: RadiusThread, demo_db: Database, ctx: Context) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")

    auth = access(
        server, f"User-Name = {CARD_1}, Message-Authenticator = 0x00", secret="nope", wait=0.5
    )
    acct = accounting(server, "Interim-Update", octets=1000, secret="nope", wait=0.5)

    assert auth.code is None
    assert acct.code is None
    assert used_bytes(demo_db, CARD_1) == 0
    stats = server.server.stats
    assert stats["dropped: Access-Request with a wrong Message-Authenticator"] == 1
    assert stats["dropped: Accounting-Request with a wrong Request Authenticator"] == 1


def test_unknown_client_gets_no_answer(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-1GB-7D")
    assert access(server, f"User-Name = {CARD_1}, Message-Authenticator = 0x00").code
    with demo_db.unit_of_work() as s:
        s.execute(delete(RadiusClient).where(RadiusClient.address == "127.0.0.1"))
    time.sleep(0.6)  # the server re-reads radius_clients every 0.2 s in this test

    reply = access(server, f"User-Name = {CARD_1}, Message-Authenticator = 0x00", wait=0.5)

    assert reply.code is None
    assert server.server.stats["dropped: not a client in radius_clients"] == 1


# -- accounting --------------------------------------------------------------------------


def test_accounting_charges_the_running_total_once(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")

    assert accounting(server, "Start").code == "Accounting-Response"
    assert accounting(server, "Interim-Update", octets=1000).code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 1000
    assert accounting(server, "Interim-Update", octets=3000).code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 3000
    # The same record again (a NAS retransmitting after a lost answer): answered, not charged.
    assert accounting(server, "Interim-Update", octets=3000).code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 3000
    # A record that arrives late, with a lower total: nothing, never a refund.
    assert accounting(server, "Interim-Update", octets=2000).code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 3000
    assert accounting(server, "Stop", octets=3500).code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 3500

    with demo_db.unit_of_work(write=False) as s:
        session = s.execute(select(UsageSession)).scalar_one()
    assert session.status == "closed"
    assert (session.reported_bytes, session.charged_bytes) == (3500, 3500)
    assert session.nas_address == "127.0.0.1"


def test_gigawords_count_two_to_the_32_bytes(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")

    reply = accounting(server, "Interim-Update", octets=10, gigawords=1)

    assert reply.code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == GIGAWORD + 10


def test_sessions_are_charged_apart(server: RadiusThread, demo_db: Database, ctx: Context) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")

    accounting(server, "Interim-Update", session="a", octets=1000)
    accounting(server, "Interim-Update", session="b", octets=500)
    accounting(server, "Interim-Update", session="a", octets=1200)

    assert used_bytes(demo_db, CARD_1) == 1700


def test_accounting_on_and_unknown_cards_are_acknowledged_without_charging(
    server: RadiusThread, demo_db: Database
) -> None:
    on = radclient(server.acct_port, "acct", "Acct-Status-Type = Accounting-On")
    stranger = accounting(server, "Interim-Update", card="+6281199999999", octets=1000)

    assert on.code == stranger.code == "Accounting-Response"
    with demo_db.unit_of_work(write=False) as s:
        assert s.execute(select(UsageSession)).first() is None


def test_a_record_that_is_not_committed_gets_no_answer_and_its_retry_charges_once(
    server: RadiusThread, demo_db: Database, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")
    real_account = network.account_many

    def charge_then_fail(*args: Any) -> Any:
        real_account(*args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(network, "account_many", charge_then_fail)
    assert accounting(server, "Interim-Update", octets=4000, wait=0.5).code is None
    assert used_bytes(demo_db, CARD_1) == 0

    monkeypatch.setattr(network, "account_many", real_account)
    assert accounting(server, "Interim-Update", octets=4000).code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 4000


# -- running out mid-session -------------------------------------------------------------


def test_a_card_that_runs_out_mid_session_is_disconnected(
    server: RadiusThread, demo_db: Database, ctx: Context, listener: DisconnectListener
) -> None:
    give_package(demo_db, ctx, CARD_3, "DATA-1GB-7D")
    calling = ", Calling-Station-Id = 6281100000003"

    assert accounting(server, "Start", card=CARD_3, session="s-9", extra=calling).code
    assert accounting(server, "Interim-Update", card=CARD_3, session="s-9", octets=GB // 2).code
    assert listener.wait_for(1, timeout=0.3) == []

    reply = accounting(server, "Interim-Update", card=CARD_3, session="s-9", octets=GB + 5000)

    assert reply.code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_3) == GB
    (request,) = listener.wait_for(1)
    assert request.code == radius.DisconnectRequest
    assert request.VerifyCoARequest()  # signed with the client's secret (RFC 5176 3.5)
    assert request.message_authenticator and request.verify_message_authenticator()
    assert request["User-Name"] == [CARD_3]
    assert request["Acct-Session-Id"] == ["s-9"]
    assert request["NAS-IP-Address"] == ["127.0.0.1"]
    assert "Calling-Station-Id" not in request  # this record did not carry one

    # The next interim of the same session does not send another one straight away.
    accounting(server, "Interim-Update", card=CARD_3, session="s-9", octets=GB + 9000)
    assert len(listener.wait_for(2, timeout=0.5)) == 1
    assert server.server.stats["disconnects"] == 2


def test_a_retransmission_gets_the_same_answer_from_memory(
    server: RadiusThread, demo_db: Database, ctx: Context
) -> None:
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")
    request = radius.AcctPacket(secret=SECRET.encode(), dict=dictionary())
    request["User-Name"] = CARD_1
    request["Acct-Status-Type"] = "Interim-Update"
    request["Acct-Session-Id"] = "r-1"
    request["Acct-Input-Octets"] = 700
    raw = request.RequestPacket()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(raw, ("127.0.0.1", server.acct_port))
        first, _ = sock.recvfrom(4096)
        sock.sendto(raw, ("127.0.0.1", server.acct_port))  # same port, id, authenticator
        second, _ = sock.recvfrom(4096)

    assert first == second
    assert request.VerifyReply(request.CreateReply(packet=first), first)
    assert server.server.stats["answered again"] == 1
    assert used_bytes(demo_db, CARD_1) == 700


# -- liveness ----------------------------------------------------------------------------


def test_status_server_is_answered(server: RadiusThread) -> None:
    reply = radclient(server.auth_port, "status", "Message-Authenticator = 0x00")

    assert reply.code == "Access-Accept"


def test_serve_answers_until_its_stop_event_is_set(demo_db: Database, ctx: Context) -> None:
    from kuota.radius import serve

    async def scenario() -> Reply:
        stop = asyncio.Event()
        port = free_udp_port()
        running = asyncio.create_task(
            serve(demo_db, ctx, host="127.0.0.1", auth_port=port, acct_port=0, stop_event=stop)
        )
        await asyncio.sleep(0.3)
        reply = await asyncio.to_thread(
            radclient, port, "auth", f"User-Name = {CARD_2}, Message-Authenticator = 0x00"
        )
        stop.set()
        await asyncio.wait_for(running, 10)
        return reply

    reply = asyncio.run(scenario())

    assert reply.code == "Access-Reject"
    assert reply.one("Reply-Message") == "no data package"


# -- attribute arithmetic ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "octets", "gigawords"),
    [
        (0, 0, 0),
        (GB, GB, 0),
        (GIGAWORD - 1, GIGAWORD - 1, 0),
        (GIGAWORD, 0, 1),
        (20 * GB, 20 * GB % GIGAWORD, 4),
        (2**70, GIGAWORD - 1, GIGAWORD - 1),  # capped, never wrapped
    ],
)
def test_quota_splits_into_octets_and_gigawords(total: int, octets: int, gigawords: int) -> None:
    assert split_quota(total) == (octets, gigawords)


def test_session_keys_are_bounded_and_distinct() -> None:
    def key(session_id: str) -> str | None:
        packet = radius.AcctPacket(dict=dictionary())
        packet["Acct-Session-Id"] = session_id
        return session_key(packet, "2001:db8::1", CARD_1)

    long_a, long_b = key("x" * 200 + "a"), key("x" * 200 + "b")
    assert long_a is not None and long_b is not None
    assert long_a != long_b
    assert len("radius:" + long_a) <= 120
    assert key("abc") == f"2001:db8::1/abc/{CARD_1}"


def test_counters_past_any_session_are_acknowledged_not_charged(
    server: RadiusThread, demo_db: Database, ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """Gigawords near 2^32 in both directions claim more bytes than the database can count
    (2^65): a broken or hostile counter. Acknowledged, so the access server stops
    sending it; nothing charged; the session's later honest reports still charge."""
    give_package(demo_db, ctx, CARD_1, "DATA-20GB-30D")
    huge = accounting(
        server,
        "Interim-Update",
        session="broken",
        octets=10,
        gigawords=2**32 - 1,
        extra=", Acct-Output-Gigawords = 4294967295",
    )
    assert huge.code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 0
    assert "accounting total past any session: not charged" in caplog.text
    honest = accounting(server, "Interim-Update", session="fine", octets=1000)
    assert honest.code == "Accounting-Response"
    assert used_bytes(demo_db, CARD_1) == 1000
