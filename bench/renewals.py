"""Renewals paid from the main balance, through the HTTP API, against a baseline in the same run.

For each database (SQLite file, and PostgreSQL when reachable) this script:

1. migrates a fresh database, loads the demo data and adds `--cards` cards with a
   large main balance, owned by the demo subscriber;
2. starts `kuota serve` on it (rate limits off) and drives `POST /api/v1/renewals`
   with `--clients` concurrent keep-alive clients for `--seconds` (throughput,
   p50, p99), then at a fixed `--rate` (latency under that load, no coordinated
   omission);
3. starts the **baseline** (`bench/baseline_app.py`: the same uvicorn, plain SQL
   through the driver, no validation, no ORM) on a copy of the same data and
   drives it with exactly the same load;
4. checks the ledger of the kuota database is clean and prints one JSON document
   with both figures and `ratio = kuota / baseline`.

    .venv/bin/python bench/renewals.py                 # both databases
    .venv/bin/python bench/renewals.py --db sqlite --seconds 20 --profile

`--profile` runs py-spy (when installed) on the kuota server during the closed-loop
run and writes a flame graph SVG and the top functions under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import closed_loop, open_loop  # noqa: E402
from scratch import (  # noqa: E402
    create_database,
    drop_databases,
    new_database_name,
    pg_unreachable,
    pg_url,
)

from kuota import demo  # noqa: E402
from kuota.cards import service as cards  # noqa: E402
from kuota.core.clock import SystemClock  # noqa: E402
from kuota.core.config import Mode, Settings  # noqa: E402
from kuota.core.context import Context  # noqa: E402
from kuota.core.db import Database  # noqa: E402
from kuota.core.migrate import upgrade  # noqa: E402
from kuota.core.money import Money  # noqa: E402
from kuota.ledger import service as ledger  # noqa: E402
from kuota.ledger.service import check_ledger  # noqa: E402

SECRET = "bench-secret-" + "k" * 40
PLAN = "DATA-1GB-7D"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, n_cards: int) -> list[str]:
    """Demo data plus `n_cards` cards of the demo subscriber, each with Rp 100.000.000."""
    upgrade(url)
    settings = Settings(mode=Mode.DEMO, database_url=url, secret_key=SECRET, _env_file=None)  # type: ignore[call-arg]
    ctx = Context(settings=settings, clock=SystemClock())
    db = Database(url, pool_size=2)
    msisdns = [f"+628120{i:07d}" for i in range(n_cards)]
    with db.unit_of_work() as session:
        demo.load(session, ctx)
        owner = demo_user_id(session)
        now = ctx.clock.now()
        for msisdn in msisdns:
            card_id = cards.register_card(
                session,
                msisdn=msisdn,
                currency="IDR",
                now=now,
                secret_key=SECRET,
                owner_user_id=owner,
                owner_name="Bench Card",
                nik=None,
            )
            ledger.move_guarded(
                session,
                ctx,
                account_id=ledger.card_account_id(session, card_id),
                amount=Money(100_000_000 * 100, "IDR"),
                house="balance_adjustments",
                kind="adjustment",
                reference=msisdn,
                memo="bench opening balance",
            )
    db.dispose()
    return msisdns


def demo_user_id(session: Any) -> int:
    from sqlalchemy import select

    from kuota.auth.models import User

    return int(
        session.execute(select(User.id).where(User.username == "demo@kuota.example")).scalar_one()
    )


@contextmanager
def databases(
    kind: str,
    n_cards: int,
    workdir: Path,
    prepare: Callable[[str, list[str]], None] | None = None,
) -> Iterator[tuple[str, str, list[str]]]:
    """Yields (kuota_url, baseline_url, msisdns): two identical databases, seeded and then
    given whatever `prepare` adds before the copy is made."""
    if kind == "sqlite":
        kuota_db = workdir / "kuota.db"
        url = f"sqlite:///{kuota_db}"
        msisdns = seed(url, n_cards)
        if prepare is not None:
            prepare(url, msisdns)
        shutil.copyfile(kuota_db, workdir / "baseline.db")
        yield url, f"sqlite:///{workdir / 'baseline.db'}", msisdns
        return
    names = (new_database_name("kuota"), new_database_name("baseline"))
    create_database(names[0])
    try:
        msisdns = seed(pg_url(names[0]), n_cards)
        if prepare is not None:
            prepare(pg_url(names[0]), msisdns)
        create_database(names[1], template=names[0])
        yield pg_url(names[0]), pg_url(names[1]), msisdns
    finally:
        drop_databases(*names)


@contextmanager
def server(command: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def drive(
    url: str,
    headers: dict[str, str],
    msisdns: list[str],
    args: argparse.Namespace,
    label: str,
    profile_pid: int | None = None,
) -> dict[str, Any]:
    def maker(phase: str) -> Any:
        run = f"{label}-{phase}-{uuid.uuid4().hex[:8]}"  # every request a new purchase

        def make(i: int) -> tuple[str, str, dict[str, str], bytes]:
            body = json.dumps(
                {
                    "msisdn": msisdns[i % len(msisdns)],
                    "plan_code": PLAN,
                    "payment_method": "balance",
                }
            ).encode()
            return (
                "POST",
                "/api/v1/renewals",
                {**headers, "Content-Type": "application/json", "Idempotency-Key": f"{run}-{i}"},
                body,
            )

        return make

    # Warm up (imports, caches, connection pools) before measuring.
    closed_loop(url, maker("warmup"), clients=args.clients, seconds=1.5)
    spy = None
    if profile_pid is not None:
        spy = start_profile(profile_pid, label)
    throughput = closed_loop(
        url, maker("closed"), clients=args.clients, seconds=args.seconds
    ).summary()
    if spy is not None:
        spy.wait(timeout=args.seconds + 60)
    latency = open_loop(url, maker("open"), rate=args.rate, seconds=args.seconds).summary()
    return {"closed_loop": throughput, "open_loop": {"rate_per_s": args.rate, **latency}}


def start_profile(pid: int, label: str) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy not installed: pip install py-spy to profile", file=sys.stderr)
        return None
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--duration",
            "8",
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out / f"{label}.folded"),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_frames(folded: Path, limit: int = 25) -> list[tuple[str, float]]:
    """Share of samples in which each function appears (inclusive), from py-spy's raw output."""
    totals: dict[str, int] = {}
    samples = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        for frame in set(stack.split(";")):
            name = frame.split(" (")[0] + " " + frame.split("/")[-1].rstrip(")")
            totals[name] = totals.get(name, 0) + n
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    return [(name, round(100 * n / samples, 1)) for name, n in ranked]


