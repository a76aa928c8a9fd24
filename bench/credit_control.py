"""Credit-control updates over HTTP (`POST /api/v1/credit-control`), against a baseline in
the same run: the same writes in plain SQL behind the same web server
(`bench/baseline_app.py`).

Each of `--sessions` Gy sessions (one per card, every card with a large package) is
opened first; the measured load is `update` requests that report 1 MB used and ask
for the next 1 MB slice, spread so that no two requests of one session are in flight
together (request numbers must grow). Prints JSON with throughput, p50/p99 and
`ratio = kuota / baseline` per database.

    .venv/bin/python bench/credit_control.py --db sqlite --seconds 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import closed_loop  # noqa: E402
from renewals import SECRET, databases, server, start_profile  # noqa: E402
from scratch import pg_unreachable  # noqa: E402

from kuota.cards.models import Card  # noqa: E402
from kuota.core.clock import SystemClock  # noqa: E402
from kuota.core.db import Database  # noqa: E402
from kuota.usage import service as usage  # noqa: E402

MB = 10**6


def give_packages(url: str, msisdns: list[str]) -> None:
    """A 1 TB, 30-day package on every card: the load never runs out."""
    from sqlalchemy import select

    db = Database(url, pool_size=1)
    now = SystemClock().now()
    with db.unit_of_work() as session:
        ids = {m: i for m, i in session.execute(select(Card.msisdn, Card.id))}
        for msisdn in msisdns:
            usage.add_purchase(
                session,
                card_id=ids[msisdn],
                plan_code="DATA-1GB-7D",
                plan_version_id=1,
                data_bytes=10**12,
                validity_days=30,
                now=now,
            )
    db.dispose()


def load(url: str, msisdns: list[str], headers: dict[str, str], args: argparse.Namespace) -> Any:
    run = uuid.uuid4().hex[:6]
    sessions = len(msisdns)

    def request(kind: str, session: int, number: int, used: int) -> tuple[Any, ...]:
        body = {
            "session_id": f"{run}-{session}",
            "msisdn": msisdns[session],
            "request_type": kind,
            "request_number": number,
            "requested_bytes": MB,
            "used_bytes": used,
        }
        return (
            "POST",
            "/api/v1/credit-control",
            {**headers, "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )

    with httpx.Client(base_url=url, timeout=30) as client:
        for session in range(sessions):  # open every session before the measured load
            _, path, hdrs, body = request("initial", session, 0, 0)
            answer = client.post(path, content=body, headers=hdrs)
            if answer.status_code != 200 or answer.json()["result_code"] != 2001:
                raise RuntimeError(f"opening a session failed: {answer.text}")
    return closed_loop(
        url,
        lambda i: request("update", i % sessions, 1 + i // sessions, MB),
        clients=args.clients,
        seconds=args.seconds,
    ).summary()


def bench(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"kuota-cc-{kind}-"))
    try:
        with databases(kind, args.sessions, workdir, prepare=give_packages) as (
            kuota_url,
            base_url,
            msisdns,
        ):
            workers = args.workers or (1 if kind == "sqlite" else 2)
            env = {
                "KUOTA_DATABASE_URL": kuota_url,
                "KUOTA_SECRET_KEY": SECRET,
                "KUOTA_MODE": "production",
                "KUOTA_RATE_LIMITS": "off",
            }
            command = [sys.executable, "-m", "kuota", "serve", "--port", "{port}"]
            with server([*command, "--workers", str(workers)], env, workdir / "kuota.log") as (
                url,
                pid,
            ):
                spy = start_profile(pid, f"credit-control-{kind}") if args.profile else None
                kuota = load(url, msisdns, {"X-Network-Key": "demo-network-key-1"}, args)
                if spy is not None:
                    spy.wait(timeout=120)
            base = [sys.executable, "-m", "uvicorn", "--factory", "baseline_app:create"]
            with server(
                [
                    *base,
                    *("--app-dir", str(HERE), "--port", "{port}", "--workers", str(workers)),
                    *("--log-level", "warning", "--no-access-log"),
                ],
                {"BASELINE_DATABASE_URL": base_url},
                workdir / "baseline.log",
            ) as (url, _):
                baseline = load(url, msisdns, {}, args)
        for name, figures in (("kuota", kuota), ("baseline", baseline)):
            if set(figures["statuses"]) != {200} or figures["errors"]:
                raise RuntimeError(f"{name} answered {figures}; logs in {workdir}")
        shutil.rmtree(workdir, ignore_errors=True)
        return {
            "database": kind,
            "server_processes": workers,
            "clients": args.clients,
            "kuota": kuota,
            "baseline": baseline,
            "ratio": round(kuota["throughput_per_s"] / baseline["throughput_per_s"], 3),
        }
    except Exception:
        print(f"kept {workdir} for its server logs", file=sys.stderr)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the kuota server into bench/results/"
    )
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        if kind == "postgresql" and (problem := pg_unreachable()):
            results.append({"database": kind, "skipped": problem})
            continue
        results.append(bench(kind, args))
    print(
        json.dumps({"benchmark": "credit-control updates over HTTP", "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
