"""Reading a usage file row by row, and checking each row: the reference reader.

Every CSV and JSON-lines file can be read this way; `import_columns` reads plain CSV
files faster, column by column, and hands back to `RowChecker` every row it does not
find plainly good, so a row's verdict and reason are always this module's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson
from sqlalchemy import bindparam, select

from kuota.cards.models import Card
from kuota.cards.rules import normalize_msisdn
from kuota.core.db import Database, run
from kuota.core.errors import InvalidInput
from kuota.usage.rules import MAX_REPORT_BYTES

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

MAX_ID_LENGTH: Final = 120  # imported_usage_records.record_id, usage_records.session_id
FUTURE_TOLERANCE: Final = timedelta(minutes=5)  # network elements' clocks drift a little
IN_CHUNK: Final = 1000  # values per IN (…), well under every driver's parameter limit
REQUIRED: Final = ("record_id", "msisdn", "bytes", "recorded_at")
JSON_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_CARDS_BY_NUMBER = select(Card.id, Card.msisdn).where(
    Card.msisdn.in_(bindparam("numbers", expanding=True))
)


class ImportFileError(InvalidInput):
    """The file as a whole cannot be read as usage records; nothing was imported."""


# A checked row: (line, record_id, E.164 number, session_id, bytes, recorded_at in UTC,
# the row as read). Plain tuples: a million of them are built per run.
Row = tuple[int, str, str, str | None, int, datetime, Any]
# A bad row: (line, record_id as read, reason, the row as read).
Reject = tuple[int, str, str, Any]
# A window: its rows, its bad rows, and how far into the file it ends (bytes).
RowWindow = tuple[list[Row], list[Reject], int]


class BadRow(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_windows(
    path: Path, raw: io.BufferedReader, checker: RowChecker, size: int
) -> Iterator[RowWindow]:
    """The file's rows, `size` at a time; a CSV header is read and checked at once."""
    if is_json_lines(path, raw):
        return _jsonl_windows(raw, checker, size)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    while header is not None and not header:  # blank lines before the header
        header = next(reader, None)
    if header is None:
        text.detach()
        return iter(())
    return _csv_windows(raw, text, reader, CsvLayout(header), checker, size)


def is_json_lines(path: Path, raw: io.BufferedReader) -> bool:
    """JSON lines by the file's extension, or when it is not .csv, by its first character."""
    suffix = path.suffix.lower()
    return suffix in JSON_SUFFIXES or (
        suffix != ".csv" and raw.peek(64)[:64].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
    )


def header_columns(header: Sequence[str]) -> dict[str, int]:
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
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportFileError(
            "the CSV header must name the columns record_id, msisdn (or card), bytes, "
            f"recorded_at and optionally session_id; {', '.join(missing)} missing from "
            f"{','.join(header)!r}",
            field="header",
        )
    return columns


class CsvLayout:
    """Where a CSV file's columns are, from its header; checks a data row by it."""

    def __init__(self, header: Sequence[str]) -> None:
        columns = header_columns(header)
        self.width = len(header)
        self.at_id, self.at_number, self.at_bytes, self.at_time = (
            columns[name] for name in REQUIRED
        )
        self.at_session = columns.get("session_id")

    def check(
        self,
        checker: RowChecker,
        line: int,
        fields: list[str],
        rows: list[Row],
        bad: list[Reject],
    ) -> None:
        """Appends the row, checked, to `rows`, or to `bad` with its reason."""
        at_id = self.at_id
        if len(fields) != self.width:
            record_id = fields[at_id] if at_id < len(fields) else ""
            reason = f"{len(fields)} fields, the header has {self.width}"
            bad.append((line, record_id, reason, fields))
            return
        try:
            rows.append(
                checker.check(
                    line,
                    fields[at_id],
                    fields[self.at_number],
                    None if self.at_session is None else fields[self.at_session],
                    fields[self.at_bytes],
                    fields[self.at_time],
                    fields,
                )
            )
        except BadRow as exc:
            bad.append((line, fields[at_id], exc.reason, fields))


def _csv_windows(
    raw: io.BufferedReader,
    text: io.TextIOWrapper,
    reader: CsvReader,
    layout: CsvLayout,
    checker: RowChecker,
    size: int,
) -> Iterator[RowWindow]:
    check = layout.check
    rows: list[Row] = []
    bad: list[Reject] = []
    for fields in reader:
        if fields:
            check(checker, reader.line_num, fields, rows, bad)
            if len(rows) + len(bad) >= size:
                yield rows, bad, raw.tell()
                rows, bad = [], []
    if rows or bad:
        yield rows, bad, raw.tell()
    text.detach()  # the caller closes the file


