"""Reading a plain CSV usage file column by column (pyarrow): the fast reader.

A CSV file is *plain* when it holds no double quote, no NUL byte and no carriage return
but in CRLF line ends, and its first line is the header. Every line of a plain file is
one row, and its fields are the line split at its commas, exactly what Python's csv
module reads from it; so line numbers are known without reading row by row, and a
block of the file can be split and checked by column in native code.

A row is taken as it is when every field is in its plain form: a record id of 1 to 120
printable ASCII characters (no space), a number that is a registered card's, a session
id of at most 120 printable ASCII characters (or none), bytes as 1 to 13 ASCII digits,
and ``recorded_at`` as ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`` (year 1000 on) no later than the
clock allows. Every other row (a wrong number of fields, spaces around a value, a time
in another form, an unknown card…) goes to `RowChecker`, exactly as the row reader would
give it, and is accepted or rejected there with its reason. A window whose record ids
are not all plain, or repeat one another or an earlier window's, or whose plain times
include an impossible date, is checked row by row throughout: the row reader's
verdicts, its reasons and the line it names for a repeated id hold in every case.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from kuota.usage.import_rows import (
    CardIndex,
    CsvLayout,
    Reject,
    Row,
    RowChecker,
)

BLOCK: Final = 8 << 20  # bytes read at a time
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_BOM: Final = b"\xef\xbb\xbf"
_PLAIN_ID: Final = r"^[\x21-\x7e]{1,120}$"
_PLAIN_SESSION: Final = r"^[\x21-\x7e]{0,120}$"
_PLAIN_BYTES: Final = r"^[0-9]{1,13}$"
_PLAIN_TIME: Final = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_INSTANT: Final = pa.timestamp("us", "UTC")
_FILLER: Final = "1970-01-01T00:00:00Z"  # stands in for a time not plain, to cast the rest

# A window read by column: its plainly good rows as a table (see `TABLE`), the rows
# checked one by one and found good, the bad rows, and how far into the file it ends.
ColumnWindow = tuple[pa.Table, list[Row], list[Reject], int]
TABLE: Final = pa.schema(
    [
        ("line", pa.int64()),
        ("record_id", pa.string()),
        ("card_id", pa.int64()),
        ("session_id", pa.string()),
        ("bytes", pa.int64()),
        ("at", pa.int64()),  # microseconds since 1970-01-01 UTC
    ]
)


def micros(moment: datetime) -> int:
    """An instant as `TABLE` keeps it: microseconds since 1970-01-01 UTC."""
    return (moment - _EPOCH) // _MICROSECOND


def instant(value: int) -> datetime:
    """The UTC instant of a `TABLE`'s microseconds."""
    return _EPOCH + value * _MICROSECOND


def is_plain(path: Path) -> bool:
    """Whether the file is plain CSV (see the module's docstring): one pass over it at
    the speed of the disk, before anything is imported."""
    with path.open("rb") as raw:
        if not raw.readline().removeprefix(_BOM).rstrip(b"\r\n"):
            return False  # blank lines before the header: the row reader skips them
        raw.seek(0)
        while block := raw.read(BLOCK):
            if b'"' in block or b"\x00" in block:
                return False
            # A CR ending the block is paired with an LF beginning the next, if any.
            if block.count(b"\r") != (block + raw.peek(1)[:1]).count(b"\r\n"):
                return False
    return True


def plain_windows(
    raw: io.BufferedReader, checker: RowChecker, cards: CardIndex, size: int
) -> Iterator[ColumnWindow]:
    """The rows of a plain CSV file (`is_plain`), at most `size` lines at a time.
    Raises ImportFileError at once if the header lacks a required column."""
    header = raw.readline().removeprefix(_BOM)
    layout = CsvLayout(header.decode("utf-8", "replace").rstrip("\r\n").split(","))
    return _windows(raw, _ColumnChecker(layout, checker, cards), size)


def _windows(raw: io.BufferedReader, reader: _ColumnChecker, size: int) -> Iterator[ColumnWindow]:
    """Windows of `size` lines (the last one shorter), across blocks."""
    next_line = 2
    pending: list[pa.Array] = []  # lines read, not yet in a window
    count = 0
    for lines, read_to in _line_blocks(raw):
        pending.append(lines)
        count += len(lines)
        while count >= size:
            joined = pending[0] if len(pending) == 1 else pa.concat_arrays(pending)
            rest = joined.slice(size)
            yield reader.window(joined.slice(0, size), next_line, read_to)
            next_line += size
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        joined = pending[0] if len(pending) == 1 else pa.concat_arrays(pending)
        yield reader.window(joined, next_line, raw.tell())


def _line_blocks(raw: io.BufferedReader) -> Iterator[tuple[pa.Array, int]]:
    """The file's lines, a block at a time, each with how far into the file it ends."""
    carry = b""
    while True:
        block = raw.read(BLOCK)
        data = carry + block
        if block:
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a block: read on
                carry = data
                continue
            chunk, carry = data[:cut], data[cut:]
        else:
            chunk, carry = data, b""
        if chunk:
            text = pa.array([chunk.decode("utf-8", "replace")], pa.string())
            lines = pc.split_pattern(text, "\n").flatten()
            if b"\r" in chunk:  # CRLF line ends (a plain file has no other CR)
                lines = pc.utf8_rtrim(lines, "\r")
            if chunk.endswith(b"\n"):
                lines = lines.slice(0, len(lines) - 1)  # what follows the last line end
            yield lines, raw.tell() - len(carry)
        if not block:
            return


