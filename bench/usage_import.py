"""Bulk usage import (`import_usage`) against a bare `executemany` of the same rows.

For each database (a fresh SQLite file, and PostgreSQL when reachable at KUOTA_TEST_PG,
in a scratch database created and dropped here) this script:

1. migrates it and seeds `--cards` cards through the services, each with two large
   packages (so every record is charged and earliest-expiry order is exercised);
2. writes `--records` usage records for those cards, interleaved by time as a
   network element would export them, as CSV (or JSON lines with `--format jsonl`);
3. times `import_usage` on the file, then again on the same file (every record a
   duplicate: the idempotency path);
4. times the **baseline** in the same database: the same records as rows of a table
   shaped like `usage_records` (same columns, keys and indexes), inserted by the
   driver's `executemany` in transactions of `--batch-size` rows, nothing else;
5. checks the charges add up and the ledger is clean, and prints one JSON document.

    .venv/bin/python bench/usage_import.py                     # both databases, 1,000,000
    .venv/bin/python bench/usage_import.py --db sqlite --records 200000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from scratch import pg_unreachable, scratch_database
from sqlalchemy import func, select
from sqlalchemy.schema import CreateIndex, CreateTable

from kuota.cards import service as cards
from kuota.catalog import service as catalog
from kuota.core.clock import SystemClock
from kuota.core.config import Mode, Settings
from kuota.core.context import Context
from kuota.core.db import Database, table_of
from kuota.core.migrate import upgrade
from kuota.core.money import Money
from kuota.demo import PLANS
from kuota.ledger.service import check_ledger
from kuota.usage import service as usage
from kuota.usage.importer import import_usage
from kuota.usage.models import Package, UsageRecord

SECRET = "bench-secret-" + "k" * 40
PACKAGE_BYTES = 10**15  # far more than the run uses: every record is charged
BASELINE_TABLE = "baseline_usage_records"


def context(url: str) -> Context:
    settings = Settings(mode=Mode.DEMO, database_url=url, secret_key=SECRET, _env_file=None)
    return Context(settings=settings, clock=SystemClock())


def seed(db: Database, ctx: Context, n_cards: int, bought_at: datetime) -> dict[str, int]:
    """`n_cards` cards, each with a 5 GB and a 20 GB plan (enlarged), bought a day apart."""
    numbers: dict[str, int] = {}
    with db.unit_of_work() as session:
        for code, name, price, data_bytes, days in PLANS:
            catalog.publish_plan(
                session,
                code=code,
                name=name,
                price=Money(price * 100, "IDR"),
                data_bytes=data_bytes,
                validity_days=days,
                now=bought_at,
            )
        plans = [catalog.current_plan(session, c) for c in ("DATA-5GB-30D", "DATA-20GB-30D")]
        for i in range(n_cards):
            msisdn = f"+628120{i:07d}"
            card_id = cards.register_card(
                session, msisdn=msisdn, currency="IDR", now=bought_at, secret_key=SECRET
            )
            for day, plan in enumerate(plans):
                usage.add_purchase(
                    session,
                    card_id=card_id,
                    plan_code=plan.code,
                    plan_version_id=plan.id,
                    data_bytes=PACKAGE_BYTES,
                    validity_days=plan.validity_days,
                    now=bought_at + timedelta(days=day),
                )
            numbers[msisdn] = card_id
    return numbers


def write_records(
    path: Path, fmt: str, numbers: list[str], n: int, since: datetime, seconds: float
) -> list[tuple[str, str, int, datetime]]:
    """`n` records spread over `seconds` from `since`, cards at random; returns them."""
    rng = random.Random(42)
    step = seconds / n
    records = []
    for i in range(n):
        msisdn = numbers[rng.randrange(len(numbers))]
        at = since + timedelta(seconds=i * step)
        records.append((msisdn, f"sess-{msisdn[-7:]}-{i // 50_000}", rng.randint(1, 10**7), at))
    with path.open("w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["record_id", "msisdn", "session_id", "bytes", "recorded_at"])
            writer.writerows(
                (f"gw1-{i:09d}", m, s, b, at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                for i, (m, s, b, at) in enumerate(records)
            )
        else:
            for i, (m, s, b, at) in enumerate(records):
                item = {
                    "record_id": f"gw1-{i:09d}",
                    "msisdn": m,
                    "session_id": s,
                    "bytes": b,
                    "recorded_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                }
                out.write(orjson.dumps(item).decode() + "\n")
    return records


def create_baseline_table(db: Database) -> None:
    """A table shaped like usage_records: the same columns, keys and indexes."""
    table = table_of(UsageRecord)
    dialect = db.engine.dialect
    statements: list[CreateTable | CreateIndex] = [CreateTable(table)]
    statements += [CreateIndex(index) for index in table.indexes]
    with db.engine.begin() as conn:
        for statement in statements:
            ddl = str(statement.compile(dialect=dialect))
            conn.exec_driver_sql(ddl.replace("usage_records", BASELINE_TABLE))


def baseline(
    db: Database,
    records: list[tuple[str, str, int, datetime]],
    numbers: dict[str, int],
    first_package: dict[int, int],
    batch_size: int,
) -> float:
    """Seconds to insert the records as usage rows with the driver's executemany."""
    create_baseline_table(db)
    recorded_at = table_of(UsageRecord).c.recorded_at.type.bind_processor(db.engine.dialect)
    rows = []
    for msisdn, session_id, nbytes, at in records:
        card_id = numbers[msisdn]
        stored_at = recorded_at(at) if recorded_at else at
        rows.append((card_id, first_package[card_id], session_id, "import", nbytes, 0, stored_at))
    mark = "?" if db.is_sqlite else "%s"
    sql = (
        f"INSERT INTO {BASELINE_TABLE} (card_id, package_id, session_id, source, bytes, "
        f"uncharged_bytes, recorded_at) VALUES ({', '.join([mark] * 7)})"
    )
    conn = db.engine.raw_connection()
    try:
        cursor = conn.cursor()
        started = time.perf_counter()
        for start in range(0, len(rows), batch_size):
            if db.is_sqlite:  # the engine leaves transactions to the caller on SQLite
                cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(sql, rows[start : start + batch_size])
                cursor.execute("COMMIT")
            else:
                cursor.executemany(sql, rows[start : start + batch_size])
                conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()