def _jsonl_windows(raw: io.BufferedReader, checker: RowChecker, size: int) -> Iterator[RowWindow]:
    check = checker.check
    rows: list[Row] = []
    bad: list[Reject] = []
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
                raise BadRow(f"not valid JSON: {exc}") from None
            if type(item) is not dict:
                raise BadRow("not a JSON object")
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
        except BadRow as exc:
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
    raise BadRow(f"{key} is {orjson.dumps(value).decode()}, not text")


def _json_bytes(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    # 1.5, 1e3 (a float once parsed), true: none is a whole number of bytes as written.
    return orjson.dumps(value).decode()


class RowChecker:
    """Checks one row's fields; remembers the file's record ids and numbers."""

    def __init__(self, cards: CardIndex, latest_allowed: datetime) -> None:
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
    ) -> Row:
        record_id = record_id.strip()
        if not record_id:
            raise BadRow("record_id is empty")
        first = self.first_line_of.setdefault(record_id, line)
        if first != line:
            raise BadRow(f"record_id {record_id!r} already appears on line {first}")
        if len(record_id) > MAX_ID_LENGTH or "\ufffd" in record_id:
            raise BadRow(f"record_id must be UTF-8 text of at most {MAX_ID_LENGTH} characters")
        msisdn = self.msisdns.get(number)
        if msisdn is None:
            msisdn = self._normalized(number)
        # Whether a card has the number is asked last, after every field is good (by
        # `importer._as_table`): a row's reason must not depend on which window first
        # looked its number up.
        if session_id is not None:
            session_id = session_id.strip() or None
            if session_id is not None and (
                len(session_id) > MAX_ID_LENGTH or "\ufffd" in session_id
            ):
                raise BadRow(f"session_id must be UTF-8 text of at most {MAX_ID_LENGTH} characters")
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

    def e164(self, number: str) -> str | None:
        """The number as written in E.164, or None when it is not a valid number (what is
        wrong with it is then in `bad_numbers`). Normalising costs 30 µs: once a number."""
        msisdn = self.msisdns.get(number)
        if msisdn is None and number not in self.bad_numbers:
            try:
                if not number.strip():
                    raise InvalidInput("msisdn is empty: the card's number is required")
                self.msisdns[number] = msisdn = normalize_msisdn(number)
            except InvalidInput as exc:
                self.bad_numbers[number] = exc.detail
        return msisdn

    def _normalized(self, number: str) -> str:
        """E.164 for a number not seen before in the file."""
        msisdn = self.e164(number)
        if msisdn is None:
            raise BadRow(self.bad_numbers[number])
        return msisdn

    def _moment(self, text: str) -> datetime:
        if not _RFC3339.fullmatch(text):
            text = text.strip()
            if not _RFC3339.fullmatch(text):
                raise BadRow(_time_problem(text))
        if text[10] != "T" or text[-1] == "z":
            text = text.upper().replace(" ", "T")  # as fromisoformat wants them
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise BadRow(f"recorded_at {text!r} is not a valid date and time: {exc}") from None
        if moment.tzinfo is not UTC:
            try:
                moment = moment.astimezone(UTC)
            except OverflowError:  # 0001-01-01T00:00:00+01:00, 9999-12-31T23:00:00-02:00
                raise BadRow(f"recorded_at {text!r} is out of range in UTC") from None
        if moment > self.latest_allowed:
            now = self.latest_allowed - FUTURE_TOLERANCE
            raise BadRow(f"recorded_at {text!r} is in the future: it is {now:%Y-%m-%dT%H:%M:%SZ}")
        return moment


def _bytes(text: str) -> int:
    value = text.strip()
    if value.isdigit() and value.isascii():
        # Compared as text first: int() refuses numbers of thousands of digits.
        if len(value.lstrip("0")) > 14 or int(value) > MAX_REPORT_BYTES:
            raise BadRow(f"bytes {value[:40]} is more than {MAX_REPORT_BYTES} in one record")
        return int(value)
    if not value:
        raise BadRow("bytes is empty")
    if value[0] == "-" and value[1:].isdigit():
        raise BadRow(f"bytes {value[:40]} is negative")
    raise BadRow(f"bytes {value[:40]!r} is not a whole number (ASCII digits only: no 1.5, no 1e3)")


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


def as_text(original: Any) -> str:
    """A rejected row as it was in the file: the CSV fields re-quoted, or the JSON line."""
    if isinstance(original, bytes):
        return original.decode("utf-8", "replace").rstrip("\r\n")
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(original)
    return out.getvalue()


class CardIndex:
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
            for chunk in chunks(wanted):
                for card in run(session, _CARDS_BY_NUMBER, {"numbers": chunk}):
                    self.ids[card.msisdn] = card.id
        self.unknown.update(n for n in wanted if n not in self.ids)


def chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]
