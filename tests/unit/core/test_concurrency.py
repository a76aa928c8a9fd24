"""`read_ahead`: items in order, errors in their place, a clean stop when left early."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from kuota.core.concurrency import read_ahead


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(read_ahead(iter(range(1000)))) == list(range(1000))
    assert list(read_ahead(iter([]))) == []


def test_an_error_producing_an_item_is_raised_in_its_place() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3 is not a record")

    seen = []
    with pytest.raises(ValueError, match="line 3"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_leaving_early_stops_the_thread_before_returning() -> None:
    produced = []
    finished = threading.Event()

    def items() -> Iterator[int]:
        try:
            for n in range(10_000):
                produced.append(n)
                yield n
        finally:
            finished.set()

    with closing(read_ahead(items(), name="reader-under-test")) as ahead:
        for item in ahead:
            if item == 3:
                break
    # The four handed over, one waiting, one being offered; and none after the stop.
    assert len(produced) <= 6
    assert finished.is_set()  # closed in its thread, before read_ahead returned
    assert not any(t.name == "reader-under-test" for t in threading.enumerate())


def test_an_error_in_the_consumer_stops_the_producer() -> None:
    with pytest.raises(RuntimeError), closing(read_ahead(iter(range(10_000)))) as ahead:
        for item in ahead:
            if item == 5:
                raise RuntimeError("charging failed")
    assert threading.active_count() == 1 or all(
        t.name != "kuota-read-ahead" for t in threading.enumerate()
    )
