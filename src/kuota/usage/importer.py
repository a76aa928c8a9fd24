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

Speed. The file is read `window` records at a time; a window's records are grouped
by card and charged in transactions of about `batch_size` records, whole cards
each. A transaction claims its record ids in one ``INSERT … SELECT`` from a JSON
array ``ON CONFLICT DO NOTHING`` (only when it inserts fewer rows than ids is it
repeated with ``RETURNING`` to learn which were there already), locks its cards
(PostgreSQL, in card-number order, as credit control and RADIUS do, so they never
deadlock), reads their packages in one query, draws every record in
Python, and writes one update per package drawn from and one `UsageRecord` per card
and package (and one for uncharged bytes): ``bytes`` is the total of the card's
records in the window, ``recorded_at`` the latest record's time, ``session_id`` the
records' session when they share one. The per-record trail is the file with its
record ids (`ImportedRecord`). Claims and charges commit together, so a crash
mid-file and a re-run charge each record exactly once. Memory: the window, plus
about 100 bytes per record id of the file (to find ids repeated within it).
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson
from sqlalchemy import String, bindparam, cast, func, insert, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kuota.cards.models import Card
from kuota.cards.rules import normalize_msisdn
from kuota.core.context import Context
from kuota.core.db import Database, UTCDateTime, run, table_of
from kuota.core.errors import InvalidInput
from kuota.usage.models import ImportedRecord, Package, UsageRecord
from kuota.usage.rules import MAX_REPORT_BYTES

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

Progress = Callable[[int, int], None]  # (bytes of the file done, bytes in the file)

SOURCE: Final = "import"
REJECTS_HEADER: Final = ("line", "record_id", "reason", "row")
MAX_ID_LENGTH: Final = 120  # imported_usage_records.record_id, usage_records.session_id
MAX_WINDOW: Final = 500_000  # keeps a card's total in a window well inside BIGINT
FUTURE_TOLERANCE: Final = timedelta(minutes=5)  # network elements' clocks drift a little
_IN_CHUNK: Final = 1000  # values per IN (…), well under every driver's parameter limit
_REQUIRED = ("record_id", "msisdn", "bytes", "recorded_at")
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)

_CARDS_BY_NUMBER = select(Card.id, Card.msisdn).where(
    Card.msisdn.in_(bindparam("numbers", expanding=True))
)
_LOCK_CARDS = (
    select(Card.id)
    .where(Card.id.in_(bindparam("card_ids", expanding=True)))
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
        Package.card_id.in_(bindparam("card_ids", expanding=True)),
        Package.expires_at > bindparam("first"),
        Package.starts_at <= bindparam("last"),
        Package.quota_used_bytes < Package.quota_total_bytes,
    )
    .order_by(Package.card_id, Package.expires_at, Package.id)
)
_USE = (
    update(Package)
    .where(
        Package.id == bindparam("w_id"),
        Package.quota_used_bytes + bindparam("take") <= Package.quota_total_bytes,
    )
    .values(quota_used_bytes=Package.quota_used_bytes + bindparam("take"))
)
_RECORD = insert(table_of(UsageRecord))

# A transaction's record ids are claimed by one statement however many they are: they
# go in as one JSON array (one parameter, no per-id binding); the rows it inserted are
# the ids not imported before.
_imported = table_of(ImportedRecord)
_ids_pg = func.json_array_elements_text(cast(bindparam("ids", type_=String), postgresql.JSON))
_CLAIM_POSTGRESQL = (
    postgresql.insert(_imported)
    .from_select(
        ["record_id", "imported_at"],
        select(_ids_pg.table_valued("value").c.value, bindparam("at", type_=UTCDateTime())),
    )
    .on_conflict_do_nothing()
)
_json_ids = func.json_each(bindparam("ids", type_=String)).table_valued("value")
_CLAIM_SQLITE = (
    sqlite.insert(_imported)
    .from_select(
        ["record_id", "imported_at"],
        # `WHERE true`: SQLite's parser needs a WHERE before an upsert clause.
        select(_json_ids.c.value, bindparam("at", type_=UTCDateTime())).where(true()),
    )
    .on_conflict_do_nothing()
)
_CLAIMS = {  # (insert, insert returning the ids inserted)
    name: (
        claim.execution_options(preserve_rowcount=True),  # an INSERT's rowcount is opt-in
        claim.returning(_imported.c.record_id),
    )
    for name, claim in (("postgresql", _CLAIM_POSTGRESQL), ("sqlite", _CLAIM_SQLITE))
}


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


