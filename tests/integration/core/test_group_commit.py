"""Group commit: items share transactions, a failure stays its own, a refusal is an
answer, and nobody hears back before their transaction has committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from kuota.core.db import Database
from kuota.core.errors import InvalidInput
from kuota.core.group_commit import GroupCommit, Overloaded

T = TypeVar("T")


@pytest.fixture
def notes(db: Database) -> Database:
    with db.unit_of_work() as s:
        s.execute(text("CREATE TABLE notes (word VARCHAR(20) PRIMARY KEY)"))
    return db


def _run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The scenario on an event loop of its own, in a thread of its own (a browser test
    earlier in the run may leave a loop running on this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


def _words(db: Database) -> list[str]:
    with db.unit_of_work(write=False) as s:
        return sorted(s.execute(text("SELECT word FROM notes")).scalars())


def _write(word: str) -> Any:
    def work(session: Session) -> str:
        if word == "boom":
            raise RuntimeError("boom")
        session.execute(text("INSERT INTO notes (word) VALUES (:w)"), {"w": word})
        return word.upper()

    return work


def test_items_arriving_during_a_commit_share_the_next_one(notes: Database) -> None:
    gate = threading.Event()

    def held_first(session: Session, works: list[Any]) -> list[Any]:
        gate.wait(5)  # the first group waits here while the rest queue up
        return [work(session) for work in works]

    async def scenario() -> tuple[list[str], int]:
        group = GroupCommit(notes, write_many=held_first)
        first = group.submit("a", _write("a"))
        await asyncio.sleep(0.05)
        rest = [group.submit(w, _write(w)) for w in ("d", "b", "c")]
        await asyncio.sleep(0.05)
        assert not any(f.done() for f in [first, *rest])  # nobody answered before commit
        gate.set()
        answers = await asyncio.gather(first, *rest)
        await group.close()
        return list(answers), group.batches

    answers, batches = _run(scenario)
    assert answers == ["A", "D", "B", "C"]
    assert batches == 2
    assert _words(notes) == ["a", "b", "c", "d"]


def test_a_failing_item_fails_alone_and_the_rest_commits(notes: Database) -> None:
    async def scenario() -> list[Any]:
        group = GroupCommit(notes)
        futures = [group.submit(w, _write(w)) for w in ("x", "boom", "y")]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        await group.close()
        return outcomes

    x, boom, y = _run(scenario)
    assert (x, y) == ("X", "Y")
    assert isinstance(boom, RuntimeError)
    assert _words(notes) == ["x", "y"]


def test_a_refusal_is_an_answer_and_the_group_commits_once(notes: Database) -> None:
    runs: list[int] = []

    def refuse_long_words(session: Session, words: list[str]) -> list[Any]:
        runs.append(len(words))
        out: list[Any] = []
        for word in words:
            if len(word) > 5:
                out.append(InvalidInput(f"{word!r} is too long", field="word"))
                continue
            session.execute(text("INSERT INTO notes (word) VALUES (:w)"), {"w": word})
            out.append(word)
        return out

    async def scenario() -> list[Any]:
        group = GroupCommit(notes, write_many=refuse_long_words)
        futures = [group.submit(w, w) for w in ("ok", "far-too-long", "fine")]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        await group.close()
        return outcomes

    ok, long, fine = _run(scenario)
    assert (ok, fine) == ("ok", "fine")
    assert isinstance(long, InvalidInput) and "too long" in long.detail
    assert runs == [3]  # one transaction, no rerun
    assert _words(notes) == ["fine", "ok"]


def test_a_full_queue_says_busy_and_a_closed_one_takes_nothing(notes: Database) -> None:
    async def scenario() -> None:
        group = GroupCommit(notes, queue_limit=2)
        group.submit("a", _write("a"))
        group.submit("b", _write("b"))
        with pytest.raises(Overloaded):
            group.submit("c", _write("c"))
        await group.close()  # what was taken is committed first
        with pytest.raises(Overloaded):
            group.submit("d", _write("d"))

    _run(scenario)
    assert _words(notes) == ["a", "b"]
