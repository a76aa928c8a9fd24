"""The usage import's record-id claims: exactly once, however runs stop and start.

An import works a window at a time (see `importer`):

1. `open_window` claims the window's record ids in one transaction, sorted, so the
   claims index is written in order (page by page, not all over); the claims name the
   window and each record's card. Ids claimed before are duplicates: not charged again.
2. Each charging transaction charges whole cards and, in the same transaction,
   `mark_charged` notes those cards as charged for the window.
3. `close_window` forgets the window once all its cards are charged.

A run that stops between 1 and 3 leaves its window behind, with claims of cards that
were never charged. `give_back` (run by every import before it claims anything) deletes
those claims, so importing the file again charges those records, and only those.
`import_lock` lets one import run at a time per database, so a window left behind is
always a stopped run's, never a running one's.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Final

import orjson
from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from kuota.core.db import Database, driver_cursor, run, sqlite_instant, table_of
from kuota.core.errors import KuotaError
from kuota.usage.models import ImportedRecord, ImportWindow, ImportWindowCard

_CLAIMS: Final = table_of(ImportedRecord).name
_CLAIM: Final = {
    "sqlite": (
        f"INSERT INTO {_CLAIMS} (record_id, card_id, window_id, imported_at) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?, ? "
        # `WHERE true`: SQLite's parser needs a WHERE before an upsert clause.
        "FROM json_each(?) WHERE true ON CONFLICT DO NOTHING"
    ),
    "postgresql": (
        f"INSERT INTO {_CLAIMS} (record_id, card_id, window_id, imported_at) "
        "SELECT r, c, %s, %s FROM unnest(%s::text[], %s::bigint[]) AS d(r, c) "
        "ON CONFLICT DO NOTHING"
    ),
}
_PG_LOCK_KEY: Final = 0x6B756F7461_01  # "kuota", 1: the usage import
_memory_lock = threading.Lock()  # in-memory SQLite: one process, so one lock

_NEW_WINDOW = insert(table_of(ImportWindow)).returning(table_of(ImportWindow).c.id)
_MARK = insert(table_of(ImportWindowCard))
_LEFT_BEHIND = select(ImportWindow.id).with_for_update()
_OURS = select(ImportWindow.id).where(ImportWindow.id == bindparam("window_id")).with_for_update()


@contextmanager
def import_lock(db: Database) -> Iterator[None]:
    """Held for a whole import: a second import waits for the first. Released by the
    operating system (SQLite: an `flock` beside the database) or the server
    (PostgreSQL: an advisory lock of the session) if the process dies."""
    if not db.is_sqlite:
        with db.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text(f"SELECT pg_advisory_lock({_PG_LOCK_KEY})"))
            try:
                yield
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({_PG_LOCK_KEY})"))
        return
    path = db.url.split("///", 1)[1] if "///" in db.url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        with _memory_lock:
            yield
        return
    descriptor = os.open(f"{path}.import-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def give_back(db: Database) -> int:
    """Delete the claims that windows left behind hold for cards they never charged, and
    forget those windows; returns how many claims were given back."""
    with db.unit_of_work() as session:
        windows = list(session.execute(_LEFT_BEHIND).scalars())
        given = 0
        for window_id in windows:
            charged = select(ImportWindowCard.card_id).where(
                ImportWindowCard.window_id == window_id
            )
            given += run(
                session,
                delete(ImportedRecord)
                .where(ImportedRecord.window_id == window_id)
                .where(ImportedRecord.card_id.not_in(charged))
                .execution_options(synchronize_session=False),
            ).rowcount
            _forget(session, window_id)
    return given


def open_window(
    db: Database, record_ids: list[str], card_ids: list[int], now: datetime
) -> tuple[int, set[str] | None]:
    """Claim the ids (each with its record's card; sorted by id) for a new window, in
    one transaction. Returns the window's id and the ids it claimed: None when it claimed
    them all (the usual case), else the set."""
    with db.unit_of_work() as session:
        window_id = int(run(session, _NEW_WINDOW, {"started_at": now}).scalar_one())
        claimed = _claim(session, window_id, record_ids, card_ids, now, returning=False)
        if claimed == len(record_ids):
            return window_id, None
        # Some were claimed before: undo, and claim again learning which were new. (Asking
        # for the ids inserted costs more than inserting them, so only when needed.)
        session.rollback()
    with db.unit_of_work() as session:
        window_id = int(run(session, _NEW_WINDOW, {"started_at": now}).scalar_one())
        new = _claim(session, window_id, record_ids, card_ids, now, returning=True)
        assert isinstance(new, set)
        return window_id, new


class WindowGivenBack(KuotaError):
    """Another import gave this window's claims back: this run must stop (its lock was
    lost). Re-running the file charges what it had not charged yet."""

    status = 409
    slug = "import-window-given-back"
    title = "Import window given back"


def mark_charged(session: Session, window_id: int, card_ids: list[int]) -> None:
    """Note the cards as charged for the window, in the transaction that charges them,
    first making sure the window is still ours. Its row is locked (PostgreSQL) until
    the transaction ends, and `give_back` deletes it: so a window is never given back
    while one of its transactions is charging, even by an import that came in because
    this one lost its lock (a connection dropped): this transaction then finds the window
    gone and stops, and nothing of it is charged."""
    if run(session, _OURS, {"window_id": window_id}).first() is None:
        raise WindowGivenBack(
            f"import window {window_id} was given back by another import (this run's lock "
            "was lost); run the file again to charge the rest"
        )
    run(session, _MARK, [{"window_id": window_id, "card_id": card_id} for card_id in card_ids])


def close_window(db: Database, window_id: int) -> None:
    """Forget a window whose cards are all charged."""
    with db.unit_of_work() as session:
        _forget(session, window_id)


def _forget(session: Session, window_id: int) -> None:
    run(session, delete(ImportWindowCard).where(ImportWindowCard.window_id == window_id))
    run(session, delete(ImportWindow).where(ImportWindow.id == window_id))


def _claim(
    session: Session,
    window_id: int,
    record_ids: list[str],
    card_ids: list[int],
    now: datetime,
    *,
    returning: bool,
) -> int | set[str]:
    with driver_cursor(session) as (cursor, dialect):
        if dialect.name == "sqlite":
            pairs = orjson.dumps(list(zip(record_ids, card_ids, strict=True))).decode()
            params: tuple[object, ...] = (window_id, sqlite_instant(now), pairs)
            sql = _CLAIM["sqlite"]
        else:
            params = (window_id, now, record_ids, card_ids)
            sql = _CLAIM["postgresql"]
        if returning:
            cursor.execute(sql + " RETURNING record_id", params)
            return {row[0] for row in cursor.fetchall()}
        cursor.execute(sql, params)
        return int(cursor.rowcount)
