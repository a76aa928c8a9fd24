"""A small HTTP/1.1 load generator on asyncio (uvloop when present), keep-alive connections.

Cheap enough per request that on a 2-core machine most CPU stays with the server.
`closed_loop` measures throughput (N clients, each sends as soon as it has an
answer); `open_loop` sends at a fixed rate to measure latency under a given load.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RequestMaker = Callable[[int], tuple[str, str, dict[str, str], bytes]]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    errors: int = 0

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            if not lat:
                return float("nan")
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2)

        return {
            "requests": len(lat),
            "seconds": round(self.elapsed, 2),
            "throughput_per_s": round(len(lat) / self.elapsed, 1) if self.elapsed else 0,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1000, 2) if lat else float("nan"),
            "statuses": self.statuses,
            "errors": self.errors,
        }


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload


def _loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def closed_loop(url: str, make: RequestMaker, *, clients: int, seconds: float) -> Result:
    parts = urlsplit(url)
    result = Result()
    counter = itertools.count()

    async def client() -> None:
        conn = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        end = start + seconds
        while time.perf_counter() < end:
            method, path, headers, body = make(next(counter))
            t0 = time.perf_counter()
            try:
                status, _ = await conn.request(method, path, headers, body)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                result.errors += 1
                conn = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    async def main() -> None:
        await asyncio.gather(*(client() for _ in range(clients)))

    loop = _loop()
    start = time.perf_counter()
    loop.run_until_complete(main())
    result.elapsed = time.perf_counter() - start
    loop.close()
    return result


def open_loop(
    url: str, make: RequestMaker, *, rate: float, seconds: float, max_connections: int = 64
) -> Result:
    """Send `rate` requests per second on a fixed schedule; latency counts from the scheduled
    send time, so a stalled server cannot hide its queueing (no coordinated omission)."""
    parts = urlsplit(url)
    result = Result()
    idle: asyncio.Queue[Connection] = asyncio.Queue()

    async def one(index: int, scheduled: float) -> None:
        conn = (
            idle.get_nowait()
            if not idle.empty()
            else Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        )
        method, path, headers, body = make(index)
        try:
            status, _ = await conn.request(method, path, headers, body)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += 1
            return
        result.latencies.append(time.perf_counter() - scheduled)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        idle.put_nowait(conn)

    async def main() -> None:
        total = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        limit = asyncio.Semaphore(max_connections)

        async def guarded(i: int, at: float) -> None:
            async with limit:
                await one(i, at)

        for i in range(total):
            at = start + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(guarded(i, at)))
        await asyncio.gather(*tasks)

    loop = _loop()
    t0 = time.perf_counter()
    loop.run_until_complete(main())
    result.elapsed = time.perf_counter() - t0
    loop.close()
    return result
