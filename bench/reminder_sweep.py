"""The lifecycle sweep over a million packages, against a bare-SQL baseline in the same run.

For each database (a fresh SQLite file, and a scratch PostgreSQL database when one is
reachable at `KUOTA_TEST_PG`) this script:

1. migrates a fresh database and seeds `--packages` packages (default 1,000,000) on
   cards of which ~30 % have a portal owner (locales id/en/zh), a few thousand
   auto-renew (made through the services, with a main balance, a fifth of them too
   short for the plan), and 0.5 % are terminated. Bulk rows go in with plain
   `executemany` (SQLite) or `COPY` (PostgreSQL). Expiries are spread the way
   7- and 30-day plans bought over the last weeks leave them; `reminders_sent` holds
   what a worker sweeping until `--behind` hours ago has sent, so about 1 % of the
   packages are due at the sweep (reminders, expiries, low quota);
2. times the **baseline**: the bare SQL, through the driver, that selects the same
   due packages (same windows, joins, order and "not sent yet" test; no batching, no
   claims, no messages), run once untimed first so both it and the sweep find the
   data cached;
3. times one `kuota.usage.lifecycle.sweep` at the same business time (claims,
   messages in the outbox, auto-renewals through the renewal service), checks it
   handled exactly the due packages, then times a second sweep that finds nothing;
4. prints one JSON document: per database `packages`, `due`, `seconds`,
   `baseline_seconds`, `ratio` (sweep / baseline), `idle_seconds` and the sweep's
   counts. Target: `seconds` ≤ 5.

    .venv/bin/python bench/reminder_sweep.py                  # both databases
    .venv/bin/python bench/reminder_sweep.py --db sqlite --packages 200000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from scratch import pg_unreachable, scratch_database
from sqlalchemy import update

from kuota.cards import service as cards
from kuota.cards.models import Card
from kuota.catalog import service as catalog
from kuota.core.clock import FixedClock
from kuota.core.config import Mode, Settings
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.migrate import upgrade
from kuota.core.money import Money
from kuota.demo import PLANS
from kuota.ledger import service as ledger
from kuota.ledger.service import check_ledger
from kuota.usage import lifecycle

SECRET = "bench-secret-" + "k" * 40
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # the business time of the sweep
DAY = timedelta(days=1)
PLAN_WEIGHTS = {"DATA-1GB-7D": 0.5, "DATA-5GB-30D": 0.35, "DATA-20GB-30D": 0.15}
HISTORY = timedelta(days=20)  # packages bought up to this long before their validity
OWNED_SHARE = 0.30
TERMINATED_SHARE = 0.005
SECOND_PACKAGE_SHARE = 0.25
LOW_NOT_TOLD_SHARE = 0.05  # of low-quota active packages, not yet told (crossed lately)
LOCALES = (("id", 0.80), ("en", 0.15), ("zh", 0.05))


# -- seeding -------------------------------------------------------------------------------


@dataclass
class Plan:
    id: int
    code: str
    data_bytes: int
    validity: timedelta


@dataclass
class Seed:
    users: list[tuple[Any, ...]]
    cards: list[tuple[Any, ...]]
    packages: list[tuple[Any, ...]]
    reminders: list[tuple[Any, ...]]


def settings_for(url: str) -> Settings:
    return Settings(
        mode=Mode.DEMO,
        database_url=url,
        secret_key=SECRET,
        public_url="http://kuota.bench",
        _env_file=None,
    )


def generate(
    rng: random.Random,
    n_packages: int,
    n_auto: int,
    plans: dict[str, Plan],
    last_sweep: datetime,
) -> tuple[Seed, list[tuple[int, str]]]:
    """Rows for the bulk insert, and the (owner id, msisdn) of the auto-renewing cards,
    which are made through the services. Card ids 1..n_auto are those cards."""
    n_bulk_packages = n_packages - n_auto
    n_bulk_cards = int(n_bulk_packages / (1 + SECOND_PACKAGE_SHARE))
    users: list[tuple[Any, ...]] = []
    locales = [code for code, _ in LOCALES]
    weights = [share for _, share in LOCALES]

    def new_user() -> int:
        user_id = len(users) + 1
        name = f"sub{user_id}@kuota.bench"
        locale = rng.choices(locales, weights)[0]
        users.append((user_id, name, name, "x", "subscriber", "Bench", locale, True))
        return user_id

    auto_cards = [(new_user(), f"+62812{i:08d}") for i in range(n_auto)]
    bulk_cards: list[tuple[Any, ...]] = []
    for i in range(n_bulk_cards):
        card_id = n_auto + 1 + i
        owner = new_user() if rng.random() < OWNED_SHARE else None
        status = "terminated" if rng.random() < TERMINATED_SHARE else "active"
        bulk_cards.append((card_id, f"+62813{i:08d}", owner, "Bench Card", status, False))

    codes = list(PLAN_WEIGHTS)
    plan_weights = list(PLAN_WEIGHTS.values())
    packages: list[tuple[Any, ...]] = []
    reminders: list[tuple[Any, ...]] = []
    # Auto-renewing cards first (one package each), then one per bulk card, then second
    # packages of another plan on a quarter of the bulk cards.
    owners = list(range(1, n_auto + 1))
    owners += [c[0] for c in bulk_cards]
    second = rng.sample(range(n_bulk_cards), n_bulk_packages - n_bulk_cards)
    owners += [bulk_cards[i][0] for i in second]
    last_plan: dict[int, str] = {}
    for package_id, card_id in enumerate(owners, start=1):
        code = rng.choices(codes, plan_weights)[0]
        if last_plan.get(card_id) == code:  # a card holds one package per plan
            code = codes[(codes.index(code) + 1) % len(codes)]
        last_plan[card_id] = code
        plan = plans[code]
        starts_at = NOW - rng.random() * (HISTORY + plan.validity)
        expires_at = starts_at + plan.validity
        used = int(plan.data_bytes * rng.random())
        packages.append(
            (package_id, card_id, code, plan.id, plan.data_bytes, used, starts_at, expires_at)
        )
        # What a worker sweeping continuously until `last_sweep` has sent.
        sent = []
        if expires_at - 3 * DAY <= last_sweep:
            sent.append("3d")
        if expires_at - DAY <= last_sweep:
            sent.append("1d")
        if expires_at <= last_sweep:
            sent.append("expired")
            if card_id <= n_auto:
                sent.append("auto")
        low = (plan.data_bytes - used) * 10 < plan.data_bytes
        if low and (expires_at <= NOW or rng.random() >= LOW_NOT_TOLD_SHARE):
            sent.append("low")
        reminders.extend((package_id, kind, expires_at, last_sweep) for kind in sent)
    return Seed(users, bulk_cards, packages, reminders), auto_cards


def seed(url: str, n_packages: int, n_auto: int, behind: timedelta) -> dict[str, int]:
    upgrade(url)
    settings = settings_for(url)
    ctx = Context(settings=settings, clock=FixedClock(NOW - HISTORY - 31 * DAY))
    db = Database(url, pool_size=2)
    with db.unit_of_work() as session:
        for code, name, price, data_bytes, days in PLANS:
            catalog.publish_plan(
                session,
                code=code,
                name=name,
                price=Money(price * 100, "IDR"),
                data_bytes=data_bytes,
                validity_days=days,
                now=ctx.clock.now(),
            )
        plans = {
            p.code: Plan(p.id, p.code, p.data_bytes, timedelta(days=p.validity_days))
            for p in catalog.current_plans(session)
        }
    rng = random.Random(7)
    rows, auto_cards = generate(rng, n_packages, n_auto, plans, NOW - behind)
    bulk_insert(url, "users", rows.users)
    with db.unit_of_work() as session:
        for owner_id, msisdn in auto_cards:
            card_id = cards.register_card(
                session,
                msisdn=msisdn,
                currency="IDR",
                now=ctx.clock.now(),
                secret_key=SECRET,
                owner_user_id=owner_id,
                owner_name="Bench Owner",
            )
            short = rng.random() < 0.2  # a fifth cannot pay for the cheapest plan
            ledger.move_guarded(
                session,
                ctx,
                account_id=ledger.card_account_id(session, card_id),
                amount=Money((5_000 if short else 500_000) * 100, "IDR"),
                house="balance_adjustments",
                kind="adjustment",
                reference=msisdn,
                memo="bench opening balance",
            )
        session.execute(update(Card).values(auto_renew=True))  # only these cards exist yet
    db.dispose()
    bulk_insert(url, "cards", rows.cards)
    bulk_insert(url, "packages", rows.packages)
    bulk_insert(url, "reminders_sent", rows.reminders)
    finish(url)
    return {
        "users": len(rows.users),
        "cards": len(rows.cards) + n_auto,
        "auto_renewing_cards": n_auto,
        "packages": len(rows.packages),
        "reminders_sent": len(rows.reminders),
    }


Shape = Callable[[tuple[Any, ...]], tuple[Any, ...]]
COLUMNS: dict[str, tuple[str, Shape]] = {
    "users": (
        "id, username, email, password_hash, role, display_name, locale, is_active, created_at",
        lambda r: (*r, NOW - HISTORY - 31 * DAY),
    ),
    "cards": (
        "id, msisdn, owner_user_id, owner_name, status, auto_renew, created_at",
        lambda r: (*r, NOW - HISTORY - 31 * DAY),
    ),
    "packages": (
        "id, card_id, plan_code, plan_version_id, quota_total_bytes, quota_used_bytes, "
        "quota_reserved_bytes, starts_at, expires_at, created_at",
        lambda r: (*r[:6], 0, r[6], r[7], r[6]),
    ),
    "reminders_sent": ("package_id, kind, period_end, sent_at", lambda r: r),
}


def sqlite_time(value: datetime) -> str:
    """How the UTCDateTime column type keeps an instant in SQLite."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_insert(url: str, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    columns, shape = COLUMNS[table]
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.split("///", 1)[1])
        lite.execute("PRAGMA synchronous=OFF")  # seeding only: the sweep runs with FULL
        marks = ", ".join("?" * len(columns.split(",")))
        with lite:
            lite.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                (
                    tuple(sqlite_time(v) if isinstance(v, datetime) else v for v in shape(r))
                    for r in rows
                ),
            )
        lite.close()
        return
    with (
        psycopg.connect(url.replace("+psycopg", "")) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for r in rows:
            copy.write_row(shape(r))


def finish(url: str) -> None:
    """Leave the database as a running system has it: seeded rows on disk (the seeding
    wrote them without syncing, and the sweep's first synced commit would otherwise pay
    for flushing them all), and on PostgreSQL the id sequences past the bulk rows and
    statistics gathered (what autovacuum would have done by then)."""
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.split("///", 1)[1])
        lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lite.close()
        os.sync()
        return
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        for table in ("users", "cards", "packages"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


# -- the baseline --------------------------------------------------------------------------

BASELINE = """
SELECT p.id, p.card_id, p.plan_code, p.quota_total_bytes, p.quota_used_bytes, p.expires_at,
       v.name, c.msisdn, c.owner_user_id, u.username, u.role, u.email, u.locale
FROM packages p
JOIN cards c ON c.id = p.card_id
JOIN plan_versions v ON v.id = p.plan_version_id
LEFT JOIN users u ON u.id = c.owner_user_id
WHERE p.expires_at > {lo} {upper} AND c.status <> 'terminated' {extra}
  AND NOT EXISTS (SELECT 1 FROM reminders_sent r
                  WHERE r.package_id = p.id AND r.kind = '{kind}'
                    AND r.period_end = p.expires_at)
ORDER BY {order}
"""


def baseline_queries(mark: str) -> list[tuple[str, str]]:
    """(kind, SQL) per reminder kind: the sweep's windows, in the sweep's order (which
    picks the same access path: the expiry index, or table order for low quota)."""
    low = "AND (p.quota_total_bytes - p.quota_used_bytes) * 10 < p.quota_total_bytes"
    by_expiry = "p.expires_at, p.id"
    kinds = [
        ("3d", "", True, by_expiry),
        ("1d", "", True, by_expiry),
        ("expired", "", True, by_expiry),
        ("low", low, False, "p.id"),
    ]
    return [
        (
            kind,
            BASELINE.format(
                lo=mark.format("lo"),
                upper=f"AND p.expires_at <= {mark.format('hi')}" if bounded else "",
                extra=extra,
                kind=kind,
                order=order,
            ),
        )
        for kind, extra, bounded, order in kinds
    ]


def run_baseline(url: str) -> tuple[int, float]:
    """The due packages, selected by bare SQL through the driver: (count, seconds)."""
    kinds = {
        k.name: k
        for k in (lifecycle.THREE_DAYS, lifecycle.ONE_DAY, lifecycle.EXPIRED, lifecycle.LOW)
    }
    is_sqlite = url.startswith("sqlite")
    queries = baseline_queries(":{}" if is_sqlite else "%({})s")

    def params(kind: str) -> dict[str, Any]:
        reminder = kinds[kind]
        window = {"lo": NOW + reminder.after}
        if reminder.until is not None:
            window["hi"] = NOW + reminder.until
        return {k: sqlite_time(v) if is_sqlite else v for k, v in window.items()}

    due = 0
    if is_sqlite:
        lite = sqlite3.connect(url.split("///", 1)[1])
        started = time.perf_counter()
        for kind, sql in queries:
            due += len(lite.execute(sql, params(kind)).fetchall())
        seconds = time.perf_counter() - started
        lite.close()
        return due, seconds
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        started = time.perf_counter()
        for kind, sql in queries:
            due += len(conn.execute(sql, params(kind)).fetchall())
        seconds = time.perf_counter() - started
    return due, seconds


# -- the run -------------------------------------------------------------------------------


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with scratch_database(kind, workdir, "sweep") as url:
        started = time.perf_counter()
        seeded = seed(url, args.packages, args.auto_cards, timedelta(hours=args.behind))
        seed_seconds = time.perf_counter() - started
        print(f"[{kind}] seeded in {seed_seconds:.1f} s: {seeded}", file=sys.stderr)

        run_baseline(url)  # warm-up
        due, baseline_seconds = run_baseline(url)
        print(f"[{kind}] baseline: {due} due in {baseline_seconds:.3f} s", file=sys.stderr)

        db = Database(url, pool_size=4)
        ctx = Context(settings=settings_for(url), clock=FixedClock(NOW))
        started = time.perf_counter()
        stats = lifecycle.sweep(db, ctx, batch=args.batch)
        seconds = time.perf_counter() - started
        handled = stats.reminders_3d + stats.reminders_1d + stats.expired + stats.low_quota
        print(f"[{kind}] sweep: {stats} in {seconds:.3f} s", file=sys.stderr)

        started = time.perf_counter()
        idle = lifecycle.sweep(db, ctx, batch=args.batch)
        idle_seconds = time.perf_counter() - started
        with db.unit_of_work(write=False) as session:
            ledger_clean = check_ledger(session).clean
        db.dispose()
    return {
        "packages": seeded["packages"],
        "due": due,
        "seconds": round(seconds, 3),
        "baseline_seconds": round(baseline_seconds, 3),
        "ratio": round(seconds / baseline_seconds, 2),
        "idle_seconds": round(idle_seconds, 3),
        "handled_equals_due": handled == due,
        "idle_pass_found_nothing": idle.total() == 0,
        "ledger_clean": ledger_clean,
        "stats": asdict(stats),
        "seeded": seeded,
        "seed_seconds": round(seed_seconds, 1),
        "target_seconds": 5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--packages", type=int, default=1_000_000)
    parser.add_argument("--auto-cards", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--behind", type=float, default=2.5, help="hours since the previous sweep (~1 %% due)"
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="kuota-sweep-"))
    try:
        for kind in kinds:
            if kind == "postgresql" and (problem := pg_unreachable()):
                results[kind] = {"skipped": problem}
                continue
            results[kind] = bench(kind, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
