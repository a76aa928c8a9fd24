"""The injected clock. Rules never call `datetime.now()` themselves.

`BusinessClock` drives package expiry, reminders, auto-renewal and promotion
dates; in demo mode it can be moved (the test clock). Security timers use
`real_now()`, which nothing can move.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


def real_now() -> datetime:
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return real_now()


class FixedClock:
    """A clock that stands still until told to move: for tests."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at


class BusinessClock:
    """Real time plus an offset that the demo-mode test clock sets.

    The offset lives in the database (table `clock_offsets`) so every process
    sees it; each process re-reads it at most every `refresh_seconds`.
    """

    def __init__(self, offset: timedelta = timedelta(0), refresh_seconds: float = 1.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()
        self.refresh_seconds = refresh_seconds
        self.last_refreshed = 0.0

    @property
    def offset(self) -> timedelta:
        return self._offset

    def set_offset(self, offset: timedelta) -> None:
        with self._lock:
            self._offset = offset

    def now(self) -> datetime:
        return real_now() + self._offset


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything kuota stores is UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
