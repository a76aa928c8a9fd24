"""Database engine, the declarative base, and the unit of work.

SQLite runs in WAL mode with `synchronous=FULL` (a 201 is on disk), and write
transactions start with `BEGIN IMMEDIATE` so two writers never deadlock on a
lock upgrade. Writers also queue on a thread lock inside the process and on an
`flock` across processes (`SqliteWriterLock`), the single-writer path that keeps
them from sleeping in SQLite's busy handler.
PostgreSQL runs with `synchronous_commit=on`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Big integer primary keys that still autoincrement on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")


def sqlite_instant(utc: datetime) -> str:
    """The text an instant is stored as on SQLite: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC
    (what SQLAlchemy writes). `utc` must be in UTC: its text carries no offset."""
    if utc.tzinfo is not UTC:
        raise ValueError(f"SQLite stores instants in UTC; given {utc.tzinfo!r}")
    return utc.isoformat(" ", "microseconds")[:26]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which keeps naive text) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; kuota stores UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Any) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC) in one step,
        remembering the last instant's: a group commit writes its one `now` several
        times a row. The generic path (convert, then format through a dict) gives the
        same text for about 40% more, every time; other databases take it."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        last: tuple[datetime | None, str | None] = (None, None)

        def as_text(value: datetime | None) -> str | None:
            nonlocal last
            seen = last  # one read: another thread may replace it meanwhile
            if value is seen[0]:
                return seen[1]
            utc = self.process_bind_param(value, dialect)
            if utc is None:
                return None
            text = sqlite_instant(utc)
            last = (value, text)
            return text

        return as_text

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text read by `datetime.fromisoformat` (C) in one step,
        instead of the generic regular expression and then a second conversion: a
        tenth of the time, on every instant every hot-path read returns."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def from_text(value: str | None) -> datetime | None:
            if value is None:
                return None
            moment = parse(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

        return from_text


def run(session: Session, statement: Executable, params: Any = None) -> CursorResult[Any]:
    """Execute a prebuilt Core statement on the session's connection, in its transaction.

    The hot path's statements are built once at import; run this way they skip the ORM
    layer too (its bulk-insert path alone costs more than the statement)."""
    return session.connection().execute(statement, params)


@dataclass(frozen=True, slots=True)
class _Many:
    sql: str
    names: tuple[str, ...]
    # (position in `names`, processor) for the values that have one (instants, mostly)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    positional: bool


# By the statement itself (kept alive here, so its id is never reused), the dialect and
# the rows' keys: meant for statements built once, at import.
_many: dict[tuple[Executable, str, tuple[str, ...]], _Many] = {}


@contextmanager
def driver_cursor(session: Session) -> Iterator[tuple[Any, Any]]:
    """The driver's own cursor on the session's connection, in its transaction, and the
    dialect; closed afterwards. For statements the hot path runs past SQLAlchemy."""
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        yield cursor, connection.dialect
    finally:
        cursor.close()


def run_many(session: Session, statement: Executable, rows: list[dict[str, Any]]) -> int:
    """Execute a prebuilt Core INSERT, UPDATE or DELETE once per row, by the driver's own
    `executemany`, in the session's transaction.

    The statement is compiled once per dialect and each row's values go through their
    types' bind processors (UTC instants included), as `run` would do; what is skipped is
    the per-row parameter handling around it, which costs more than the row on the hot
    path. Every row of one call must have the same keys; the statement should be one
    built once (each one is kept with its compiled form). Returns the rows the
    statement affected, all executions together."""
    if not rows:
        return 0
    with driver_cursor(session) as (cursor, dialect):
        key = (statement, dialect.name, tuple(rows[0]))
        plan = _many.get(key)
        if plan is None:
            compiled = cast(Any, statement).compile(dialect=dialect, column_keys=list(key[2]))
            positional = compiled.positiontup is not None
            names = tuple(compiled.positiontup if positional else compiled.binds)
            processors = _bind_processors(compiled, names, dialect)
            plan = _Many(compiled.string, names, processors, positional)
            _many[key] = plan
        names = plan.names
        values = [[row[name] for name in names] for row in rows]
        for row_values in values:
            _process(row_values, plan.processors)
        params: list[Any] = (
            values if plan.positional else [dict(zip(names, row, strict=True)) for row in values]
        )
        cursor.executemany(plan.sql, params)
        return int(cursor.rowcount)


@dataclass(frozen=True, slots=True)
class _Fetch:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order the driver takes them
    defaults: dict[str, Any]  # values written into the statement itself
    binds: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, processor)
    positional: bool


_fetches: dict[tuple[Executable, str], _Fetch] = {}


def fetch_rows(
    session: Session, statement: Executable, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Run a prebuilt Core SELECT by the driver's own cursor, in the session's
    transaction; its rows as plain tuples, in the order of the statement's columns.

    What `run` returns, without the result machinery around it: the statement is
    compiled once per dialect (so it must not expand lists: bind them with
    `core.sql.in_list`), parameters and columns go through their types' processors
    (instants come back as UTC datetimes), and no `Row` is built. For the hot path's
    reads, where that machinery costs more than the query."""
    with driver_cursor(session) as (cursor, dialect):
        plan = _fetches.get((statement, dialect.name))
        if plan is None:
            plan = _plan_fetch(statement, dialect)
            _fetches[statement, dialect.name] = plan
        values = [params[name] if name in params else plan.defaults[name] for name in plan.names]
        _process(values, plan.binds)
        if plan.positional:
            cursor.execute(plan.sql, values)
        else:
            cursor.execute(plan.sql, dict(zip(plan.names, values, strict=True)))
        rows = cursor.fetchall()
    if not plan.results:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        columns = list(row)
        _process(columns, plan.results)
        out.append(tuple(columns))
    return out


