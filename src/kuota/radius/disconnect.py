"""Disconnect-Requests (RFC 5176): telling an access server to end a session whose card
has run out of quota.

Sent after the accounting record that used the quota up is committed and answered, in
a task of its own, so the access server's accounting never waits for it. Each request
is retried a few times until a Disconnect-ACK or -NAK arrives; one session is not
sent another request for `resend_after` seconds (every interim update of a session
that stays up would otherwise send one more).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pyrad import packet as radius  # type: ignore[import-untyped]

from kuota.radius.attributes import dictionary

log = logging.getLogger("kuota.radius")

DYNAMIC_AUTHORIZATION_PORT = 3799  # RFC 5176 section 3


class _Answer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


class Disconnector:
    def __init__(
        self,
        *,
        port: int = DYNAMIC_AUTHORIZATION_PORT,
        timeout: float = 2.0,
        attempts: int = 3,
        resend_after: float = 30.0,
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.attempts = attempts
        self.resend_after = resend_after
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent_at: dict[str, float] = {}

    def request(
        self, *, nas: str, secret: bytes, session_key: str, attributes: dict[str, Any]
    ) -> None:
        """Schedule a Disconnect-Request for a session (returns at once)."""
        now = time.monotonic()
        if now - self._sent_at.get(session_key, float("-inf")) < self.resend_after:
            return
        if len(self._sent_at) > 10_000:
            self._sent_at = {
                key: at for key, at in self._sent_at.items() if now - at < self.resend_after
            }
        self._sent_at[session_key] = now
        task = asyncio.create_task(self._send(nas, secret, attributes))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send(self, nas: str, secret: bytes, attributes: dict[str, Any]) -> None:
        request = radius.CoAPacket(code=radius.DisconnectRequest, secret=secret, dict=dictionary())
        for name, value in attributes.items():
            if value is not None:
                request[name] = value
        # RFC 5176 leaves it optional; access servers hardened against BlastRADIUS
        # (CVE-2024-3596) may require it.
        request.add_message_authenticator()
        raw = request.RequestPacket()
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                _Answer, remote_addr=(nas, self.port)
            )
        except OSError as exc:
            log.warning("cannot send a Disconnect-Request to %s:%d: %s", nas, self.port, exc)
            return
        try:
            for _attempt in range(self.attempts):
                transport.sendto(raw)
                deadline = loop.time() + self.timeout
                while (left := deadline - loop.time()) > 0:
                    try:
                        data = await asyncio.wait_for(protocol.replies.get(), left)
                    except TimeoutError:
                        break
                    if self._answered(request, data, nas, attributes):
                        return
            log.warning(
                "no answer to the Disconnect-Request for session %s from %s:%d",
                attributes.get("Acct-Session-Id"),
                nas,
                self.port,
            )
        finally:
            transport.close()

    def _answered(self, request: Any, data: bytes, nas: str, attributes: dict[str, Any]) -> bool:
        try:
            reply = request.CreateReply(packet=data)
        except radius.PacketError:
            return False
        if reply.code not in (radius.DisconnectACK, radius.DisconnectNAK):
            return False
        if not request.VerifyReply(reply, data):
            log.warning("a forged or garbled answer to a Disconnect-Request from %s", nas)
            return False
        session = attributes.get("Acct-Session-Id")
        if reply.code == radius.DisconnectACK:
            log.info("session %s on %s disconnected: the card's quota is used up", session, nas)
        else:
            cause = reply.get("Error-Cause")
            log.warning(
                "%s refused to disconnect session %s (Error-Cause %s)",
                nas,
                session,
                cause[0] if cause else "none",
            )
        return True
