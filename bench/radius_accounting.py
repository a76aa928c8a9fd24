"""RADIUS accounting throughput: Interim-Updates from FreeRADIUS's `radclient` against
kuota's RADIUS server, and against a baseline in the same run.

For each database (SQLite file, and PostgreSQL when reachable) this script:

1. migrates a fresh database, loads the demo data and adds `--cards` cards with a
   20 GB package each (the RADIUS client 127.0.0.1 / testing123 comes with the demo);
2. writes `--clients` request files of Accounting-Request Interim-Updates: `--sessions`
   sessions spread over the cards, each reporting a growing running total;
3. starts kuota's RADIUS server in `--servers` processes (sharing the port with
   SO_REUSEPORT) and runs one `radclient -f FILE -p PARALLEL` per file at once;
   requests/s = answered requests / wall time until the last radclient exits;
4. starts the **baseline**: an asyncio UDP server with the same pyrad packet code
   that decodes, checks the Request Authenticator and answers Accounting-Response
   without touching a database; drives it with exactly the same files;
5. checks every session was charged exactly its last reported total, and prints one
   JSON document with both figures and `ratio = kuota / baseline`.

    .venv/bin/python bench/radius_accounting.py                 # both databases
    .venv/bin/python bench/radius_accounting.py --db sqlite --requests 40000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scratch import pg_unreachable, scratch_database
from sqlalchemy import func, select

from kuota import demo
from kuota.cards import service as cards
from kuota.cards.models import Card
from kuota.catalog import service as catalog
from kuota.core.clock import SystemClock
from kuota.core.config import Mode, Settings
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.migrate import upgrade
from kuota.usage import service as usage
from kuota.usage.models import Package

SECRET_KEY = "bench-secret-" + "k" * 40
RADIUS_SECRET = demo.DEMO_RADIUS_SECRET
STEP = 1000  # bytes each interim adds to its session's running total


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(url: str) -> Settings:
    return Settings(mode=Mode.DEMO, database_url=url, secret_key=SECRET_KEY, _env_file=None)  # type: ignore[call-arg]


def seed(url: str, n_cards: int) -> list[str]:
    """Demo data plus `n_cards` cards, each with a 20 GB package."""
    upgrade(url)
    ctx = Context(settings=settings_for(url), clock=SystemClock())
    db = Database(url, pool_size=2)
    msisdns = [f"+628120{i:07d}" for i in range(n_cards)]
    with db.unit_of_work() as session:
        demo.load(session, ctx)
        now = ctx.clock.now()
        plan = catalog.current_plan(session, "DATA-20GB-30D")
        for msisdn in msisdns:
            card_id = cards.register_card(
                session, msisdn=msisdn, currency="IDR", now=now, secret_key=SECRET_KEY
            )
            usage.add_purchase(
                session,
                card_id=card_id,
                plan_code=plan.code,
                plan_version_id=plan.id,
                data_bytes=plan.data_bytes,
                validity_days=plan.validity_days,
                now=now,
            )
    db.dispose()
    return msisdns


def charged_bytes(url: str) -> int:
    db = Database(url, pool_size=1)
    with db.unit_of_work(write=False) as session:
        total = session.execute(
            select(func.coalesce(func.sum(Package.quota_used_bytes), 0))
            .join(Card, Card.id == Package.card_id)
            .where(Card.msisdn.like("+628120%"))
        ).scalar_one()
    db.dispose()
    return int(total)


@contextmanager
def database(kind: str, n_cards: int, workdir: Path) -> Iterator[tuple[str, list[str]]]:
    with scratch_database(kind, workdir, "radius") as url:
        yield url, seed(url, n_cards)


def write_requests(
    workdir: Path,
    label: str,
    msisdns: list[str],
    requests: int,
    sessions: int,
    lanes: int,
    chunk: int,
) -> tuple[list[list[Path]], int]:
    """Request files for `lanes` concurrent radclient lanes: a lane's sessions are its
    own (so one session's records go out in order) and its requests are cut into
    files of `chunk` requests, one radclient each. Returns the files by lane and the
    total the sessions report in the end (what must be charged)."""
    per_lane = max(1, sessions // lanes)
    rounds = max(1, requests // (per_lane * lanes))
    files: list[list[Path]] = []
    for lane in range(lanes):
        records = []
        for round_ in range(1, rounds + 1):
            total = round_ * STEP
            for local in range(per_lane):
                session = lane * per_lane + local
                records.append(
                    f"User-Name = {msisdns[session % len(msisdns)]}\n"
                    "Acct-Status-Type = Interim-Update\n"
                    f"Acct-Session-Id = {label}-{session:06d}\n"
                    "NAS-IP-Address = 127.0.0.1\n"
                    f"Acct-Input-Octets = {total // 4}\n"
                    f"Acct-Output-Octets = {total - total // 4}\n"
                    f"Acct-Session-Time = {round_ * 300}\n\n"
                )
        paths = []
        for start in range(0, len(records), chunk):
            path = workdir / f"{label}-{lane}-{start // chunk:04d}.txt"
            path.write_text("".join(records[start : start + chunk]))
            paths.append(path)
        files.append(paths)
    return files, per_lane * lanes * rounds * STEP


def drive(port: int, lanes: list[list[Path]], parallel: int) -> dict[str, Any]:
    """All lanes at once, each running its radclients one after the other; requests/s
    over the wall time until the last one ends.

    radclient busy-polls while it waits for answers (its main loop says so), and it
    walks its whole request list on every turn: so each radclient gets a small file,
    and runs at the lowest priority, taking only CPU time the server leaves idle."""
    counts = {"answered": 0, "lost": 0}
    lock = threading.Lock()

    def lane(files: list[Path]) -> None:
        for path in files:
            done = subprocess.run(
                [
                    *("nice", "-n", "19", "radclient", "-q", "-s", "-p", str(parallel)),
                    *("-t", "5", "-r", "3", "-f", str(path), f"127.0.0.1:{port}", "acct"),
                    RADIUS_SECRET,
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
            out = done.stdout + done.stderr
            with lock:
                counts["answered"] += sum(int(n) for n in re.findall(r"Accepted\s*:\s*(\d+)", out))
                counts["lost"] += sum(int(n) for n in re.findall(r"Lost\s*:\s*(\d+)", out))

    started = time.perf_counter()
    threads = [threading.Thread(target=lane, args=(files,)) for files in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        **counts,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(counts["answered"] / elapsed, 1),
    }


@contextmanager
def servers(mode: str, url: str, count: int, args: argparse.Namespace) -> Iterator[int]:
    """`count` server processes on one UDP port (SO_REUSEPORT); yields the port. Their
    counters (printed at exit) land in `args.server_stats`."""
    port = free_udp_port()
    procs = []
    for _ in range(count):
        command = [sys.executable, __file__, "--serve", mode, "--url", url, "--port", str(port)]
        command += ["--batch-max", str(args.batch_max), "--writers", str(args.writers)]
        procs.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        )
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError(f"{mode} server did not start: {line!r}")
        yield port
    finally:
        args.server_stats = []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            if out.strip():
                args.server_stats.append(json.loads(out.strip().splitlines()[-1]))


def bench_backend(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"kuota-bench-radius-{kind}-"))
    count = args.servers or (1 if kind == "sqlite" else 2)
    try:
        with database(kind, args.cards, workdir) as (url, msisdns):
            warm, warm_total = write_requests(
                workdir, "warm", msisdns, 1000, 100, args.clients, args.chunk
            )
            files, total = write_requests(
                workdir, "run", msisdns, args.requests, args.sessions, args.clients, args.chunk
            )
            with servers("kuota", url, count, args) as port:
                drive(port, warm, args.parallel)
                kuota = drive(port, files, args.parallel)
            kuota["server_counters"] = args.server_stats
            charged = charged_bytes(url)
            with servers("empty", url, count, args) as port:
                drive(port, warm, args.parallel)
                baseline = drive(port, files, args.parallel)
        result = {
            "database": kind,
            "server_processes": count,
            "radclient_lanes": args.clients,
            "requests_per_radclient_run": args.chunk,
            "parallel_per_radclient": args.parallel,
            "sessions": args.sessions,
            "cards": args.cards,
            "kuota": kuota,
            "baseline": baseline,
            "ratio": round(kuota["requests_per_s"] / baseline["requests_per_s"], 3),
            "charged_bytes": charged,
            "reported_bytes": warm_total + total,
            "charged_exactly_what_was_reported": charged == warm_total + total,
        }
        shutil.rmtree(workdir, ignore_errors=True)
        return result
    except Exception:
        print(f"kept {workdir}", file=sys.stderr)
        raise


# -- the server processes ------------------------------------------------------------


async def serve_kuota(args: argparse.Namespace) -> dict[str, Any]:
    from kuota.radius import RadiusServer

    db = Database(args.url, pool_size=8)
    ctx = Context(settings=settings_for(args.url), clock=SystemClock())
    server = RadiusServer(
        db,
        ctx,
        host="127.0.0.1",
        auth_port=0,
        acct_port=args.port,
        batch_max=args.batch_max,
        **({"writers": args.writers} if args.writers else {}),
        reuse_port=True,
    )
    await server.start()
    await ready_then_wait()
    await server.stop()
    db.dispose()
    return {
        **dict(server.stats),
        "committed": server.writer.committed,
        "batches": server.writer.batches,
    }


async def serve_empty(args: argparse.Namespace) -> dict[str, Any]:
    """The baseline: the same library's decoding, authenticator check and reply; nothing
    else."""
    from pyrad import packet as radius

    from kuota.radius.attributes import dictionary

    secret = RADIUS_SECRET.encode()
    words = dictionary()
    answered = 0

    class Empty(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            nonlocal answered
            request = radius.AcctPacket(packet=data, secret=secret, dict=words)
            if request.VerifyAcctRequest():
                answered += 1
                self.transport.sendto(request.CreateReply().ReplyPacket(), addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        Empty, local_addr=("127.0.0.1", args.port), reuse_port=True
    )
    # The receive buffer kuota's server asks for: without it a burst overflows the
    # default buffer and radclient waits out its timeout for the lost packets.
    transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024
    )
    await ready_then_wait()
    transport.close()
    return {"answered": answered}


async def ready_then_wait() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--sessions", type=int, default=3_000)
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4, help="concurrent radclient lanes")
    parser.add_argument("--chunk", type=int, default=1000, help="requests per radclient run")
    parser.add_argument("--parallel", type=int, default=128, help="in flight per radclient")
    parser.add_argument(
        "--servers", type=int, default=0, help="server processes (1 on SQLite, 2 on PostgreSQL)"
    )
    parser.add_argument("--batch-max", type=int, default=256)
    parser.add_argument("--writers", type=int, default=0, help="0: the server's default")
    parser.add_argument("--serve", choices=["kuota", "empty"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run = serve_kuota if args.serve == "kuota" else serve_empty
        print(json.dumps(asyncio.run(run(args))), flush=True)
        return
    if shutil.which("radclient") is None:
        sys.exit("radclient (FreeRADIUS utilities) is needed")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "postgresql" and (problem := pg_unreachable()):
            results.append({"database": kind, "skipped": problem})
            continue
        results.append(bench_backend(kind, args))
    print(
        json.dumps(
            {
                "benchmark": "RADIUS Accounting-Request Interim-Updates sent by radclient",
                "target_requests_per_s": 2000,
                "cpus": os.cpu_count(),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
