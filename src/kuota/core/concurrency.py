"""`read_ahead`: produce the next item in a thread while the caller works on this one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Final, TypeVar

T = TypeVar("T")

_POLL: Final = 0.1  # seconds between looks at whether the consumer has gone


def read_ahead(items: Iterator[T], *, name: str = "kuota-read-ahead") -> Generator[T, None, None]:
    """`items`, each produced in a thread while the caller handles the one before; at
    most one waits ready. Worth it when both sides spend their time where Python lets
    the other run (native code, the disk, a database's reply).

    An exception raised producing an item is raised here, in its place. When the caller
    stops early (an exception, or `close()`), the thread is stopped and joined before
    this returns, so whatever `items` reads from may be closed right after: use it as
    ``with contextlib.closing(read_ahead(...)) as ahead``."""
    handoff: queue.Queue[tuple[bool, T | BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(entry: tuple[bool, T | BaseException | None]) -> None:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=_POLL)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for item in items:
                offer((True, item))
                if stop.is_set():  # the consumer has gone: produce no more
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            offer((False, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # here, in this thread, before the caller's join returns
        offer((False, None))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            ok, value = handoff.get()
            if ok:
                yield value  # type: ignore[misc]
            elif value is None:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
