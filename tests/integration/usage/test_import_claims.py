"""Record-id claims of the usage import: a window left behind by a stopped run gives back
exactly the claims of the cards it never charged; window ids are never reused; one
import runs at a time."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from kuota.core.context import Context
from kuota.core.db import Database, table_of
from kuota.usage.import_claims import (
    WindowGivenBack,
    close_window,
    give_back,
    import_lock,
    mark_charged,
    open_window,
)
from kuota.usage.models import ImportedRecord, ImportWindow, ImportWindowCard


def claims(db: Database) -> dict[str, tuple[int | None, int | None]]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(ImportedRecord.record_id, ImportedRecord.card_id, ImportedRecord.window_id)
        ).all()
    return {record_id: (card_id, window_id) for record_id, card_id, window_id in rows}


def count(db: Database, model: type) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_window_left_behind_gives_back_only_the_cards_it_never_charged(
    db: Database, ctx: Context
) -> None:
    now = ctx.clock.now()
    window, new = open_window(db, ["a1", "a2", "b1", "c1"], [1, 1, 2, 3], now)
    assert new is None  # all of them claimed
    with db.unit_of_work() as s:
        mark_charged(s, window, [1, 3])  # cards 1 and 3 charged; the run stops before 2
    # A claim from before windows existed is never given back.
    with db.unit_of_work() as s:
        s.execute(insert(table_of(ImportedRecord)).values(record_id="old", imported_at=now))

    assert give_back(db) == 1
    assert claims(db) == {
        "a1": (1, window),
        "a2": (1, window),
        "c1": (3, window),
        "old": (None, None),
    }
    assert count(db, ImportWindow) == count(db, ImportWindowCard) == 0
    assert give_back(db) == 0  # nothing left behind now


def test_ids_claimed_before_are_left_out_of_a_new_window(db: Database, ctx: Context) -> None:
    now = ctx.clock.now()
    first, _ = open_window(db, ["x1", "x2"], [1, 1], now)
    close_window(db, first)
    second, new = open_window(db, ["x1", "x2", "x3"], [1, 1, 2], now + timedelta(seconds=1))
    assert new == {"x3"}
    assert claims(db)["x3"] == (2, second)
    assert claims(db)["x1"] == (1, first)


def test_window_ids_are_never_reused(db: Database, ctx: Context) -> None:
    now = ctx.clock.now()
    first, _ = open_window(db, ["y1"], [1], now)
    give_back(db)  # the window was never charged: forgotten, its claim given back
    assert claims(db) == {}
    second, _ = open_window(db, ["y1"], [1], now)
    assert second > first


def test_one_import_at_a_time(db: Database) -> None:
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with import_lock(db):
            order.append("first in")
            holding.set()
            time.sleep(0.3)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    with import_lock(db):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]


def test_a_run_whose_window_was_given_back_stops_and_charges_nothing_more(
    db: Database, ctx: Context
) -> None:
    """Its lock was lost (a dropped connection) and another import came in: that one
    gave the window back, so this one must not charge its cards."""
    window, _ = open_window(db, ["z1", "z2"], [1, 2], ctx.clock.now())
    with db.unit_of_work() as s:
        mark_charged(s, window, [1])
    assert give_back(db) == 1  # the other import: card 2 was never charged
    with pytest.raises(WindowGivenBack, match="run the file again"), db.unit_of_work() as s:
        mark_charged(s, window, [2])
    assert count(db, ImportWindowCard) == 0
    assert claims(db) == {"z1": (1, window)}