def bench_backend(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"kuota-bench-import-{kind}-"))
    try:
        with scratch_database(kind, workdir, "import") as url:
            upgrade(url)
            ctx = context(url)
            db = Database(url, pool_size=2)
            now = ctx.clock.now()
            numbers = seed(db, ctx, args.cards, bought_at=now - timedelta(days=3))
            with db.unit_of_work(write=False) as session:
                first_package = dict(
                    session.execute(
                        select(Package.card_id, func.min(Package.id)).group_by(Package.card_id)
                    ).all()
                )
            source = workdir / f"usage.{args.format}"
            records = write_records(
                source,
                args.format,
                list(numbers),
                args.records,
                since=now - timedelta(days=1),
                seconds=86_000,
            )
            rejects = workdir / "rejects.csv"
            summary = import_usage(
                db, ctx, source, rejects_path=rejects, batch_size=args.batch_size
            )
            again = import_usage(db, ctx, source, rejects_path=rejects, batch_size=args.batch_size)
            base_seconds = baseline(db, records, numbers, first_package, args.batch_size)
            with db.unit_of_work(write=False) as session:
                report = check_ledger(session)
                used = session.execute(select(func.sum(Package.quota_used_bytes))).scalar_one()
            db.dispose()
        total = sum(record[2] for record in records)
        if summary.imported != args.records or summary.charged_bytes != total or used != total:
            raise RuntimeError(f"the import charged wrongly: {summary}, {used} used of {total}")
        if again.duplicates != args.records or again.charged_bytes:
            raise RuntimeError(f"the second import charged again: {again}")
        rate = args.records / summary.seconds
        base_rate = args.records / base_seconds
        return {
            "database": kind,
            "records": args.records,
            "cards": args.cards,
            "format": args.format,
            "batch_size": args.batch_size,
            "file_mb": round(source.stat().st_size / 1e6, 1),
            "seconds": round(summary.seconds, 3),
            "records_per_s": round(rate),
            "reimport_records_per_s": round(args.records / again.seconds),
            "baseline_seconds": round(base_seconds, 3),
            "baseline_records_per_s": round(base_rate),
            "ratio": round(rate / base_rate, 3),
            "ledger_clean_after_run": report.clean,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "postgresql" and (problem := pg_unreachable()):
            results.append({"database": kind, "skipped": problem})
            continue
        results.append(bench_backend(kind, args))
        print(json.dumps(results[-1]), flush=True)
    print(
        json.dumps(
            {"benchmark": "usage import", "cpus": os.cpu_count(), "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
