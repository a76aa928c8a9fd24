"""Running the RADIUS server: `serve()` on the caller's event loop (`kuota radius`), or
`start_in_thread()` beside another server in one process (`kuota demo`)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.radius.server import RadiusServer

log = logging.getLogger("kuota.radius")


async def serve(
    db: Database,
    ctx: Context,
    *,
    host: str = "127.0.0.1",
    auth_port: int = 1812,
    acct_port: int = 1813,
    stop_event: asyncio.Event | threading.Event,
    **options: Any,
) -> None:
    """Run the RADIUS server until `stop_event` is set (an asyncio.Event of this loop, or
    a threading.Event set from another thread); `options` go to `RadiusServer`."""
    server = RadiusServer(db, ctx, host=host, auth_port=auth_port, acct_port=acct_port, **options)
    await server.start()
    try:
        if isinstance(stop_event, asyncio.Event):
            await stop_event.wait()
        else:
            while not stop_event.is_set():
                await asyncio.sleep(0.2)
    finally:
        await server.stop()


class RadiusThread:
    """A RADIUS server on an event loop of its own, in a daemon thread (`kuota demo`)."""

    def __init__(self, server: RadiusServer, stop_event: threading.Event) -> None:
        self.server = server
        self.stop_event = stop_event
        self.thread: threading.Thread | None = None

    @property
    def auth_port(self) -> int:
        return self.server.auth_port

    @property
    def acct_port(self) -> int:
        return self.server.acct_port

    def stop(self, timeout: float = 15.0) -> None:
        """Stop listening, answer what was taken, and wait for the thread to end."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)


def start_in_thread(
    db: Database,
    ctx: Context,
    *,
    host: str = "127.0.0.1",
    auth_port: int = 1812,
    acct_port: int = 1813,
    stop_event: threading.Event | None = None,
    **options: Any,
) -> RadiusThread:
    """Run the RADIUS server in a daemon thread until `stop_event` is set (or
    `.stop()` is called); returns once the ports are bound, or raises what kept them
    from binding (e.g. OSError: address in use)."""
    server = RadiusServer(db, ctx, host=host, auth_port=auth_port, acct_port=acct_port, **options)
    handle = RadiusThread(server, stop_event or threading.Event())
    started = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        try:
            await server.start()
        except BaseException as exc:
            failure.append(exc)
            raise
        finally:
            started.set()
        try:
            while not handle.stop_event.is_set():
                await asyncio.sleep(0.1)
        finally:
            await server.stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException:
            if not failure:
                log.exception("the RADIUS server stopped")

    handle.thread = threading.Thread(target=run, name="kuota-radius", daemon=True)
    handle.thread.start()
    started.wait()
    if failure:
        handle.thread.join()
        raise failure[0]
    return handle
