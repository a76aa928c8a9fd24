"""Group commit: many small write requests share one durable transaction.

A durable commit costs an fsync (SQLite `synchronous=FULL`, PostgreSQL
`synchronous_commit=on`), so a transaction per request caps a server at a few hundred
requests a second. Work submitted while a commit is under way waits for the next one:
at low load every request still gets its own transaction at once, and under load the
groups grow by themselves. When one piece of work fails, the group is run again one
transaction each, so the failure stays its own and the rest commits. Nobody is answered
before the transaction holding their work has committed.

What a group does is one function of the session and the group's items
(`write_many`). By default an item is a callable run on the session, one after the
other; a service that can do a whole group in one read and one write per table
(credit control) passes its own. It returns one outcome per item: a value, or a
`KuotaError` for an item refused (a refusal is an answer: it changes nothing and
the rest of the group commits).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kuota.core.db import Database
from kuota.core.errors import GatewayBusy, KuotaError

log = logging.getLogger("kuota.group_commit")


class Overloaded(GatewayBusy):
    """The queue is full: the caller should retry shortly."""

    slug = "overloaded"
    title = "Busy"


WriteMany = Callable[[Session, list[Any]], list[Any]]


def run_each(session: Session, works: list[Any]) -> list[Any]:
    """The default group: every item is a callable, run on the shared session in turn."""
    return [work(session) for work in works]


@dataclass(slots=True)
class _Job:
    order_key: str
    item: Any
    future: asyncio.Future[Any] = field(repr=False)


class GroupCommit:
    """Runs items in shared transactions, a batch at a time, through `write_many`.

    Items in one batch run in `order_key` order (a card number, say), so concurrent
    batches, here or in another process, take row locks in the same order and never
    deadlock. `concurrency` batches may be in flight at once (PostgreSQL); SQLite has
    one writer, so one is enough there."""

    def __init__(
        self,
        db: Database,
        *,
        write_many: WriteMany = run_each,
        batch_max: int = 256,
        concurrency: int = 1,
        queue_limit: int = 20_000,
        name: str = "kuota-group-commit",
    ) -> None:
        self._db = db
        self._write_many = write_many
        self.batch_max = batch_max
        self.queue_limit = queue_limit
        self._pending: deque[_Job] = deque()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._batches: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix=name)
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self.committed = 0
        self.batches = 0

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())

    def submit(self, order_key: str, item: Any) -> asyncio.Future[Any]:
        """Queue an item; the future resolves once its transaction has committed."""
        if self._closing or len(self._pending) >= self.queue_limit:
            raise Overloaded("the server is busy; retry in a moment")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(order_key, item, future))
        self._wakeup.set()
        if self._runner is None:
            self.start()
        return future

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._slots.acquire()
                # Taken only once a slot is free: what arrived meanwhile joins this batch.
                size = min(self.batch_max, len(self._pending))
                batch = [self._pending.popleft() for _ in range(size)]
                task = asyncio.create_task(self._commit(batch))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)

    async def close(self) -> None:
        """Take nothing more; commit and answer what was taken."""
        self._closing = True
        self._wakeup.set()
        while self._pending or self._batches:
            if self._batches:
                await asyncio.gather(*self._batches, return_exceptions=True)
            else:
                await asyncio.sleep(0.01)
        if self._runner is not None:
            self._runner.cancel()
        self._executor.shutdown(wait=True)

    async def _commit(self, batch: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcomes = await loop.run_in_executor(self._executor, self._write, batch)
        except Exception as exc:
            if not isinstance(exc, KuotaError):  # a refusal is an answer, not a failure
                log.warning("a group of %d writes failed to commit", len(batch), exc_info=True)
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
        else:
            self.committed += len(batch)
            self.batches += 1
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if job.future.done():  # the caller went away
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)
        finally:
            self._slots.release()
            self._wakeup.set()

    def _write(self, batch: list[_Job]) -> list[tuple[bool, Any]]:
        """One transaction for the batch (in a worker thread); returns after the commit.

        The common case pays for nothing extra: the batch runs straight through. If it
        fails, the whole transaction is rolled back and each item runs again in a
        transaction of its own, so the failure stays its own."""
        order = sorted(range(len(batch)), key=lambda index: batch[index].order_key)
        results: list[Any] = [None] * len(batch)
        try:
            with self._db.unit_of_work() as session:
                outcomes = self._write_many(session, [batch[index].item for index in order])
        except Exception:
            if len(batch) == 1:
                raise
            return [self._write_alone(job) for job in batch]
        for index, outcome in zip(order, outcomes, strict=True):
            results[index] = outcome
        return [_outcome(result) for result in results]

    def _write_alone(self, job: _Job) -> tuple[bool, Any]:
        try:
            with self._db.unit_of_work() as session:
                (outcome,) = self._write_many(session, [job.item])
        except Exception as exc:
            return False, exc
        return _outcome(outcome)


def _outcome(value: Any) -> tuple[bool, Any]:
    return (False, value) if isinstance(value, KuotaError) else (True, value)
