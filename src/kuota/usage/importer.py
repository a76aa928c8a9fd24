"""Bulk import of usage records from a file: `kuota import-usage FILE`.

File formats (UTF-8; a byte-order mark is tolerated; blank lines are skipped):

- **CSV** (RFC 4180 quoting) whose first line is a header naming the columns, in
  any order (other columns are ignored)::

      record_id,msisdn,session_id,bytes,recorded_at
      gw1-000001,+6281100000001,sess-42,1048576,2026-11-25T10:00:00+07:00

- **JSON lines**: one object per line with the same keys::

      {"record_id": "gw1-000001", "msisdn": "+6281100000001", "bytes": 1048576, …}

The extension decides (``.csv``; ``.jsonl``, ``.ndjson``, ``.json``), otherwise the
first character (``{`` is JSON lines).

- ``record_id``: the record's unique id from the network element, required, at most
  120 characters. The import is idempotent by it: an id imported before (by an
  earlier run, or by a run that crashed half-way) is a duplicate and charges
  nothing. The same id twice in one file is a bad row (the first one counts).
- ``msisdn`` (alias ``card``): the card's number in any form `normalize_msisdn`
  takes; the card must be registered.
- ``session_id``: optional, at most 120 characters.
- ``bytes``: a whole number from 0 to 10^13 (CSV: ASCII digits; JSON: an integer or
  a string of digits). ``1.5``, ``1e3`` and ``-1`` are bad rows.
- ``recorded_at``: when the bytes were used, RFC 3339 with an offset
  (``2026-11-25T03:00:00Z``, ``…+07:00``), at most five minutes ahead of the clock.

A bad row never stops the import and changes nothing: it goes to the rejects file
(CSV ``line,record_id,reason,row``; ``row`` as it was in the file) with a reason a
person can act on. A row whose card is not registered is rejected and its id not
kept, so importing the file again once the card exists charges it.

Charging. Each record draws from the card's packages that were active when it was
used (``starts_at <= recorded_at < expires_at``), earliest expiry first, by
`charging.QuotaBook.charge`'s rule: quota no open session holds first, then reserved quota;
what is left over is recorded as uncharged, never below zero. The record's time,
not the clock, decides: usage belongs to the package that was active when it was
used, so a file imported days late still charges the packages of its day, and use
from before a package was bought never does. A card's records are charged in file
order.

Speed. The file is read `window` records at a time (a plain CSV file by column, see
`import_columns`; any other row by row, `import_rows`), in a thread while the window
before is charged. A window's record ids are claimed first, in one sorted insert
(`import_claims.open_window`; ids claimed before are duplicates), then its records are
grouped by card and charged in transactions of about `batch_size` records, whole cards
each. A transaction locks its cards (PostgreSQL, in card-number order, as credit
control and RADIUS do, so they never deadlock), reads their packages in one query,
draws the records (a card's records as one draw when that is what drawing them one by
one gives, `_drawn_as_one`), writes one update per package drawn from and one
`UsageRecord` per card and package (and one for uncharged bytes), each set in one
statement (`bulk_writes`), and notes its cards as charged for the window. ``bytes``
is the total of the card's records in the window, ``recorded_at`` the latest record's
time, ``session_id`` the records' session when they share one. The per-record trail
is the file with its record ids (`ImportedRecord`). A run that stops mid-window leaves
claims of cards it never charged; the next import gives them back before it claims
anything (`import_claims.give_back`), so re-running the file charges each record
exactly once. One import runs at a time per database. Memory: the window, plus about
100 bytes per record id of the file (to find ids repeated within it).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kuota.cards.models import Card
from kuota.core.clock import Clock
from kuota.core.concurrency import read_ahead
from kuota.core.context import Context
from kuota.core.db import Database, fetch_rows
from kuota.core.sql import in_list
from kuota.usage.bulk_writes import UsageRow, add_usage, draw_packages
from kuota.usage.import_claims import (
    close_window,
    give_back,
    import_lock,
    mark_charged,
    open_window,
)
from kuota.usage.import_columns import (
    TABLE,
    ColumnWindow,
    instant,
    is_plain,
    micros,
    plain_windows,
)
from kuota.usage.import_rows import (
    FUTURE_TOLERANCE,
    CardIndex,
    ImportFileError,
    Reject,
    Row,
    RowChecker,
    as_text,
    is_json_lines,
    read_windows,
)
from kuota.usage.models import Package

__all__ = ["ImportFileError", "ImportSummary", "import_usage", "rich_progress"]

Progress = Callable[[int, int], None]  # (bytes of the file done, bytes in the file)

SOURCE: Final = "import"
REJECTS_HEADER: Final = ("line", "record_id", "reason", "row")
MAX_WINDOW: Final = 500_000  # keeps a card's total in a window well inside BIGINT

_LOCK_CARDS = (
    select(Card.id)
    .where(in_list(Card.id, "card_ids"))
    .order_by(Card.msisdn)  # the order credit control and RADIUS lock them in
    .with_for_update()
)
# Packages that can be drawn from by some record of the window: active at some time
# between its first and last record, with quota left.
_PACKAGES = (
    select(
        Package.id,
        Package.card_id,
        Package.quota_total_bytes,
        Package.quota_used_bytes,
        Package.quota_reserved_bytes,
        Package.starts_at,
        Package.expires_at,
    )
    .where(
        in_list(Package.card_id, "card_ids"),
        Package.expires_at > bindparam("first"),
        Package.starts_at <= bindparam("last"),
        Package.quota_used_bytes < Package.quota_total_bytes,
    )
    .order_by(Package.card_id, Package.expires_at, Package.id)
)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    read: int  # data rows in the file
    imported: int  # charged by this run (fully, partly or not at all for lack of quota)
    duplicates: int  # imported before: charged nothing now
    rejected: int  # bad rows, each in the rejects file
    charged_bytes: int
    uncharged_bytes: int  # used beyond what the cards had left
    seconds: float

    @property
    def records_per_s(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


def import_usage(
    db: Database,
    ctx: Context,
    path: Path,
    *,
    rejects_path: Path,
    progress: Progress | None = None,
    batch_size: int = 5000,
    window: int = 200_000,
    by_column: bool = True,
) -> ImportSummary:
    """Import a file of usage records, charging each record exactly once however often
    the file is imported; bad rows go to `rejects_path` and change nothing.

    Transactions hold about `batch_size` records (whole cards); `window` records are
    read and grouped by card before charging, so a card's records cost one package
    update and one usage row per window. A plain CSV file is read by column
    (`import_columns`) unless `by_column` is False; any other file, row by row
    (`import_rows`), with the same verdicts. Raises `ImportFileError`, before anything
    is written, when the file cannot be read as usage records at all (a CSV header
    without the required columns)."""
    if not 1 <= batch_size <= window <= MAX_WINDOW:
        raise ValueError(f"need 1 <= batch_size <= window <= {MAX_WINDOW}")
    started = time.perf_counter()
    total_bytes = path.stat().st_size
    cards = CardIndex(db)
    checker = RowChecker(cards, latest_allowed=ctx.clock.now() + FUTURE_TOLERANCE)
    charger = _Charger(db, ctx, cards, batch_size)
    rejected = 0
    with path.open("rb") as raw:
        windows = _windows(path, raw, checker, cards, window, by_column)  # header checked
        with import_lock(db):
            give_back(db)  # what a stopped run claimed and never charged
            with (
                rejects_path.open("w", encoding="utf-8", newline="") as rejects_file,
                closing(_claimed_ahead(db, ctx.clock, windows)) as ahead,
            ):
                rejects = csv.writer(rejects_file)
                rejects.writerow(REJECTS_HEADER)
                done = 0
                for claimed in ahead:
                    bad, read_to = claimed.bad, claimed.read_to

                    def step(fraction: float, start: int = done, end: int = read_to) -> None:
                        if progress is not None:
                            progress(start + int((end - start) * fraction), total_bytes)

                    charger.charge(claimed, step)
                    bad.sort(key=lambda reject: reject[0])
                    rejects.writerows(
                        (line, record_id, reason, as_text(original))
                        for line, record_id, reason, original in bad
                    )
                    rejects_file.flush()
                    rejected += len(bad)
                    done = read_to
    if progress is not None:
        progress(total_bytes, total_bytes)
    return ImportSummary(
        read=charger.imported + charger.duplicates + rejected,
        imported=charger.imported,
        duplicates=charger.duplicates,
        rejected=rejected,
        charged_bytes=charger.charged_bytes,
        uncharged_bytes=charger.uncharged_bytes,
        seconds=time.perf_counter() - started,
    )


def _windows(
    path: Path,
    raw: Any,
    checker: RowChecker,
    cards: CardIndex,
    size: int,
    by_column: bool,
) -> Generator[tuple[pa.Table, list[Reject], int], None, None]:
    """The file's windows: each one's good rows (a `TABLE`), its bad rows, and how far
    into the file it ends. A CSV header is read and checked at once."""
    windows: Iterator[ColumnWindow]
    if by_column and not is_json_lines(path, raw) and is_plain(path):
        windows = plain_windows(raw, checker, cards, size)
    else:
        empty = TABLE.empty_table()
        rows_read = read_windows(path, raw, checker, size)
        windows = ((empty, rows, bad, read_to) for rows, bad, read_to in rows_read)
    return (_merged(window, cards) for window in windows)


@dataclass(slots=True)
class _Claimed:
    """A window whose record ids are claimed (`import_claims.open_window`)."""

    window_id: int | None  # None: the window has no good rows
    new: pa.Table  # its records not imported before (a `TABLE`)
    duplicates: int  # its records imported before
    bad: list[Reject]
    read_to: int


def _claimed_ahead(
    db: Database, clock: Clock, windows: Generator[tuple[pa.Table, list[Reject], int], None, None]
) -> Generator[_Claimed, None, None]:
    """The windows, read in a thread ahead of the charging (`read_ahead`), their ids
    claimed: on PostgreSQL in that thread too, so that the server inserts one window's
    claims while the one before is charged; on SQLite here, just before the window is
    charged (its one writer would only make the two wait for each other: measured, a
    tenth slower)."""
    if db.is_sqlite:
        return _claimed(db, clock, read_ahead(windows))
    return read_ahead(_claimed(db, clock, windows))


def _claimed(
    db: Database, clock: Clock, windows: Generator[tuple[pa.Table, list[Reject], int], None, None]
) -> Generator[_Claimed, None, None]:
    """Each window with its ids claimed. Closing it closes `windows` (and so stops a
    thread reading ahead before the file is closed)."""
    with closing(windows):
        for table, bad, read_to in windows:
            if not table.num_rows:
                yield _Claimed(None, table, 0, bad, read_to)
                continue
            by_id = table.take(pc.sort_indices(table.column("record_id")))
            window_id, new_ids = open_window(
                db,
                by_id.column("record_id").to_pylist(),
                by_id.column("card_id").to_pylist(),
                clock.now(),
            )
            new = table
            if new_ids is not None:
                fresh = pa.array(sorted(new_ids), pa.string())
                new = table.filter(pc.is_in(table.column("record_id"), value_set=fresh))
            yield _Claimed(window_id, new, table.num_rows - new.num_rows, bad, read_to)


def _merged(window: ColumnWindow, cards: CardIndex) -> tuple[pa.Table, list[Reject], int]:
    plain, rows, bad, read_to = window
    table = _as_table(rows, cards, bad)
    if plain.num_rows:
        table = pa.concat_tables([plain, table]) if table.num_rows else plain
    return table, bad, read_to


def _as_table(rows: list[Row], cards: CardIndex, bad: list[Reject]) -> pa.Table:
    """Rows checked one by one, as a table like the column reader's; a row whose card is
    not registered goes to `bad` instead."""
    if not rows:
        return TABLE.empty_table()
    cards.resolve({row[2] for row in rows if row[6] is not None})
    card_ids = cards.ids
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
    line, record_id, card, session_id, nbytes, at = columns
    for row in rows:
        card_id = card_ids.get(row[2])
        if card_id is None:
            bad.append((row[0], row[1], f"no card {row[2]} is registered", row[6]))
            continue
        line.append(row[0])
        record_id.append(row[1])
        card.append(card_id)
        session_id.append(row[3])
        nbytes.append(row[4])
        at.append(micros(row[5]))
    return pa.table(list(columns), schema=TABLE)


@contextmanager
def rich_progress(total_bytes: int, *, description: str = "importing") -> Iterator[Progress]:
    """A rich progress bar over the file's bytes, to pass as `import_usage`'s `progress`."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task(description, total=total_bytes)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


