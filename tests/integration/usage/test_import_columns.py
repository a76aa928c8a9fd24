"""The column reader (`import_columns`) against the row reader (`import_rows`): any plain
CSV file, good rows and bad mixed, charges the same and rejects the same rows with the
same reasons, whichever reads it.

Two databases start equal; every generated file is imported into one by column and
into the other row by row, and what changed in each must be the same."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kuota.cards.models import Card
from kuota.catalog import service as catalog
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.usage import service as usage
from kuota.usage.import_columns import is_plain
from kuota.usage.importer import import_usage
from kuota.usage.models import Package, UsageRecord

from conftest import PG_ADMIN_URL, pg_url
from factories import make_card, make_subscriber, publish_demo_plans

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # the tests' clock (conftest)
CARDS = ("+6281100000001", "+6281100000002", "+6281100000003")
UNREGISTERED = "+6281199999999"


def new_card(db: Database, ctx: Context, msisdn: str) -> int:
    with db.unit_of_work() as s:
        if s.execute(select(Card.id)).first() is None:
            publish_demo_plans(s, ctx)
        make_card(s, ctx, make_subscriber(s, ctx), msisdn=msisdn)
        return int(s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one())


def buy(db: Database, card_id: int, plan_code: str, at: datetime, data_bytes: int) -> None:
    with db.unit_of_work() as s:
        plan = catalog.current_plan(s, plan_code)
        usage.add_purchase(
            s,
            card_id=card_id,
            plan_code=plan.code,
            plan_version_id=plan.id,
            data_bytes=data_bytes,
            validity_days=plan.validity_days,
            now=at,
        )


@dataclass
class Twins:
    backend: Any
    pristine: str  # the database every example starts from, twice
    ctx: Context
    folder: Path
    files: Iterator[int]

    def pair(self) -> list[tuple[str, Database]]:
        """Two fresh copies of the pristine database."""
        copies = []
        for _ in range(2):
            n = next(self.files)
            if self.backend.name == "sqlite":
                target = self.folder / f"copy-{n}.db"
                shutil.copyfile(self.pristine.removeprefix("sqlite:///"), target)
                url = f"sqlite:///{target}"
            else:
                name = f"{self.pristine.rsplit('/', 1)[1]}_{n}"
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(
                        f'CREATE DATABASE "{name}" TEMPLATE "{self.pristine.rsplit("/", 1)[1]}"'
                    )
                url = pg_url(name)
            copies.append((url, Database(url, pool_size=5)))
        return copies


@pytest.fixture
def twins(backend: Any, ctx: Context, tmp_path: Path) -> Iterator[Twins]:
    """A database with three cards, with packages that start, end and run out while the
    generated records are used (so records are drawn one by one too)."""
    assert ctx.clock.now() == T0
    url = backend.fresh_url(tmp_path)
    db = Database(url, pool_size=5)
    plenty, short, changing = (new_card(db, ctx, number) for number in CARDS)
    buy(db, plenty, "DATA-20GB-30D", T0 - timedelta(days=2), 10**12)
    buy(db, short, "DATA-5GB-30D", T0 - timedelta(days=2), 3_000)
    buy(db, changing, "DATA-5GB-30D", T0 - timedelta(days=30, hours=1), 10**6)
    buy(db, changing, "DATA-20GB-30D", T0 - timedelta(minutes=30), 10**6)
    db.dispose()
    yield Twins(backend, url, ctx, tmp_path, count())
    backend.drop(url)


def _t(seconds: int, offset_hours: int) -> str:
    """A time in the two hours before the clock's now, written at a UTC offset."""
    moment = T0 - timedelta(hours=2) + timedelta(seconds=seconds, microseconds=seconds * 7)
    zone = timezone(timedelta(hours=offset_hours))
    text = moment.astimezone(zone).isoformat()
    return text.replace("+00:00", "Z") if offset_hours == 0 else text


good_time = st.builds(_t, st.integers(0, 7_100), st.sampled_from([0, 0, 7, -3]))
field = {
    "record_id": st.sampled_from(["", " x", "id é", "a" * 121, "dup-1"]),
    "msisdn": st.sampled_from([*CARDS, "081100000001", " +6281100000002", UNREGISTERED, "12", ""]),
    "session_id": st.sampled_from(["", "s-1", "s-2", " s", "é", "s" * 121]),
    "bytes": st.one_of(
        st.integers(0, 5_000).map(str),
        st.sampled_from(["", "-1", "1.5", "1e3", " 10", "12345678901234", "99999999999999"]),
    ),
    "recorded_at": st.one_of(
        good_time,
        st.sampled_from(
            [
                "2026-02-30T10:00:00Z",
                "2026-11-25 03:00:00Z",
                "2026-11-25T03:00:00",
                "2026-11-25T03:00:00z",
                "2026-11-25T03:00:00.1234567Z",
                "2026-11-25T03:00:00+07:00",
                "2027-01-01T00:00:00Z",
                "0000-01-01T00:00:00Z",
                "0001-01-01T00:00:00+01:00",
                "0999-12-31T23:00:00Z",
                "9999-12-31T23:00:00-02:00",
                "yesterday",
            ]
        ),
    ),
}