class _ColumnChecker:
    def __init__(self, layout: CsvLayout, checker: RowChecker, cards: CardIndex) -> None:
        self.layout = layout
        self.checker = checker
        self.cards = cards
        self.card_of_number: dict[str, int | None] = {}  # number as written → card id

    def window(self, lines: pa.Array, first_line: int, read_to: int) -> ColumnWindow:
        layout, checker = self.layout, self.checker
        rows: list[Row] = []
        bad: list[Reject] = []
        numbers = pa.array(range(first_line, first_line + len(lines)), pa.int64())
        parts = pc.split_pattern(lines, ",")
        blank = pc.equal(pc.binary_length(lines), 0)
        right = pc.and_(pc.equal(pc.list_value_length(parts), layout.width), pc.invert(blank))
        ragged = pc.and_(pc.invert(right), pc.invert(blank))
        if pc.any(ragged).as_py():
            for line, text in zip(
                numbers.filter(ragged).to_pylist(),
                lines.filter(ragged).to_pylist(),
                strict=True,
            ):
                layout.check(checker, line, text.split(","), rows, bad)
        parts = parts.filter(right)
        line_of = numbers.filter(right)
        if len(parts) == 0:
            return TABLE.empty_table(), rows, bad, read_to

        def column(at: int) -> pa.Array:
            return pc.list_element(parts, at)

        ids = column(layout.at_id)
        id_list = ids.to_pylist()
        lines_list = line_of.to_pylist()
        first_line_of = checker.first_line_of
        plain_ids = pc.all(pc.match_substring_regex(ids, _PLAIN_ID)).as_py()
        if (
            not plain_ids
            or len(set(id_list)) != len(id_list)
            or not first_line_of.keys().isdisjoint(id_list)
        ):
            return self._row_by_row(parts, lines_list, rows, bad, read_to)
        times = column(layout.at_time)
        plain_time = pc.match_substring_regex(times, _PLAIN_TIME)
        try:
            instants = pc.cast(pc.if_else(plain_time, times, _FILLER), _INSTANT)
        except pa.ArrowInvalid:  # a plain-looking impossible date, such as 2026-02-30
            return self._row_by_row(parts, lines_list, rows, bad, read_to)
        first_line_of.update(zip(id_list, lines_list, strict=True))  # as RowChecker would
        at = pc.cast(instants, pa.int64())
        latest = micros(checker.latest_allowed)
        card_ids = self._card_ids(column(layout.at_number))
        nbytes = column(layout.at_bytes)
        good = pc.and_(
            pc.and_(plain_time, pc.less_equal(at, latest)),
            pc.and_(pc.is_valid(card_ids), pc.match_substring_regex(nbytes, _PLAIN_BYTES)),
        )
        if layout.at_session is None:
            sessions = pa.nulls(len(parts), pa.string())
        else:
            sessions = column(layout.at_session)
            good = pc.and_(good, pc.match_substring_regex(sessions, _PLAIN_SESSION))
            sessions = pc.if_else(pc.equal(sessions, ""), pa.scalar(None, pa.string()), sessions)
        others = pc.invert(good)
        if pc.any(others).as_py():
            for line, fields in zip(
                line_of.filter(others).to_pylist(), parts.filter(others).to_pylist(), strict=True
            ):
                layout.check(checker, line, fields, rows, bad)
        table = pa.table(
            [
                line_of.filter(good),
                ids.filter(good),
                card_ids.filter(good),
                sessions.filter(good),
                pc.cast(nbytes.filter(good), pa.int64()),
                at.filter(good),
            ],
            schema=TABLE,
        )
        return table, rows, bad, read_to

    def _card_ids(self, numbers: pa.Array) -> pa.Array:
        """Each row's card id, null where the number is not valid or no card has it."""
        distinct = pc.unique(numbers)
        known = self.card_of_number
        new = [n for n in distinct.to_pylist() if n not in known]
        if new:
            e164 = {n: self.checker.e164(n) for n in new}
            self.cards.resolve({m for m in e164.values() if m is not None})
            ids = self.cards.ids
            for number, msisdn in e164.items():
                known[number] = None if msisdn is None else ids.get(msisdn)
        lookup = pa.array([known[n] for n in distinct.to_pylist()], pa.int64())
        return pc.take(lookup, pc.index_in(numbers, value_set=distinct))

    def _row_by_row(
        self,
        parts: pa.Array,
        lines: list[int],
        rows: list[Row],
        bad: list[Reject],
        read_to: int,
    ) -> ColumnWindow:
        check, checker = self.layout.check, self.checker
        for line, fields in zip(lines, parts.to_pylist(), strict=True):
            check(checker, line, fields, rows, bad)
        return TABLE.empty_table(), rows, bad, read_to