# --- charging ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Package:
    id: int
    total: int
    used: int
    reserved: int
    starts_at: datetime
    expires_at: datetime


class _Charger:
    """Charges a window's rows, in transactions of whole cards; keeps the totals."""

    def __init__(self, db: Database, ctx: Context, cards: CardIndex, batch_size: int) -> None:
        self.db = db
        self.ctx = ctx
        self.cards = cards
        self.batch_size = batch_size
        self.postgres = not db.is_sqlite
        self.imported = self.duplicates = 0
        self.charged_bytes = self.uncharged_bytes = 0

    def charge(self, window: _Claimed, step: Callable[[float], None]) -> None:
        """Charge a claimed window's new records, in transactions of whole cards."""
        if window.window_id is None:
            return
        table = window.new
        self.imported += table.num_rows
        self.duplicates += window.duplicates
        # A card's rows together, in file order; the cards in id order.
        table = table.sort_by([("card_id", "ascending"), ("line", "ascending")])
        counts = pc.value_counts(table.column("card_id")).field("counts").to_pylist()
        start = size = 0
        for count in counts:
            size += count
            if size >= self.batch_size:
                self._charge_cards(window.window_id, table.slice(start, size))
                start += size
                size = 0
                step(start / table.num_rows)
        if size:
            self._charge_cards(window.window_id, table.slice(start, size))
        close_window(self.db, window.window_id)

    def _charge_cards(self, window_id: int, rows: pa.Table) -> None:
        """One transaction: charge the cards' records, and note the cards as charged."""
        with self.db.unit_of_work() as session:
            mark_charged(session, window_id, pc.unique(rows.column("card_id")).to_pylist())
            rows = rows.filter(pc.greater(rows.column("bytes"), 0))  # 0 bytes: nothing to draw
            if rows.num_rows:
                charged, uncharged = self._draw_and_write(session, rows)
            else:
                charged = uncharged = 0
        self.charged_bytes += charged
        self.uncharged_bytes += uncharged

    def _draw_and_write(self, session: Session, rows: pa.Table) -> tuple[int, int]:
        """Charge rows of some bytes each, sorted by card and line."""
        per_card = rows.group_by("card_id", use_threads=False).aggregate(
            [
                ("bytes", "sum"),
                ("at", "min"),
                ("at", "max"),
                ("session_id", "count_distinct", pc.CountOptions(mode="all")),
                ("session_id", "min"),
            ]
        )
        card_ids = per_card.column("card_id").to_pylist()
        if self.postgres:
            # In card-number order: credit control and RADIUS lock theirs in that order
            # too, so no two transactions ever wait on each other in a circle.
            fetch_rows(session, _LOCK_CARDS, {"card_ids": card_ids})
        at = rows.column("at")
        window = {
            "card_ids": card_ids,
            "first": instant(pc.min(at).as_py()),
            "last": instant(pc.max(at).as_py()),
        }
        packages: dict[int, list[_Package]] = {}
        for package_id, card_id, total, used, reserved, starts, expires in fetch_rows(
            session, _PACKAGES, window
        ):
            package = _Package(package_id, total, used, reserved, starts, expires)
            packages.setdefault(card_id, []).append(package)
        uses: dict[int, list[_Use]] = {}
        one_by_one: list[int] = []
        no_packages: list[_Package] = []
        for card_id, total, first, last, sessions, session_id in zip(
            card_ids,
            *(
                per_card.column(name).to_pylist()
                for name in (
                    "bytes_sum",
                    "at_min",
                    "at_max",
                    "session_id_count_distinct",
                    "session_id_min",
                )
            ),
            strict=True,
        ):
            last_at = instant(last)
            card_packages = packages.get(card_id, no_packages)
            if _drawn_as_one(card_packages, total, instant(first), last_at):
                uses[card_id] = [(session_id if sessions == 1 else None, total, last_at)]
            else:
                one_by_one.append(card_id)
        if one_by_one:
            uses.update(_uses_of(rows, one_by_one))
        draws = _draw(uses, packages)
        if draws.taken and draw_packages(session, draws.taken) != len(draws.taken):
            # Cannot happen under the card locks; if it does, the batch rolls back.
            raise RuntimeError("a package changed during the import; the batch is undone")
        if draws.usage:
            add_usage(session, SOURCE, draws.usage)
        return draws.charged, draws.uncharged


