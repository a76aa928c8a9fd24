"""The RADIUS server: access (RFC 2865) and accounting (RFC 2866) over UDP on asyncio,
with pyrad's packet code for decoding, authenticators and replies.

What is decided where: `network.authorize()` and `network.account()` hold every rule
(who may use data, how much, what a record charges); this module checks who is
talking, turns packets into those calls and the answers back into packets.

Security (BlastRADIUS, CVE-2024-3596): an Access-Request without a valid
Message-Authenticator is dropped, and every answer to one carries a
Message-Authenticator. An Accounting-Request whose Request Authenticator does not
check out is dropped. Packets from addresses missing from `radius_clients` are
dropped. Drops are silent on the wire (RFC 2865 section 3) and logged.

The event loop never touches the database: database work runs in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, cast

from pyrad import packet as radius  # type: ignore[import-untyped]

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.radius import attributes as attrs
from kuota.radius.accounting import AccountingJob, AccountingWriter
from kuota.radius.clients import ClientSecrets, canonical_address
from kuota.radius.disconnect import DYNAMIC_AUTHORIZATION_PORT, Disconnector
from kuota.usage import network
from kuota.usage.network import Access, Accounted, AccountingRecord
from kuota.usage.rules import MAX_SESSION_TOTAL_BYTES

log = logging.getLogger("kuota.radius")

Port = Literal["auth", "acct"]
Address = tuple[Any, ...]  # (host, port) or (host, port, flowinfo, scope_id)
# (source, code, identifier, request authenticator): RFC 5080 section 2.2.2's test
# for "the same request again".
RequestKey = tuple[str, int, int, int, bytes]

_RECEIVE_BUFFER = 4 * 1024 * 1024  # rides out bursts; the kernel caps it at rmem_max


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, server: RadiusServer, port: Port) -> None:
        self.server = server
        self.port = port
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            self.server.received(self, data, addr)
        except Exception:
            # One bad packet must not take the listener down.
            log.exception("RADIUS packet from %s could not be handled", addr[0])

    def error_received(self, exc: Exception) -> None:
        log.warning("RADIUS %s socket: %s", self.port, exc)


class _Notices:
    """Counts events (in `stats`) and logs them at most once per `interval` for an
    event and source: a flood of bad packets must not become a flood of log lines."""

    def __init__(self, counts: Counter[str], interval: float = 10.0) -> None:
        self._counts = counts
        self._interval = interval
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: Counter[tuple[str, str]] = Counter()

    def __call__(self, event: str, source: str, detail: str = "") -> None:
        self._counts[event] += 1
        key = (event, source)
        now = time.monotonic()
        if now - self._last.get(key, float("-inf")) < self._interval:
            self._suppressed[key] += 1
            return
        if len(self._last) > 10_000:
            self._last.clear()
            self._suppressed.clear()
        suppressed = self._suppressed.pop(key, 0)
        self._last[key] = now
        log.warning(
            "RADIUS from %s: %s%s%s",
            source,
            event,
            f" ({detail})" if detail else "",
            f" [{suppressed} more since the last report]" if suppressed else "",
        )


class _ReplyCache:
    """Answers sent in the last seconds: a retransmitted request gets the same answer
    again without another trip to the database."""

    def __init__(self, ttl: float = 10.0, size: int = 16_384) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[RequestKey, tuple[float, bytes]] = OrderedDict()

    def get(self, key: RequestKey) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: RequestKey, raw: bytes) -> None:
        now = time.monotonic()
        self._entries[key] = (now + self._ttl, raw)
        while self._entries:
            oldest_key, (expires, _) = next(iter(self._entries.items()))
            if expires >= now and len(self._entries) <= self._size:
                break
            del self._entries[oldest_key]


class RadiusServer:
    """kuota's RADIUS access and accounting server.

    `await start()` binds the ports (0 picks a free one; the bound ports are in
    `auth_port` and `acct_port` afterwards); `await stop()` stops listening and
    answers what it already took once committed."""

    def __init__(
        self,
        db: Database,
        ctx: Context,
        *,
        host: str = "127.0.0.1",
        auth_port: int = 1812,
        acct_port: int = 1813,
        disconnect_port: int = DYNAMIC_AUTHORIZATION_PORT,
        clients_ttl: float = 10.0,
        batch_max: int = 256,
        writers: int = 1,
        readers: int = 4,
        max_pending_auth: int = 1024,
        reuse_port: bool = False,
    ) -> None:
        self.db = db
        self.ctx = ctx
        self.host = host
        self.auth_port = auth_port
        self.acct_port = acct_port
        self.reuse_port = reuse_port
        self.max_pending_auth = max_pending_auth
        self.clients = ClientSecrets(db, ttl=clients_ttl)
        self.stats: Counter[str] = Counter()
        self._notice = _Notices(self.stats)
        self._replies = _ReplyCache()
        self._in_flight: set[RequestKey] = set()
        self._pending_auth = 0
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="kuota-radius-auth")
        # One group in flight: the next one fills while it commits, so groups grow with
        # the load. More writers overlap commits on PostgreSQL but split the groups: on
        # 2 cores, 1 writer gave 3,255 records/s, 2 gave 2,940 and 4 gave 1,918
        # (bench/radius_accounting.py --writers).
        self.writer = AccountingWriter(db, ctx, batch_max=batch_max, concurrency=writers)
        self.disconnector = Disconnector(port=disconnect_port)
        self._endpoints: list[_Endpoint] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._readers, self.clients.reload)
            self.auth_port = await self._bind("auth", self.auth_port)
            self.acct_port = await self._bind("acct", self.acct_port)
        except BaseException:
            await self.stop()  # nothing half-open left behind (a bound port, threads)
            raise
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="kuota-radius-writer"),
            asyncio.create_task(self._refresh_clients(), name="kuota-radius-clients"),
        ]
        log.info(
            "RADIUS listening on %s: access %d, accounting %d",
            self.host,
            self.auth_port,
            self.acct_port,
        )

    async def _bind(self, kind: Port, port: int) -> int:
        endpoint = _Endpoint(self, kind)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: endpoint, local_addr=(self.host, port), reuse_port=self.reuse_port or None
        )
        self._endpoints.append(endpoint)
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # a smaller buffer still works
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        self._closing = True
        await self.writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.disconnector.close()
        for endpoint in self._endpoints:
            if endpoint.transport is not None:
                endpoint.transport.close()
        # Answers still being looked up are dropped: the access server retries elsewhere.
        self._readers.shutdown(wait=False, cancel_futures=True)

    async def _refresh_clients(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.clients.ttl)
            try:
                await loop.run_in_executor(self._readers, self.clients.reload)
            except Exception:
                log.exception("could not re-read radius_clients; keeping the secrets known")

    # -- receiving ---------------------------------------------------------------

    def received(self, endpoint: _Endpoint, data: bytes, addr: Address) -> None:
        source = canonical_address(addr[0])
        self.stats["received"] += 1
        if self._closing:
            return
        if len(data) < 20:
            self._drop("shorter than a RADIUS header", source)
            return
        secret = self.clients.secret_for(source)
        if secret is None:
            self._drop("not a client in radius_clients", source)
            return
        key: RequestKey = (source, addr[1], data[0], data[1], data[4:20])
        cached = self._replies.get(key)
        if cached is not None:
            self.stats["answered again"] += 1
            self._send(endpoint, cached, addr)
            return
        if key in self._in_flight:
            return  # a retransmission of a request being worked on: it gets that answer
        code = data[0]
        if endpoint.port == "auth" and code == radius.AccessRequest:
            self._access_request(endpoint, data, addr, source, secret, key)
        elif endpoint.port == "acct" and code == radius.AccountingRequest:
            self._accounting_request(endpoint, data, addr, source, secret, key)
        elif code == radius.StatusServer:
            self._status_server(endpoint, data, addr, source, secret, key)
        else:
            self._drop(f"packet code {code} on the {endpoint.port} port", source)

    def _drop(self, reason: str, source: str, detail: str = "") -> None:
        """Silently on the wire (RFC 2865 section 3), loudly in the log."""
        self._notice(f"dropped: {reason}", source, detail)

    def _send(self, endpoint: _Endpoint, raw: bytes, addr: Address) -> None:
        if endpoint.transport is not None and not endpoint.transport.is_closing():
            endpoint.transport.sendto(raw, addr)

    def _answer(self, endpoint: _Endpoint, key: RequestKey, reply: Any, addr: Address) -> None:
        raw = reply.ReplyPacket()
        self._replies.put(key, raw)
        self._in_flight.discard(key)
        self.stats["answered"] += 1
        self._send(endpoint, raw, addr)

    # -- access ------------------------------------------------------------------

    def _access_request(
        self,
        endpoint: _Endpoint,
        data: bytes,
        addr: Address,
        source: str,
        secret: bytes,
        key: RequestKey,
    ) -> None:
        try:
            request = radius.AuthPacket(packet=data, secret=secret, dict=attrs.dictionary())
        except (radius.PacketError, KeyError, ValueError) as exc:
            self._drop("malformed Access-Request", source, str(exc))
            return
        if not request.message_authenticator:
            self._drop("Access-Request without Message-Authenticator", source)
            return
        if not request.verify_message_authenticator():
            self._drop("Access-Request with a wrong Message-Authenticator", source)
            return
        if self._pending_auth >= self.max_pending_auth:
            self._drop("too many Access-Requests waiting", source)
            return
        try:
            msisdn = attrs.card_number(request)
        except Exception as exc:  # pyrad decodes lazily: any attribute may not decode
            self._drop("malformed Access-Request", source, repr(exc))
            return
        self._pending_auth += 1
        self._in_flight.add(key)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._readers, self._authorize, msisdn)

        def decided(done: asyncio.Future[Access]) -> None:
            self._pending_auth -= 1
            if done.cancelled() or done.exception() is not None:
                self._in_flight.discard(key)
                log.error(
                    "Access-Request for %s not answered: %r",
                    msisdn,
                    None if done.cancelled() else done.exception(),
                )
                return
            self._answer(endpoint, key, self._access_reply(request, done.result()), addr)

        future.add_done_callback(decided)

    def _authorize(self, msisdn: str) -> Access:
        with self.db.unit_of_work(write=False) as session:
            return network.authorize(session, msisdn, self.ctx.clock.now())

    def _access_reply(self, request: Any, access: Access) -> Any:
        # CreateReply signs every answer to an Access-Request with a
        # Message-Authenticator (BlastRADIUS).
        reply = request.CreateReply()
        if not access.accept:
            reply.code = radius.AccessReject
            reply["Reply-Message"] = access.reason
            self.stats["rejected"] += 1
            return reply
        reply.code = radius.AccessAccept
        reply["Session-Timeout"] = min(access.session_timeout_seconds, attrs.MAX_INTEGER)
        reply["Acct-Interim-Interval"] = self.ctx.settings.radius_interim_interval
        attrs.add_quota_limit(reply, access.remaining_bytes)
        self.stats["accepted"] += 1
        return reply

    # -- accounting --------------------------------------------------------------

    def _accounting_request(
        self,
        endpoint: _Endpoint,
        data: bytes,
        addr: Address,
        source: str,
        secret: bytes,
        key: RequestKey,
    ) -> None:
        try:
            request = radius.AcctPacket(packet=data, secret=secret, dict=attrs.dictionary())
        except (radius.PacketError, KeyError, ValueError) as exc:
            self._drop("malformed Accounting-Request", source, str(exc))
            return
        if not request.VerifyAcctRequest():
            self._drop("Accounting-Request with a wrong Request Authenticator", source)
            return
        if request.message_authenticator and not request.verify_message_authenticator():
            self._drop("Accounting-Request with a wrong Message-Authenticator", source)
            return
        status = attrs.status_type(request)
        if status not in (attrs.START, attrs.INTERIM_UPDATE, attrs.STOP):
            # Accounting-On/Off and the like carry no usage: acknowledged, nothing charged.
            self._answer(endpoint, key, request.CreateReply(), addr)
            return
        try:
            msisdn = attrs.card_number(request)
            nas = attrs.nas_address(request, source)
            session = attrs.session_key(request, nas, msisdn)
            total = attrs.reported_total_bytes(request)
        except Exception as exc:  # pyrad decodes lazily: any attribute may not decode
            self._drop("malformed Accounting-Request", source, repr(exc))
            return
        if session is None:
            # Without a session id a retransmission could not be told from new use:
            # acknowledged so the access server stops sending it, but not charged.
            self._notice("accounting without Acct-Session-Id: not charged", source, msisdn)
            self._answer(endpoint, key, request.CreateReply(), addr)
            return
        if total > MAX_SESSION_TOTAL_BYTES:
            # No session moves this much; the counter is broken (or lying). Acknowledged,
            # so it is not sent again forever, and not charged.
            detail = f"{msisdn}: {total} bytes"
            self._notice("accounting total past any session: not charged", source, detail)
            self._answer(endpoint, key, request.CreateReply(), addr)
            return

        def done(accounted: Accounted | None) -> None:
            if accounted is None:
                self._in_flight.discard(key)
                return
            self._answer(endpoint, key, request.CreateReply(), addr)
            if accounted.card_id is None:
                self._notice("usage of an unknown card: not charged", nas, msisdn)
            if accounted.exhausted:
                self._disconnect(request, nas, secret, session)

        job = AccountingJob(
            AccountingRecord(
                msisdn=msisdn,
                session_key=session,
                reported_total_bytes=total,
                stop=status == attrs.STOP,
                nas_address=nas,
            ),
            done=done,
        )
        if not self.writer.submit(job):
            self._drop("accounting queue full", source)
            return
        self._in_flight.add(key)

    def _disconnect(self, request: Any, nas: str, secret: bytes, session: str) -> None:
        self.stats["disconnects"] += 1
        self.disconnector.request(
            nas=nas,
            secret=secret,
            session_key=session,
            attributes={
                # The session as the access server named it (RFC 5176 section 3).
                "User-Name": attrs.first_value(request, "User-Name"),
                "Calling-Station-Id": attrs.first_value(request, "Calling-Station-Id"),
                "Acct-Session-Id": attrs.first_value(request, "Acct-Session-Id"),
                "NAS-IP-Address": attrs.first_value(request, "NAS-IP-Address"),
            },
        )

    # -- status ------------------------------------------------------------------

    def _status_server(
        self,
        endpoint: _Endpoint,
        data: bytes,
        addr: Address,
        source: str,
        secret: bytes,
        key: RequestKey,
    ) -> None:
        """RFC 5997: a liveness check, answered with Access-Accept (access port) or
        Accounting-Response (accounting port); only with a valid Message-Authenticator."""
        kind = radius.AuthPacket if endpoint.port == "auth" else radius.AcctPacket
        try:
            request = kind(packet=data, secret=secret, dict=attrs.dictionary())
        except (radius.PacketError, KeyError, ValueError) as exc:
            self._drop("malformed Status-Server", source, str(exc))
            return
        if not request.message_authenticator or not request.verify_message_authenticator():
            self._drop("Status-Server without a valid Message-Authenticator", source)
            return
        self._answer(endpoint, key, request.CreateReply(), addr)
