"""`UTCDateTime` on SQLite: the one text form, whatever the offset, from the fast path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from kuota.core.db import UTCDateTime, sqlite_instant

_DIALECT = sqlite.dialect()
_TYPE = UTCDateTime().dialect_impl(_DIALECT)
_FAST = _TYPE.bind_processor(_DIALECT)
_GENERIC = TypeDecorator.bind_processor(_TYPE, _DIALECT)  # SQLAlchemy's own path

instants = st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(9998, 12, 31)).flatmap(
    lambda naive: st.integers(-14 * 60, 14 * 60).map(
        lambda minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    )
)


@given(st.lists(instants, min_size=1, max_size=5))
def test_the_text_is_what_sqlalchemy_writes(moments: list[datetime]) -> None:
    assert _FAST is not None and _GENERIC is not None
    for moment in [*moments, *moments]:  # again: the remembered text is the same
        assert _FAST(moment) == _GENERIC(moment)
        assert len(_FAST(moment)) == 26


def test_one_instant_in_other_zones_is_one_text() -> None:
    assert _FAST is not None
    utc = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    jakarta = utc.astimezone(timezone(timedelta(hours=7)))
    assert _FAST(utc) == _FAST(jakarta) == "2026-11-25 03:00:00.000000"


def test_none_passes_and_a_naive_time_is_refused() -> None:
    assert _FAST is not None
    assert _FAST(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        _FAST(datetime(2026, 11, 25, 3, 0))


_READ = _TYPE.result_processor(_DIALECT, None)
_GENERIC_READ = TypeDecorator.result_processor(_TYPE, _DIALECT, None)  # SQLAlchemy's own path


@given(instants)
def test_reading_the_text_back_is_what_sqlalchemy_reads(moment: datetime) -> None:
    assert _FAST is not None and _READ is not None and _GENERIC_READ is not None
    text = _FAST(moment)
    assert _READ(text) == _GENERIC_READ(text) == moment
    assert _READ(text).tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2026-11-25 03:00:00", "2026-11-25 03:00:00.5", "2026-11-25 03:00:00.123456"],
)
def test_texts_written_by_sqlite_itself_read_as_sqlalchemy_reads_them(text: str) -> None:
    assert _READ is not None and _GENERIC_READ is not None
    assert _READ(text) == _GENERIC_READ(text)
    assert _READ(None) is None


def test_the_stored_text_is_refused_an_instant_not_in_utc() -> None:
    jakarta = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=7)))
    with pytest.raises(ValueError, match="UTC"):
        sqlite_instant(jakarta)
    assert sqlite_instant(jakarta.astimezone(UTC)) == "2026-11-25 03:00:00.000000"