# A record's use as `_draw` takes it: (session id, bytes, recorded_at).
_Use = tuple[str | None, int, datetime]


def _drawn_as_one(
    packages: Sequence[_Package], total: int, first: datetime, last: datetime
) -> bool:
    """Whether a card's records, used between `first` and `last`, draw what one record of
    their `total` at `last` would: every package is active throughout or not at all, and
    all of it comes from the one package the first record would draw from (or from none:
    no package has quota left). Then `_draw` need not see them one by one."""
    unreserved = reserved = None
    for package in packages:
        if package.starts_at <= first and last < package.expires_at:
            left = package.total - package.used
            if unreserved is None and left - package.reserved > 0:
                unreserved = left - package.reserved
            if reserved is None and left > 0:
                reserved = left
        elif not (package.expires_at <= first or last < package.starts_at):
            return False  # starts or ends while the records were used
    if unreserved is not None:
        return total <= unreserved
    return reserved is None or total <= reserved


def _uses_of(rows: pa.Table, card_ids: list[int]) -> dict[int, list[_Use]]:
    """The cards' records one by one, in file order."""
    mine = rows.filter(pc.is_in(rows.column("card_id"), value_set=pa.array(card_ids, pa.int64())))
    uses: dict[int, list[_Use]] = {}
    for card_id, session_id, nbytes, at in zip(
        *(mine.column(name).to_pylist() for name in ("card_id", "session_id", "bytes", "at")),
        strict=True,
    ):
        uses.setdefault(card_id, []).append((session_id, nbytes, instant(at)))
    return uses


