"""Bulk usage import (`kuota import-usage FILE`), on SQLite and PostgreSQL: the right
packages are charged, each record exactly once however often (or however far) a file
is imported, and every bad row is named in the rejects file and changes nothing."""

from __future__ import annotations

import csv
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from kuota.cards.models import Card
from kuota.catalog import service as catalog
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.usage import importer
from kuota.usage import service as usage
from kuota.usage.importer import ImportFileError, ImportSummary, import_usage
from kuota.usage.models import ImportedRecord, Package, UsageRecord

from factories import charge_card, make_card, make_subscriber, publish_demo_plans

GB = 10**9
MB = 10**6
HEADER = ["record_id", "msisdn", "session_id", "bytes", "recorded_at"]


@dataclass
class CardRef:
    msisdn: str
    id: int


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_card(db: Database, ctx: Context, msisdn: str | None = None) -> CardRef:
    with db.unit_of_work() as s:
        if s.execute(select(func.count()).select_from(Card)).scalar_one() == 0:
            publish_demo_plans(s, ctx)
        number = make_card(s, ctx, make_subscriber(s, ctx), msisdn=msisdn)
        card_id = s.execute(select(Card.id).where(Card.msisdn == number)).scalar_one()
    return CardRef(number, card_id)


def buy(
    db: Database, card: CardRef, plan_code: str, at: datetime, data_bytes: int | None = None
) -> int:
    """Land a plan on the card as a purchase at `at` would; returns the package id."""
    with db.unit_of_work() as s:
        plan = catalog.current_plan(s, plan_code)
        package = usage.add_purchase(
            s,
            card_id=card.id,
            plan_code=plan.code,
            plan_version_id=plan.id,
            data_bytes=plan.data_bytes if data_bytes is None else data_bytes,
            validity_days=plan.validity_days,
            now=at,
        )
    return int(package["id"])


def used(db: Database, package_id: int) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.get_one(Package, package_id).quota_used_bytes)


def usage_rows(db: Database, card: CardRef) -> list[UsageRecord]:
    with db.unit_of_work(write=False) as s:
        return list(
            s.execute(
                select(UsageRecord)
                .where(UsageRecord.card_id == card.id)
                .order_by(UsageRecord.package_id, UsageRecord.id)
            ).scalars()
        )


def imported_ids(db: Database) -> set[str]:
    with db.unit_of_work(write=False) as s:
        return set(s.execute(select(ImportedRecord.record_id)).scalars())


