"""Set-based writes for the usage import: many package draws, many usage rows, one
statement each.

A driver's `executemany` runs its statement once per row, and on the import's path the
per-row work around it (parameters converted one by one, one execution each; on
PostgreSQL one round trip each) costs more than the row. Here the rows go in as one
value: a JSON array read by `json_each` on SQLite, one array per column read by
`unnest` on PostgreSQL; the database walks them in native code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import orjson
from sqlalchemy.orm import Session

from kuota.core.db import driver_cursor, sqlite_instant, table_of
from kuota.usage.models import Package, UsageRecord

# (card id, package id or None for uncharged, session id, bytes, uncharged bytes,
# recorded_at)
UsageRow = tuple[int, int | None, str | None, int, int, datetime]

_PACKAGES: Final = table_of(Package).name
_USAGE: Final = table_of(UsageRecord).name
_DRAW_WHERE: Final = (
    f"WHERE {_PACKAGES}.id = d.id "
    f"AND {_PACKAGES}.quota_used_bytes + d.take <= {_PACKAGES}.quota_total_bytes"
)
_DRAW: Final = {
    "sqlite": (
        f"UPDATE {_PACKAGES} SET quota_used_bytes = {_PACKAGES}.quota_used_bytes + d.take "
        "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS take "
        f"FROM json_each(?)) AS d {_DRAW_WHERE}"
    ),
    "postgresql": (
        f"UPDATE {_PACKAGES} SET quota_used_bytes = {_PACKAGES}.quota_used_bytes + d.take "
        f"FROM unnest(%s::bigint[], %s::bigint[]) AS d(id, take) {_DRAW_WHERE}"
    ),
}
_COLUMNS: Final = "card_id, package_id, session_id, source, bytes, uncharged_bytes, recorded_at"
_ADD_USAGE: Final = {
    "sqlite": (
        f"INSERT INTO {_USAGE} ({_COLUMNS}) SELECT json_extract(value, '$[0]'), "
        "json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?, "
        "json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]') "
        "FROM json_each(?)"
    ),
    "postgresql": (
        f"INSERT INTO {_USAGE} ({_COLUMNS}) SELECT c, p, s, %s, b, u, r FROM unnest("
        "%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::bigint[], %s::timestamptz[]"
        ") AS d(c, p, s, b, u, r)"
    ),
}


def draw_packages(session: Session, taken: dict[int, int]) -> int:
    """Add each package's draw (package id → bytes) to its use, where the package has
    that much quota left; returns how many packages were drawn from."""
    with driver_cursor(session) as (cursor, dialect):
        if dialect.name == "sqlite":
            cursor.execute(_DRAW["sqlite"], (orjson.dumps(list(taken.items())).decode(),))
        else:
            cursor.execute(_DRAW["postgresql"], (list(taken), list(taken.values())))
        return int(cursor.rowcount)


def add_usage(session: Session, source: str, rows: list[UsageRow]) -> None:
    """Insert usage records, from `source`; instants must be UTC."""
    with driver_cursor(session) as (cursor, dialect):
        if dialect.name == "sqlite":
            # The text UTCDateTime stores, so that these compare with every other row's.
            stored = [(*row[:5], sqlite_instant(row[5])) for row in rows]
            cursor.execute(_ADD_USAGE["sqlite"], (source, orjson.dumps(stored).decode()))
        else:
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(_ADD_USAGE["postgresql"], (source, *columns))