def _plan_fetch(statement: Executable, dialect: Any) -> _Fetch:
    compiled = cast(Any, statement).compile(dialect=dialect)
    positional = compiled.positiontup is not None
    # By name where the driver takes names: each parameter once, as the SQL says it.
    names = tuple(
        compiled.positiontup if positional else dict.fromkeys(compiled.bind_names.values())
    )
    if any(compiled.binds[name].expanding for name in names):
        raise ValueError("fetch_rows needs lists bound as one value (core.sql.in_list)")
    binds = _bind_processors(compiled, names, dialect)
    defaults = {
        name: compiled.binds[name].value for name in names if not compiled.binds[name].required
    }
    results = tuple(
        (index, process)
        for index, column in enumerate(compiled._result_columns)
        if (process := column[3]._cached_result_processor(dialect, None))
    )
    return _Fetch(compiled.string, names, defaults, binds, results, positional)


def _bind_processors(
    compiled: Any, names: tuple[str, ...], dialect: Any
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(position, processor) for each parameter that has one. The dialect's own
    processor (`_cached_bind_processor`, as SQLAlchemy's execute uses): the generic
    type's would hand SQLite's driver a datetime, which it stores in another text form
    ("…+00:00") than every other write."""
    return tuple(
        (index, process)
        for index, name in enumerate(names)
        if (process := compiled.binds[name].type._cached_bind_processor(dialect))
    )


def _process(values: list[Any], processors: tuple[tuple[int, Callable[[Any], Any]], ...]) -> None:
    """Apply (position, processor) pairs to one row's values, in place."""
    for index, process in processors:
        values[index] = process(values[index])


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements on the hot path: an INSERT on the table skips
    the ORM's bulk-persistence layer, which costs more than the statement itself."""
    return cast(Table, model.__table__)


def insert_for(dialect: str) -> Callable[..., Any]:
    """The dialect's own INSERT, for `ON CONFLICT DO NOTHING` (SQLite and PostgreSQL)."""
    if dialect == "postgresql":
        return postgresql.insert
    return sqlite.insert


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SqliteWriterLock:
    """SQLite's single-writer path: writers take turns on a thread lock inside the process
    and on an `flock` of a file beside the database across processes.

    SQLite would serialise them anyway, but a writer that finds the database locked
    sleeps in its busy handler (milliseconds at a time) and retries; a writer blocked on
    `flock` is woken by the kernel the moment the lock is free."""

    def __init__(self, url: str) -> None:
        self._thread_lock = threading.Lock()
        path = url.split("///", 1)[1] if "///" in url else ""
        self._fd: int | None = None
        if path and path != ":memory:" and not path.startswith("file:"):
            self._fd = os.open(f"{path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self) -> None:
        self._thread_lock.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    """Owns the engine and hands out sessions, one per unit of work."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = SqliteWriterLock(url) if self.is_sqlite else None
        if self.is_sqlite:
            self.engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=pool_size,
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                connect_args={"options": "-c synchronous_commit=on -c timezone=UTC"},
            )
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False, autoflush=False)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: commits when the block ends normally, rolls back otherwise."""
        lock = self._write_lock if write else None
        if lock is not None:
            lock.acquire()
        try:
            session = self.sessions()
            try:
                if self.is_sqlite:
                    session.connection(
                        execution_options={"kuota_begin": "IMMEDIATE" if write else "DEFERRED"}
                    )
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        finally:
            if lock is not None:
                lock.release()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("kuota_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