def write_csv(path: Path, rows: Iterable[Sequence[Any]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, items: Iterable[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write((item if isinstance(item, str) else orjson.dumps(item).decode()) + "\n")
    return path


def run_import(db: Database, ctx: Context, path: Path, **kw: Any) -> ImportSummary:
    return import_usage(db, ctx, path, rejects_path=path.with_suffix(".rejects.csv"), **kw)


def rejects_of(path: Path) -> list[dict[str, str]]:
    with path.with_suffix(".rejects.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def card(db: Database, ctx: Context) -> CardRef:
    return new_card(db, ctx)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_usage_draws_from_the_package_that_expires_first(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path, fmt: str
) -> None:
    now = ctx.clock.now()
    big = buy(db, card, "DATA-5GB-30D", now - timedelta(days=2))  # expires in 28 days
    small = buy(db, card, "DATA-1GB-7D", now - timedelta(days=1))  # expires in 6 days
    records = [
        ("r-1", card.msisdn, "s-1", 600 * MB, rfc3339(now - timedelta(hours=3))),
        # local form of the number, an offset, lower-case t and z: all as RFC 3339 allows
        ("r-2", "0" + card.msisdn[3:], "s-1", 300 * MB, "2026-11-25t08:00:00+07:00"),
        ("r-3", card.msisdn, "s-1", 500 * MB, "2026-11-25 02:00:00.5z"),
    ]
    if fmt == "csv":
        path = write_csv(tmp_path / "usage.csv", records)
    else:
        keys = ["record_id", "card", "session_id", "bytes", "recorded_at"]  # card: an alias
        path = write_jsonl(
            tmp_path / "usage.jsonl", (dict(zip(keys, r, strict=True)) for r in records)
        )

    summary = run_import(db, ctx, path)

    assert (summary.read, summary.imported, summary.duplicates, summary.rejected) == (3, 3, 0, 0)
    assert (summary.charged_bytes, summary.uncharged_bytes) == (1400 * MB, 0)
    assert used(db, small) == 1 * GB  # used up first: it expires first
    assert used(db, big) == 400 * MB
    rows = usage_rows(db, card)
    assert {(r.package_id, r.bytes, r.uncharged_bytes, r.source) for r in rows} == {
        (big, 400 * MB, 0, "import"),
        (small, 1 * GB, 0, "import"),
    }
    assert {r.session_id for r in rows} == {"s-1"}
    assert max(r.recorded_at for r in rows) == datetime(2026, 11, 25, 2, 0, 0, 500000, UTC)
    assert imported_ids(db) == {"r-1", "r-2", "r-3"}
    assert rejects_of(path) == []


def test_a_record_is_charged_to_the_packages_active_when_it_was_used(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    old = buy(db, card, "DATA-1GB-7D", now - timedelta(days=10))  # expired 3 days ago
    current = buy(db, card, "DATA-5GB-30D", now - timedelta(days=2))
    path = write_csv(
        tmp_path / "late.csv",
        [
            ("before-any", card.msisdn, "", 5 * MB, rfc3339(now - timedelta(days=12))),
            ("in-old", card.msisdn, "", 7 * MB, rfc3339(now - timedelta(days=5))),
            ("in-current", card.msisdn, "", 11 * MB, rfc3339(now - timedelta(days=1))),
        ],
    )
    summary = run_import(db, ctx, path)
    assert (summary.charged_bytes, summary.uncharged_bytes) == (18 * MB, 5 * MB)
    assert used(db, old) == 7 * MB
    assert used(db, current) == 11 * MB
    uncharged = [r for r in usage_rows(db, card) if r.package_id is None]
    assert [(r.bytes, r.uncharged_bytes, r.session_id) for r in uncharged] == [(0, 5 * MB, None)]


def test_usage_beyond_the_quota_is_recorded_uncharged_never_below_zero(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    package = buy(db, card, "DATA-1GB-7D", now - timedelta(days=1))
    at = rfc3339(now - timedelta(hours=1))
    path = write_csv(
        tmp_path / "over.csv",
        [
            ("o-1", card.msisdn, "a", 700 * MB, at),
            ("o-2", card.msisdn, "b", 500 * MB, at),
            ("o-3", card.msisdn, "b", 0, at),
            ("o-4", card.msisdn, "c", 100 * MB, at),
        ],
    )
    summary = run_import(db, ctx, path)
    assert summary.imported == 4
    assert (summary.charged_bytes, summary.uncharged_bytes) == (1 * GB, 300 * MB)
    assert used(db, package) == 1 * GB
    rows = usage_rows(db, card)
    assert sum(r.bytes for r in rows) == 1 * GB
    assert sum(r.uncharged_bytes for r in rows) == 300 * MB
    assert all(r.bytes >= 0 and r.uncharged_bytes >= 0 for r in rows)
    # Sessions a and b drew from the package, b and c went uncharged: no single session.
    assert {r.session_id for r in rows} == {None}


def test_records_of_no_bytes_are_imported_and_charge_nothing(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    package = buy(db, card, "DATA-1GB-7D", now - timedelta(days=1))
    path = write_csv(tmp_path / "zero.csv", [("z-1", card.msisdn, "s", 0, rfc3339(now))])
    summary = run_import(db, ctx, path)
    assert (summary.imported, summary.charged_bytes, summary.uncharged_bytes) == (1, 0, 0)
    assert used(db, package) == 0
    assert usage_rows(db, card) == []
    assert imported_ids(db) == {"z-1"}


def test_importing_a_file_again_charges_nothing(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    package = buy(db, card, "DATA-5GB-30D", now - timedelta(days=1))
    path = write_csv(
        tmp_path / "twice.csv",
        [(f"t-{i}", card.msisdn, "s", MB, rfc3339(now - timedelta(minutes=i))) for i in range(30)],
    )
    first = run_import(db, ctx, path, batch_size=7, window=10)
    again = run_import(db, ctx, path, batch_size=7, window=10)
    assert (first.imported, first.duplicates, first.charged_bytes) == (30, 0, 30 * MB)
    assert (again.read, again.imported, again.duplicates) == (30, 0, 30)
    assert (again.charged_bytes, again.uncharged_bytes, again.rejected) == (0, 0, 0)
    assert used(db, package) == 30 * MB
    assert sum(r.bytes for r in usage_rows(db, card)) == 30 * MB


def test_a_rerun_after_a_crash_charges_each_record_exactly_once(
    db: Database, ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = ctx.clock.now()
    cards = [new_card(db, ctx) for _ in range(4)]
    packages = [buy(db, c, "DATA-20GB-30D", now - timedelta(days=1)) for c in cards]
    rng = random.Random(7)
    records = [
        (f"c-{i:03d}", cards[i % 4].msisdn, "", rng.randint(1, 10 * MB), rfc3339(now))
        for i in range(200)
    ]
    expected = [sum(r[3] for r in records if r[1] == c.msisdn) for c in cards]

    # The first half, then the whole file: the half is not charged twice.
    write_csv(tmp_path / "half.csv", records[:100])
    half = run_import(db, ctx, tmp_path / "half.csv", batch_size=10, window=40)
    assert half.imported == 100

    # A crash in the middle of a transaction (after its ids were claimed): that
    # transaction is undone whole, the ones before it stay.
    calls = 0
    real_draw = importer._draw

    def crash_on_third(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionError("power cut")
        return real_draw(*args)

    monkeypatch.setattr(importer, "_draw", crash_on_third)
    full = write_csv(tmp_path / "full.csv", records)
    with pytest.raises(ConnectionError):
        run_import(db, ctx, full, batch_size=10, window=40)
    monkeypatch.undo()

    # And a crash between transactions (here from the progress callback).
    def stop_after_first(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(db, ctx, full, batch_size=10, window=40, progress=stop_after_first)

    rerun = run_import(db, ctx, full, batch_size=10, window=40)
    assert rerun.imported + rerun.duplicates == 200
    assert rerun.rejected == 0
    assert [used(db, p) for p in packages] == expected
    for c, total in zip(cards, expected, strict=True):
        assert sum(r.bytes for r in usage_rows(db, c)) == total
    assert imported_ids(db) == {r[0] for r in records}
    assert run_import(db, ctx, full).duplicates == 200


def test_two_imports_of_one_file_at_once_charge_each_record_once(
    db: Database, ctx: Context, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    cards = [new_card(db, ctx) for _ in range(6)]
    packages = [buy(db, c, "DATA-20GB-30D", now - timedelta(days=1)) for c in cards]
    records = [(f"p-{i:04d}", cards[i % 6].msisdn, "", 1000 + i, rfc3339(now)) for i in range(600)]
    path = write_csv(tmp_path / "shared.csv", records)
    results: list[ImportSummary] = []
    errors: list[BaseException] = []

    def import_once(n: int) -> None:
        try:
            results.append(
                import_usage(
                    db, ctx, path, rejects_path=tmp_path / f"r{n}.csv", batch_size=40, window=200
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=import_once, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.imported for r in results) == 600
    assert sum(r.duplicates for r in results) == 600
    for index, package in enumerate(packages):
        assert used(db, package) == sum(r[3] for r in records[index::6])


def test_every_kind_of_bad_row_is_rejected_with_its_reason_and_changes_nothing(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    package = buy(db, card, "DATA-5GB-30D", now - timedelta(days=1))
    at = rfc3339(now - timedelta(hours=1))
    m = card.msisdn
    rows: list[Sequence[Any]] = [
        ("good-1", m, "s", 1000, at),  # line 2
        ("", m, "s", 1, at),  # 3
        ("   ", m, "s", 1, at),  # 4
        ("no-card", "+6281299999999", "s", 1, at),  # 5
        ("bad-number", "12ab", "s", 1, at),  # 6
        ("empty-number", "", "s", 1, at),  # 7
        ("landline", "+62215550123", "s", 1, at),  # 8: Jakarta fixed line, not a card
        ("float", m, "s", "1.5", at),  # 9
        ("exponent", m, "s", "1e3", at),  # 10
        ("negative", m, "s", "-5", at),  # 11
        ("no-bytes", m, "s", "", at),  # 12
        ("huge", m, "s", str(10**14), at),  # 13
        ("arabic-digits", m, "s", "١٢", at),  # 14
        ("naive", m, "s", 1, "2026-11-25T01:00:00"),  # 15
        ("words", m, "s", 1, "yesterday"),  # 16
        ("date-only", m, "s", 1, "2026-11-25"),  # 17
        ("bad-day", m, "s", 1, "2026-02-30T01:00:00Z"),  # 18
        ("future", m, "s", 1, rfc3339(now + timedelta(hours=1))),  # 19
        ("good-1", m, "s", 1, at),  # 20: the same id again
        ("long-session", m, "x" * 121, 1, at),  # 21
        ("x" * 121, m, "s", 1, at),  # 22
        ("too-few", m, at),  # 23
        ("good-2", m, "", 2000, at),  # 24
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    summary = run_import(db, ctx, path)

    assert (summary.read, summary.imported, summary.rejected) == (23, 2, 21)
    assert summary.charged_bytes == 3000
    assert used(db, package) == 3000
    assert imported_ids(db) == {"good-1", "good-2"}
    rejects = rejects_of(path)
    by_line = {int(r["line"]): r for r in rejects}
    assert sorted(by_line) == list(range(3, 24))
    expected = {
        3: "record_id is empty",
        4: "record_id is empty",
        5: "no card +6281299999999 is registered",
        6: "not a phone number",
        7: "msisdn is empty",
        8: "not a mobile number",
        9: "not a whole number",
        10: "not a whole number",
        11: "negative",
        12: "bytes is empty",
        13: "more than",
        14: "not a whole number",
        15: "has no UTC offset",
        16: "is not RFC 3339",
        17: "is not RFC 3339",
        18: "not a valid date and time",
        19: "in the future",
        20: "already appears on line 2",
        21: "session_id must be",
        22: "record_id must be",
        23: "3 fields, the header has 5",
    }
    for line, reason in expected.items():
        assert reason in by_line[line]["reason"], (line, by_line[line])
    assert by_line[5]["record_id"] == "no-card"
    assert by_line[9]["row"] == f"float,{m},s,1.5,{at}"
    assert by_line[23]["row"] == f"too-few,{m},{at}"


def test_bad_json_lines_are_rejected_and_the_rest_imported(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    package = buy(db, card, "DATA-5GB-30D", now - timedelta(days=1))
    at = rfc3339(now - timedelta(hours=1))
    good = {"record_id": "j-1", "msisdn": card.msisdn, "bytes": 10, "recorded_at": at}
    path = write_jsonl(
        tmp_path / "usage.ndjson",
        [
            good,  # 1
            '{"record_id": "j-2", "msisdn": ',  # 2: cut short
            "[1, 2]",  # 3
            {**good, "record_id": "j-4", "bytes": 1.5},  # 4
            f'{{"record_id": "j-5", "msisdn": "{card.msisdn}", "bytes": 1e3, '
            f'"recorded_at": "{at}"}}',  # 5
            {**good, "record_id": "j-6", "bytes": True},  # 6
            {**good, "record_id": ["j-7"]},  # 7
            {**good, "record_id": "j-8", "bytes": -1},  # 8
            "",  # 9: blank, skipped
            {**good, "record_id": "j-10", "bytes": "20"},  # 10: digits as text are fine
            {**good, "record_id": 11, "bytes": 30},  # 11: so is an integer id
            {"record_id": "j-12", "bytes": 1, "recorded_at": at},  # 12: no number
        ],
    )
    summary = run_import(db, ctx, path)
    assert (summary.read, summary.imported, summary.rejected) == (11, 3, 8)
    assert used(db, package) == 60
    assert imported_ids(db) == {"j-1", "j-10", "11"}
    reasons = {int(r["line"]): r["reason"] for r in rejects_of(path)}
    assert "not valid JSON" in reasons[2]
    assert reasons[3] == "not a JSON object"
    assert "not a whole number" in reasons[4]
    assert "not a whole number" in reasons[5]
    assert "not a whole number" in reasons[6]
    assert "record_id is" in reasons[7]
    assert "negative" in reasons[8]
    assert "msisdn is empty" in reasons[12]


def test_a_row_for_an_unknown_card_is_imported_once_the_card_exists(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    buy(db, card, "DATA-1GB-7D", now - timedelta(days=1))
    at = rfc3339(now - timedelta(hours=1))
    path = write_csv(
        tmp_path / "later.csv",
        [("k-1", card.msisdn, "", 5, at), ("k-2", "+6281277777777", "", 9, at)],
    )
    first = run_import(db, ctx, path)
    assert (first.imported, first.rejected) == (1, 1)
    later = new_card(db, ctx, msisdn="+6281277777777")
    package = buy(db, later, "DATA-1GB-7D", now - timedelta(days=1))
    again = run_import(db, ctx, path)
    assert (again.imported, again.duplicates, again.rejected) == (1, 1, 0)
    assert used(db, package) == 9


def test_a_file_that_is_not_usage_records_is_refused_before_anything_is_written(
    db: Database, ctx: Context, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "wrong.csv", [("a", "b", "c")], header=["id", "number", "when"])
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(ImportFileError, match="record_id, msisdn, bytes, recorded_at missing"):
        import_usage(db, ctx, path, rejects_path=rejects)
    assert not rejects.exists()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert run_import(db, ctx, empty).read == 0


def test_csv_columns_may_come_in_any_order_with_others_beside_them(
    db: Database, ctx: Context, card: CardRef, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    package = buy(db, card, "DATA-1GB-7D", now - timedelta(days=1))
    path = tmp_path / "export.txt"  # no telling extension: sniffed as CSV
    path.write_bytes(
        "\ufeffBytes,Card,Recorded_At,apn,Record_ID\r\n"
        f'42,{card.msisdn},{rfc3339(now)},"internet, default",x-1\r\n'
        "\r\n".encode()
    )
    summary = run_import(db, ctx, path)
    assert (summary.imported, summary.rejected) == (1, 0)
    assert used(db, package) == 42
    assert [r.session_id for r in usage_rows(db, card)] == [None]


def test_the_import_matches_charging_record_by_record(
    db: Database, ctx: Context, tmp_path: Path
) -> None:
    """The batched draw is `QuotaBook.charge`'s rule: two cards with the same packages,
    one charged by import, one by `charge` per record, end with the same packages."""
    now = ctx.clock.now()
    imported, charged = new_card(db, ctx), new_card(db, ctx)
    start = now - timedelta(days=8)
    # (plan, bought on day, reserved MB): the first expires 23 days before the others.
    plans = [("DATA-1GB-7D", 0, 300), ("DATA-5GB-30D", 1, 200), ("DATA-20GB-30D", 2, 0)]
    package_ids: dict[int, list[int]] = {imported.id: [], charged.id: []}
    for c in (imported, charged):
        for index, (plan, days, _) in enumerate(plans):
            package_ids[c.id].append(
                buy(db, c, plan, start + timedelta(days=days), data_bytes=(index + 1) * 400 * MB)
            )
    with db.unit_of_work() as s:
        for c in (imported, charged):
            for package_id, (_, _, reserved_mb) in zip(package_ids[c.id], plans, strict=True):
                s.execute(
                    update(Package)
                    .where(Package.id == package_id)
                    .values(quota_reserved_bytes=reserved_mb * MB)
                )
    rng = random.Random(3)
    records = []
    for i in range(120):
        at = start + timedelta(days=2, minutes=rng.randint(0, 8 * 24 * 60 - 3000))
        records.append((f"m-{i}", imported.msisdn, "", rng.randint(0, 15 * MB), rfc3339(at)))
    run_import(db, ctx, write_csv(tmp_path / "m.csv", records), batch_size=16, window=50)
    for _, _, _, nbytes, written in records:
        with db.unit_of_work() as s:
            charge_card(s, charged.id, nbytes, datetime.fromisoformat(written), source="radius")
    assert [used(db, p) for p in package_ids[imported.id]] == [
        used(db, p) for p in package_ids[charged.id]
    ]
    with db.unit_of_work(write=False) as s:
        recorded = dict(
            s.execute(
                select(UsageRecord.package_id, func.sum(UsageRecord.bytes))
                .where(UsageRecord.package_id.is_not(None))
                .group_by(UsageRecord.package_id)
            ).all()
        )
    for mine, theirs in zip(package_ids[imported.id], package_ids[charged.id], strict=True):
        assert recorded.get(mine, 0) == recorded.get(theirs, 0) == used(db, mine)


def test_a_large_file_imports_in_many_transactions(
    db: Database, ctx: Context, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    cards = [new_card(db, ctx) for _ in range(20)]
    for c in cards:
        buy(db, c, "DATA-20GB-30D", now - timedelta(days=1), data_bytes=10**13)
    rng = random.Random(11)
    n = 50_000
    since = now - timedelta(hours=20)
    rows = (
        (
            f"big-{i:06d}",
            cards[rng.randrange(20)].msisdn,
            f"s-{i % 97}",
            rng.randint(0, 5 * MB),
            (since + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        for i in range(n)
    )
    path = write_csv(tmp_path / "big.csv", rows)
    seen: list[tuple[int, int]] = []
    summary = run_import(
        db, ctx, path, window=20_000, batch_size=3000, progress=lambda d, t: seen.append((d, t))
    )
    assert (summary.read, summary.imported, summary.rejected) == (n, n, 0)
    size = path.stat().st_size
    assert seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) > 10
    with db.unit_of_work(write=False) as s:
        package_used = s.execute(select(func.sum(Package.quota_used_bytes))).scalar_one()
        recorded = s.execute(select(func.sum(UsageRecord.bytes))).scalar_one()
        claims = s.execute(select(func.count()).select_from(ImportedRecord)).scalar_one()
    assert package_used == recorded == summary.charged_bytes
    assert summary.uncharged_bytes == 0
    assert claims == n


def test_rich_progress_is_a_progress_callback(tmp_path: Path) -> None:
    with importer.rich_progress(100) as advance:
        advance(50, 100)
        advance(100, 100)
