"""Moving the demo-mode business clock, shared through the database by every process."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from kuota.core.clock import BusinessClock, real_now
from kuota.core.db import Database
from kuota.core.models import ClockOffset

CLOCK_NAME = "business"


class SharedBusinessClock(BusinessClock):
    """A `BusinessClock` that re-reads its offset from the database about once a second."""

    def __init__(self, db: Database, refresh_seconds: float = 1.0) -> None:
        super().__init__(refresh_seconds=refresh_seconds)
        self._db = db
        self.refresh()

    def refresh(self) -> None:
        with self._db.unit_of_work(write=False) as session:
            self.set_offset(read_offset(session))
        self.last_refreshed = time.monotonic()

    def now(self) -> datetime:
        if time.monotonic() - self.last_refreshed > self.refresh_seconds:
            self.refresh()
        return super().now()


def read_offset(session: Session) -> timedelta:
    micros = session.execute(
        select(ClockOffset.offset_microseconds).where(ClockOffset.name == CLOCK_NAME)
    ).scalar_one_or_none()
    return timedelta(microseconds=micros or 0)


def move_to(session: Session, target: datetime | None) -> timedelta:
    """Set the business clock to `target` (running on from there), or back to real time."""
    offset = timedelta(0) if target is None else target - real_now()
    session.execute(delete(ClockOffset).where(ClockOffset.name == CLOCK_NAME))
    if offset:
        session.execute(
            insert(ClockOffset).values(
                name=CLOCK_NAME, offset_microseconds=offset // timedelta(microseconds=1)
            )
        )
    return offset