@st.composite
def rows(draw: st.DrawFn) -> list[str]:
    """Lines of a CSV body: mostly good rows, some with one field gone wrong, some with
    the wrong number of fields, some blank."""
    lines = []
    for n in range(draw(st.integers(0, 40))):
        values = {
            "record_id": f"r-{n}",
            "msisdn": draw(st.sampled_from(CARDS)),
            "session_id": draw(st.sampled_from(["s-1", "s-2", ""])),
            "bytes": str(draw(st.integers(0, 2_000))),
            "recorded_at": draw(good_time),
        }
        kind = draw(st.integers(0, 9))
        if kind == 0:  # one or two fields gone wrong (an unknown card among them, say)
            for name in draw(st.lists(st.sampled_from(sorted(field)), min_size=1, max_size=2)):
                values[name] = draw(field[name])
        line = ",".join(
            values[name] for name in ("record_id", "msisdn", "session_id", "bytes", "recorded_at")
        )
        if kind == 1:
            line = draw(st.sampled_from(["", line + ",extra", line.rsplit(",", 1)[0]]))
        lines.append(line)
    return lines


def _state(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each package's use, and each card's usage per package (None: uncharged) in total;
    how many usage rows carry it depends on the windows, which the readers count apart
    (blank lines)."""
    with db.unit_of_work(write=False) as s:
        packages = s.execute(
            select(Package.card_id, Package.plan_code, Package.quota_used_bytes).order_by(
                Package.id
            )
        ).all()
        records = s.execute(
            select(
                UsageRecord.card_id,
                UsageRecord.package_id,
                func.sum(UsageRecord.bytes),
                func.sum(UsageRecord.uncharged_bytes),
                func.max(UsageRecord.recorded_at),
            )
            .group_by(UsageRecord.card_id, UsageRecord.package_id)
            .order_by(UsageRecord.card_id, UsageRecord.package_id)
        ).all()
    return [tuple(p) for p in packages], [tuple(r) for r in records]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=rows(), crlf=st.booleans(), bom=st.booleans(), window=st.integers(1, 50))
def test_the_column_reader_charges_and_rejects_as_the_row_reader(
    twins: Twins, body: list[str], crlf: bool, bom: bool, window: int
) -> None:
    _compare(twins, body, crlf=crlf, bom=bom, window=window)


@pytest.mark.parametrize(
    "line",
    [
        "r-1,+6281199999999,s,,2026-11-25T01:00:00Z",  # unknown card and no bytes
        "r-1,+6281199999999,s,5,2026-11-25T01:00:00Z",
        "r-1,+6281100000001,s,5,0000-01-01T00:00:00Z",
        "r-1,+6281100000001,s,5,0001-01-01T00:00:00+01:00",
        "r-1,+6281100000001,s,5,9999-12-31T23:00:00-02:00",
    ],
)
def test_rows_found_wrong_twice_get_one_reason_whichever_reads_them(
    twins: Twins, line: str
) -> None:
    # The same number again in a later window: looked up by then.
    _compare(twins, [line, line.replace("r-1", "r-2")], crlf=False, bom=False, window=1)


def _compare(twins: Twins, body: list[str], *, crlf: bool, bom: bool, window: int) -> None:
    n = next(twins.files)
    end = "\r\n" if crlf else "\n"
    text = end.join(["record_id,msisdn,session_id,bytes,recorded_at", *body]) + end
    path = twins.folder / f"usage-{n}.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.replace("r-", f"f{n}-").encode())
    assert is_plain(path)
    results = []
    for (url, db), by_column in zip(twins.pair(), (True, False), strict=True):
        rejects = path.with_suffix(f".{by_column}.rejects.csv")
        summary = import_usage(
            db,
            twins.ctx,
            path,
            rejects_path=rejects,
            window=window,
            batch_size=max(1, window // 3),
            by_column=by_column,
        )
        results.append(
            (replace(summary, seconds=0.0), rejects.read_text(encoding="utf-8"), _state(db))
        )
        db.dispose()
        twins.backend.drop(url)
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    assert results[0][2][0] == results[1][2][0]
    assert results[0][2][1] == results[1][2][1]


def test_a_file_with_quotes_or_lone_carriage_returns_is_read_row_by_row(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"record_id,msisdn,bytes,recorded_at\r\na,1,2,3\r\n")
    assert is_plain(plain)
    for name, content in {
        "quoted.csv": b'record_id,msisdn,bytes,recorded_at\n"a",1,2,3\n',
        "cr.csv": b"record_id,msisdn,bytes,recorded_at\ra,1,2,3\r",
        "nul.csv": b"record_id,msisdn,bytes,recorded_at\na\x00,1,2,3\n",
        "blank-first.csv": b"\nrecord_id,msisdn,bytes,recorded_at\na,1,2,3\n",
    }.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert not is_plain(path), name


def test_a_carriage_return_at_a_block_end_pairs_with_the_line_feed_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuota.usage import import_columns

    monkeypatch.setattr(import_columns, "BLOCK", 8)
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"record_id,msisdn,bytes,recorded_at\r\n" + b"abc,1,2,3\r\n" * 5)
    assert is_plain(path)
    path.write_bytes(b"record_id,msisdn,bytes,recorded_at\r\n" + b"abc,1,2,3\r" * 5)
    assert not is_plain(path)


def test_the_times_the_column_reader_takes_are_the_instants_the_row_reader_reads() -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from kuota.usage.import_columns import _INSTANT, instant

    texts = [
        "2026-11-25T03:00:00Z",
        "2026-11-25T03:00:00.5Z",
        "2026-11-25T10:00:00.123456+07:00",
        "2026-12-31T23:59:59-03:30",
        "2024-02-29T12:00:00+00:00",
    ]
    micros = pc.cast(pc.cast(pa.array(texts), _INSTANT), pa.int64()).to_pylist()
    for text, value in zip(texts, micros, strict=True):
        assert instant(value) == datetime.fromisoformat(text).astimezone(UTC)