def bench_backend(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"kuota-bench-{kind}-"))
    try:
        with databases(kind, args.cards, workdir) as (kuota_url, base_url, msisdns):
            workers = args.workers or (1 if kind == "sqlite" else 2)
            kuota_env = {
                "KUOTA_DATABASE_URL": kuota_url,
                "KUOTA_SECRET_KEY": SECRET,
                "KUOTA_MODE": "production",
                "KUOTA_RATE_LIMITS": "off",
                "KUOTA_LOG_LEVEL": "warning",
            }
            with server(
                [
                    sys.executable,
                    "-m",
                    "kuota",
                    "serve",
                    "--port",
                    "{port}",
                    "--workers",
                    str(workers),
                ],
                kuota_env,
                workdir / "kuota.log",
            ) as (url, pid):
                token = httpx.post(
                    f"{url}/api/v1/auth/token",
                    json={"username": "demo@kuota.example", "password": "demo-user-1"},
                ).json()
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                kuota = drive(
                    url,
                    headers,
                    msisdns,
                    args,
                    f"kuota-{kind}",
                    profile_pid=pid if args.profile else None,
                )
            db = Database(kuota_url, pool_size=1)
            with db.unit_of_work(write=False) as session:
                report = check_ledger(session)
            db.dispose()
            with server(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "baseline_app:create",
                    "--app-dir",
                    str(HERE),
                    "--port",
                    "{port}",
                    "--workers",
                    str(workers),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                {"BASELINE_DATABASE_URL": base_url},
                workdir / "baseline.log",
            ) as (url, _):
                baseline = drive(url, {}, msisdns, args, f"baseline-{kind}")
            for name, figures in (("kuota", kuota), ("baseline", baseline)):
                for phase in ("closed_loop", "open_loop"):
                    if set(figures[phase]["statuses"]) != {201} or figures[phase]["errors"]:
                        raise RuntimeError(f"{name} answered {figures}; see {workdir}/{name}.log")
        result: dict[str, Any] = {
            "database": kind,
            "server_processes": workers,
            "clients": args.clients,
            "kuota": kuota,
            "baseline": baseline,
            "ratio": round(
                kuota["closed_loop"]["throughput_per_s"]
                / baseline["closed_loop"]["throughput_per_s"],
                3,
            ),
            "ledger_clean_after_run": report.clean,
        }
        folded = HERE / "results" / f"kuota-{kind}.folded"
        if args.profile and folded.exists():
            result["profile_top_inclusive_percent"] = top_frames(folded)
        return result
    except Exception:
        print(f"kept {workdir} for its server logs", file=sys.stderr)
        raise
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests/s")
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="server processes (default: 1 on SQLite, 2 on PostgreSQL)",
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        if kind == "postgresql" and (problem := pg_unreachable()):
            results.append({"database": kind, "skipped": problem})
            continue
        results.append(bench_backend(kind, args))
    print(
        json.dumps(
            {
                "benchmark": "renewals over HTTP, paid from the main balance",
                "cpus": os.cpu_count(),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