class ImportFileError(InvalidInput):
    """The file as a whole cannot be read as usage records; nothing was imported."""


def import_usage(
    db: Database,
    ctx: Context,
    path: Path,
    *,
    rejects_path: Path,
    progress: Progress | None = None,
    batch_size: int = 5000,
    window: int = 200_000,
) -> ImportSummary:
    """Import a file of usage records, charging each record exactly once however often
    the file is imported; bad rows go to `rejects_path` and change nothing.

    Transactions hold about `batch_size` records (whole cards); `window` records are
    read and grouped by card before charging, so a card's records cost one package
    update and one usage row per window. Raises `ImportFileError`, before anything is
    written, when the file cannot be read as usage records at all (a CSV header
    without the required columns)."""
    if not 1 <= batch_size <= window <= MAX_WINDOW:
        raise ValueError(f"need 1 <= batch_size <= window <= {MAX_WINDOW}")
    started = time.perf_counter()
    total_bytes = path.stat().st_size
    cards = _CardIndex(db)
    checker = _RowChecker(cards, latest_allowed=ctx.clock.now() + FUTURE_TOLERANCE)
    charger = _Charger(db, ctx, cards, batch_size)
    rejected = 0
    with path.open("rb") as raw:
        windows = _windows(path, raw, checker, window)  # checks a CSV header first
        with rejects_path.open("w", encoding="utf-8", newline="") as rejects_file:
            rejects = csv.writer(rejects_file)
            rejects.writerow(REJECTS_HEADER)
            done = 0
            for rows, bad, read_to in windows:

                def step(fraction: float, start: int = done, end: int = read_to) -> None:
                    if progress is not None:
                        progress(start + int((end - start) * fraction), total_bytes)

                bad.extend(charger.charge(rows, step))
                bad.sort(key=lambda reject: reject[0])
                rejects.writerows(
                    (line, record_id, reason, _as_text(original))
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


# --- reading and checking rows ---------------------------------------------------------

# A checked row: (line, record_id, E.164 number, session_id, bytes, recorded_at in UTC,
# the row as read). Plain tuples: a million of them are built per run.
_Row = tuple[int, str, str, str | None, int, datetime, Any]
# A bad row: (line, record_id as read, reason, the row as read).
_Reject = tuple[int, str, str, Any]
# A window: its rows, its bad rows, and how far into the file it ends (bytes).
_Window = tuple[list[_Row], list[_Reject], int]


class _BadRow(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _windows(
    path: Path, raw: io.BufferedReader, checker: _RowChecker, size: int
) -> Iterator[_Window]:
    """The file's rows, `size` at a time; a CSV header is read and checked at once."""
    suffix = path.suffix.lower()
    if suffix in _JSON_SUFFIXES or (
        suffix != ".csv" and raw.peek(64)[:64].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
    ):
        return _jsonl_windows(raw, checker, size)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    while header is not None and not header:  # blank lines before the header
        header = next(reader, None)
    if header is None:
        text.detach()
        return iter(())
    return _csv_windows(raw, text, reader, _columns(header), len(header), checker, size)


def _columns(header: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lower()
        key = "msisdn" if key == "card" else key
        if key in columns:
            raise ImportFileError(
                f"the CSV header names {key!r} twice (card is another name for msisdn)",
                field="header",
            )
        columns[key] = index
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise ImportFileError(
            "the CSV header must name the columns record_id, msisdn (or card), bytes, "
            f"recorded_at and optionally session_id; {', '.join(missing)} missing from "
            f"{','.join(header)!r}",
            field="header",
        )
    return columns


def _csv_windows(
    raw: io.BufferedReader,
    text: io.TextIOWrapper,
    reader: CsvReader,
    columns: dict[str, int],
    width: int,
    checker: _RowChecker,
    size: int,
) -> Iterator[_Window]:
    at_id, at_number, at_bytes, at_time = (columns[name] for name in _REQUIRED)
    at_session = columns.get("session_id")
    check = checker.check
    rows: list[_Row] = []
    bad: list[_Reject] = []
    for fields in reader:
        if not fields:
            continue
        line = reader.line_num
        if len(fields) != width:
            record_id = fields[at_id] if at_id < len(fields) else ""
            bad.append((line, record_id, f"{len(fields)} fields, the header has {width}", fields))
        else:
            try:
                rows.append(
                    check(
                        line,
                        fields[at_id],
                        fields[at_number],
                        None if at_session is None else fields[at_session],
                        fields[at_bytes],
                        fields[at_time],
                        fields,
                    )
                )
            except _BadRow as exc:
                bad.append((line, fields[at_id], exc.reason, fields))
        if len(rows) + len(bad) >= size:
            yield rows, bad, raw.tell()
            rows, bad = [], []
    if rows or bad:
        yield rows, bad, raw.tell()
    text.detach()  # the caller closes the file


def _jsonl_windows(raw: io.BufferedReader, checker: _RowChecker, size: int) -> Iterator[_Window]:
    check = checker.check
    rows: list[_Row] = []
    bad: list[_Reject] = []
    for line, text in enumerate(raw, start=1):
        if line == 1 and text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]
        if text.isspace() or not text:
            continue
        record_id = ""
        try:
            try:
                item = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise _BadRow(f"not valid JSON: {exc}") from None
            if type(item) is not dict:
                raise _BadRow("not a JSON object")
            record_id = _json_text(item, "record_id")
            nbytes = item.get("bytes")
            rows.append(
                check(
                    line,
                    record_id,
                    _json_text(item, "msisdn" if "msisdn" in item else "card"),
                    _json_text(item, "session_id"),
                    str(nbytes) if type(nbytes) is int else _json_bytes(nbytes),
                    _json_text(item, "recorded_at"),
                    text,
                )
            )
        except _BadRow as exc:
            bad.append((line, record_id, exc.reason, text))
        if len(rows) + len(bad) >= size:
            yield rows, bad, raw.tell()
            rows, bad = [], []
    if rows or bad:
        yield rows, bad, raw.tell()


def _json_text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if type(value) is str:
        return value
    if value is None:
        return ""
    if type(value) is int:
        return str(value)
    raise _BadRow(f"{key} is {orjson.dumps(value).decode()}, not text")


def _json_bytes(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    # 1.5, 1e3 (a float once parsed), true: none is a whole number of bytes as written.
    return orjson.dumps(value).decode()


class _RowChecker:
    """Checks one row's fields; remembers the file's record ids and numbers."""

    def __init__(self, cards: _CardIndex, latest_allowed: datetime) -> None:
        self.cards = cards
        self.latest_allowed = latest_allowed
        self.first_line_of: dict[str, int] = {}  # record id → the line it first came on
        self.msisdns: dict[str, str] = {}  # number as written → E.164
        self.bad_numbers: dict[str, str] = {}  # number as written → what is wrong with it

    def check(
        self,
        line: int,
        record_id: str,
        number: str,
        session_id: str | None,
        nbytes: str,
        recorded_at: str,
        original: Any,
    ) -> _Row:
        record_id = record_id.strip()
        if not record_id:
            raise _BadRow("record_id is empty")
        first = self.first_line_of.setdefault(record_id, line)
        if first != line:
            raise _BadRow(f"record_id {record_id!r} already appears on line {first}")
        if len(record_id) > MAX_ID_LENGTH or "\ufffd" in record_id:
            raise _BadRow(f"record_id must be UTF-8 text of at most {MAX_ID_LENGTH} characters")
        msisdn = self.msisdns.get(number)
        if msisdn is None:
            msisdn = self._normalized(number)
        if msisdn in self.cards.unknown:
            raise _BadRow(f"no card {msisdn} is registered")
        if session_id is not None:
            session_id = session_id.strip() or None
            if session_id is not None and (
                len(session_id) > MAX_ID_LENGTH or "\ufffd" in session_id
            ):
                raise _BadRow(
                    f"session_id must be UTF-8 text of at most {MAX_ID_LENGTH} characters"
                )
        if nbytes.isdigit() and nbytes.isascii() and len(nbytes) <= 13:
            used = int(nbytes)
        else:
            used = _bytes(nbytes)
        # The row as read is kept only while its card is still to be looked up, for the
        # rejects file if there is no such card; after the first window most cards are
        # known, and a million kept rows would cost memory and the garbage collector.
        if msisdn in self.cards.ids:
            original = None
        return (line, record_id, msisdn, session_id, used, self._moment(recorded_at), original)

    def _normalized(self, number: str) -> str:
        """E.164 for a number not seen before in the file (normalising costs 30 µs)."""
        reason = self.bad_numbers.get(number)
        if reason is None:
            try:
                if not number.strip():
                    raise InvalidInput("msisdn is empty: the card's number is required")
                self.msisdns[number] = msisdn = normalize_msisdn(number)
                return msisdn
            except InvalidInput as exc:
                reason = self.bad_numbers[number] = exc.detail
        raise _BadRow(reason)

    def _moment(self, text: str) -> datetime:
        if not _RFC3339.fullmatch(text):
            text = text.strip()
            if not _RFC3339.fullmatch(text):
                raise _BadRow(_time_problem(text))
        if text[10] != "T" or text[-1] == "z":
            text = text.upper().replace(" ", "T")  # as fromisoformat wants them
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise _BadRow(f"recorded_at {text!r} is not a valid date and time: {exc}") from None
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        if moment > self.latest_allowed:
            now = self.latest_allowed - FUTURE_TOLERANCE
            raise _BadRow(f"recorded_at {text!r} is in the future: it is {now:%Y-%m-%dT%H:%M:%SZ}")
        return moment


def _bytes(text: str) -> int:
    value = text.strip()
    if value.isdigit() and value.isascii():
        # Compared as text first: int() refuses numbers of thousands of digits.
        if len(value.lstrip("0")) > 14 or int(value) > MAX_REPORT_BYTES:
            raise _BadRow(f"bytes {value[:40]} is more than {MAX_REPORT_BYTES} in one record")
        return int(value)
    if not value:
        raise _BadRow("bytes is empty")
    if value[0] == "-" and value[1:].isdigit():
        raise _BadRow(f"bytes {value[:40]} is negative")
    raise _BadRow(f"bytes {value[:40]!r} is not a whole number (ASCII digits only: no 1.5, no 1e3)")


def _time_problem(text: str) -> str:
    if not text:
        return "recorded_at is empty"
    text = text[:40]
    try:
        naive = len(text) > 10 and datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        naive = False
    if naive:
        return f"recorded_at {text!r} has no UTC offset: add Z or one such as +07:00"
    return f"recorded_at {text!r} is not RFC 3339 (such as 2026-11-25T10:00:00+07:00)"


def _as_text(original: Any) -> str:
    """A rejected row as it was in the file: the CSV fields re-quoted, or the JSON line."""
    if isinstance(original, bytes):
        return original.decode("utf-8", "replace").rstrip("\r\n")
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(original)
    return out.getvalue()


# --- charging ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Package:
    id: int
    total: int
    used: int
    reserved: int
    starts_at: datetime
    expires_at: datetime


class _CardIndex:
    """Card ids by E.164 number, each number looked up once per import."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ids: dict[str, int] = {}
        self.unknown: set[str] = set()  # numbers of no registered card

    def resolve(self, numbers: set[str]) -> None:
        """Look up the numbers not seen before, 1000 to a query."""
        wanted = [n for n in numbers if n not in self.ids and n not in self.unknown]
        if not wanted:
            return
        with self.db.unit_of_work(write=False) as session:
            for chunk in _chunks(wanted):
                for card in run(session, _CARDS_BY_NUMBER, {"numbers": chunk}):
                    self.ids[card.msisdn] = card.id
        self.unknown.update(n for n in wanted if n not in self.ids)


class _Charger:
    """Charges a window's rows, in transactions of whole cards; keeps the totals."""

    def __init__(self, db: Database, ctx: Context, cards: _CardIndex, batch_size: int) -> None:
        self.db = db
        self.ctx = ctx
        self.cards = cards
        self.batch_size = batch_size
        self.postgres = not db.is_sqlite
        self.imported = self.duplicates = 0
        self.charged_bytes = self.uncharged_bytes = 0

    def charge(self, rows: list[_Row], step: Callable[[float], None]) -> list[_Reject]:
        """Charge the rows' new records; returns the rows whose card is not registered."""
        self.cards.resolve({row[2] for row in rows if row[6] is not None})
        card_ids = self.cards.ids
        by_card: dict[int, list[_Row]] = {}
        unknown: list[_Reject] = []
        for row in rows:
            card_id = card_ids.get(row[2])
            if card_id is None:
                unknown.append((row[0], row[1], f"no card {row[2]} is registered", row[6]))
            else:
                by_card.setdefault(card_id, []).append(row)
        group: list[int] = []
        size = done = 0
        for card_id in sorted(by_card):
            group.append(card_id)
            size += len(by_card[card_id])
            if size >= self.batch_size:
                self._charge_cards({c: by_card[c] for c in group})
                done += size
                step(done / len(rows))
                group, size = [], 0
        if group:
            self._charge_cards({c: by_card[c] for c in group})
        return unknown

    def _charge_cards(self, by_card: dict[int, list[_Row]]) -> None:
        """One transaction: claim the records' ids, then charge the new ones."""
        claimed = sum(len(rows) for rows in by_card.values())
        with self.db.unit_of_work() as session:
            new_ids = self._claim(session, [row[1] for rows in by_card.values() for row in rows])
            if new_ids is not None:
                fresh = {c: [r for r in rows if r[1] in new_ids] for c, rows in by_card.items()}
                by_card = {card_id: rows for card_id, rows in fresh.items() if rows}
            if by_card:
                charged, uncharged = self._draw_and_write(session, by_card)
            else:
                charged = uncharged = 0
        imported = claimed if new_ids is None else len(new_ids)
        self.imported += imported
        self.duplicates += claimed - imported
        self.charged_bytes += charged
        self.uncharged_bytes += uncharged

    def _claim(self, session: Session, record_ids: list[str]) -> set[str] | None:
        """Insert the ids not imported before; these are ours to charge: all of them
        (None, the usual case) or the set returned. A concurrent import of the same ids
        waits on them, then skips them."""
        # Sorted: two imports sharing ids take their locks in one order (and index pages
        # are visited in order).
        params = {"ids": orjson.dumps(sorted(record_ids)).decode(), "at": self.ctx.clock.now()}
        claim, claim_returning = _CLAIMS["postgresql" if self.postgres else "sqlite"]
        # Asking for the inserted ids costs more than inserting them: first try without.
        savepoint = session.begin_nested()
        if run(session, claim, params).rowcount == len(record_ids):
            savepoint.commit()
            return None
        savepoint.rollback()
        return set(run(session, claim_returning, params).scalars().all())

    def _draw_and_write(self, session: Session, by_card: dict[int, list[_Row]]) -> tuple[int, int]:
        # In card-number order (a row's third field), chunks included: credit control and
        # RADIUS groups lock theirs in that order too, so no two transactions ever wait
        # on each other in a circle.
        cards = sorted(by_card, key=lambda card_id: by_card[card_id][0][2])
        if self.postgres:
            for chunk in _chunks(cards):
                run(session, _LOCK_CARDS, {"card_ids": chunk}).all()
        times = [row[5] for rows in by_card.values() for row in rows]
        window = {"first": min(times), "last": max(times)}
        packages: dict[int, list[_Package]] = {}
        for chunk in _chunks(cards):
            for p in run(session, _PACKAGES, {"card_ids": chunk, **window}):
                packages.setdefault(p.card_id, []).append(
                    _Package(
                        p.id,
                        p.quota_total_bytes,
                        p.quota_used_bytes,
                        p.quota_reserved_bytes,
                        p.starts_at,
                        p.expires_at,
                    )
                )
        draws = _draw(by_card, packages)
        if draws.taken:
            uses = [{"w_id": package_id, "take": take} for package_id, take in draws.taken.items()]
            if run(session, _USE, uses).rowcount != len(uses):
                # Cannot happen under the card locks; if it does, the batch rolls back.
                raise RuntimeError("a package changed during the import; the batch is undone")
        if draws.usage:  # none when every record used 0 bytes
            run(session, _RECORD, draws.usage)
        return draws.charged, draws.uncharged


@dataclass(slots=True)
class _Draws:
    taken: dict[int, int]  # package id → bytes drawn from it
    usage: list[dict[str, Any]]  # usage_records rows
    charged: int
    uncharged: int


def _draw(by_card: dict[int, list[_Row]], packages: dict[int, list[_Package]]) -> _Draws:
    """Draw each card's records, in order, from its packages active at the record's time,
    earliest expiry first (`packages` are in that order): quota no session holds first,
    then reserved quota, as `charging.QuotaBook.charge` does. Sums what each package gave and
    what each card's records used per package (None: uncharged)."""
    taken: dict[int, int] = {}
    usage: list[dict[str, Any]] = []
    charged = uncharged = 0
    none: list[_Package] = []
    for card_id, rows in by_card.items():
        card_packages = packages.get(card_id, none)
        # package id (None: uncharged) → [bytes, latest time, session id or None]
        per_package: dict[int | None, list[Any]] = {}
        for _, _, _, session_id, need, at, _ in rows:
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
            usage.append(
                {
                    "card_id": card_id,
                    "package_id": package_id,
                    "session_id": session_id,
                    "source": SOURCE,
                    "bytes": 0 if package_id is None else amount,
                    "uncharged_bytes": amount if package_id is None else 0,
                    "recorded_at": latest,
                }
            )
    return _Draws(taken, usage, charged, uncharged)


def _add(entry: list[Any], amount: int, at: datetime, session_id: str | None) -> None:
    """Adds a record's draw to a package's [bytes, latest time, session id or None]."""
    entry[0] += amount
    if at > entry[1]:
        entry[1] = at
    if entry[2] != session_id:
        entry[2] = None


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]