@dataclass(slots=True)
class _Draws:
    taken: dict[int, int]  # package id → bytes drawn from it
    usage: list[UsageRow]  # usage_records rows
    charged: int
    uncharged: int


def _draw(by_card: dict[int, list[_Use]], packages: dict[int, list[_Package]]) -> _Draws:
    """Draw each card's records, in order, from its packages active at the record's time,
    earliest expiry first (`packages` are in that order): quota no session holds first,
    then reserved quota, as `charging.QuotaBook.charge` does. Sums what each package gave and
    what each card's records used per package (None: uncharged)."""
    taken: dict[int, int] = {}
    usage: list[UsageRow] = []
    charged = uncharged = 0
    none: list[_Package] = []
    for card_id, rows in by_card.items():
        card_packages = packages.get(card_id, none)
        # package id (None: uncharged) → [bytes, latest time, session id or None]
        per_package: dict[int | None, list[Any]] = {}
        for session_id, need, at in rows:
            if need == 0:
                continue
            for unreserved_only in (True, False):
                for package in card_packages:
                    if not package.starts_at <= at < package.expires_at:
                        continue
                    headroom = package.total - package.used
                    if unreserved_only:
                        headroom -= package.reserved
                    if headroom <= 0:
                        continue
                    take = need if need < headroom else headroom
                    package.used += take
                    need -= take
                    entry = per_package.get(package.id)
                    if entry is None:
                        per_package[package.id] = [take, at, session_id]
                    else:  # `_add`, inlined: this runs once per record
                        entry[0] += take
                        if at > entry[1]:
                            entry[1] = at
                        if entry[2] != session_id:
                            entry[2] = None
                    if need == 0:
                        break
                if need == 0:
                    break
            if need:
                entry = per_package.get(None)
                if entry is None:
                    per_package[None] = [need, at, session_id]
                else:
                    _add(entry, need, at, session_id)
        for package_id, (amount, latest, session_id) in per_package.items():
            if package_id is None:
                uncharged += amount
            else:
                charged += amount
                taken[package_id] = taken.get(package_id, 0) + amount
            if package_id is None:
                usage.append((card_id, None, session_id, 0, amount, latest))
            else:
                usage.append((card_id, package_id, session_id, amount, 0, latest))
    return _Draws(taken, usage, charged, uncharged)


def _add(entry: list[Any], amount: int, at: datetime, session_id: str | None) -> None:
    """Adds a record's draw to a package's [bytes, latest time, session id or None]."""
    entry[0] += amount
    if at > entry[1]:
        entry[1] = at
    if entry[2] != session_id:
        entry[2] = None
