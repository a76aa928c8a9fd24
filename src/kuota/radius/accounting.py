"""Accounting records written in groups: one transaction for many records.

A durable commit costs an fsync (SQLite `synchronous=FULL`, PostgreSQL
`synchronous_commit=on`): a transaction per record caps the server at a few hundred
records a second. Records that arrive while a commit is under way wait for the next
one, so at low load each record gets its own transaction at once and under load the
groups grow by themselves (group commit). No record is answered before the
transaction holding it has committed; if the commit fails, the group's records are
retried one transaction each, and a record that still fails gets no answer, so the
access server sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.usage import network
from kuota.usage.network import Accounted

log = logging.getLogger("kuota.radius")


@dataclass(slots=True)
class AccountingJob:
    msisdn: str
    session_key: str
    reported_total_bytes: int
    stop: bool
    nas_address: str
    # Called on the event loop once the record is committed (with the result), or has
    # failed for good (with None: no answer, the access server retransmits).
    done: Callable[[Accounted | None], None]


class AccountingWriter:
    """Charges accounting records through `network.account()` in batched transactions.

    `concurrency` transactions may run at once (PostgreSQL); on SQLite one is enough,
    writers take turns there anyway. Records of one batch lock their cards in card
    number order, so concurrent batches, here or in another process, never deadlock."""

    def __init__(
        self,
        db: Database,
        ctx: Context,
        *,
        batch_max: int = 256,
        concurrency: int = 1,
        queue_limit: int = 20_000,
    ) -> None:
        self._db = db
        self._ctx = ctx
        self.batch_max = batch_max
        self.queue_limit = queue_limit
        self._pending: deque[AccountingJob] = deque()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._batches: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="kuota-radius-acct")
        self._closing = False
        self.committed = 0  # records committed, for the bench and tests
        self.batches = 0

    def submit(self, job: AccountingJob) -> bool:
        """Queue a record; False when the queue is full (the caller drops the request and
        the access server retransmits it later, instead of the backlog growing)."""
        if self._closing or len(self._pending) >= self.queue_limit:
            return False
        self._pending.append(job)
        self._wakeup.set()
        return True

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """Hand queued records to the database, a batch per free transaction slot; runs
        until cancelled (after `close()`)."""
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
        """Stop taking records; finish (commit and answer) what was already taken."""
        self._closing = True
        self._wakeup.set()
        while self._pending or self._batches:
            if self._batches:
                await asyncio.gather(*self._batches, return_exceptions=True)
            else:
                await asyncio.sleep(0.01)
        self._executor.shutdown(wait=True)

    async def _commit(self, batch: list[AccountingJob]) -> None:
        loop = asyncio.get_running_loop()
        try:
            try:
                results = await loop.run_in_executor(self._executor, self._write, batch)
            except Exception:
                if len(batch) == 1:
                    _finish(batch[0], None, failed=True)
                    return
                log.warning(
                    "accounting batch of %d records failed; retrying them one by one",
                    len(batch),
                    exc_info=True,
                )
                for job in batch:
                    try:
                        (result,) = await loop.run_in_executor(self._executor, self._write, [job])
                    except Exception:
                        _finish(job, None, failed=True)
                    else:
                        self.committed += 1
                        _finish(job, result)
                return
            self.committed += len(batch)
            self.batches += 1
            for job, accounted in zip(batch, results, strict=True):
                _finish(job, accounted)
        finally:
            self._slots.release()
            self._wakeup.set()

    def _write(self, batch: list[AccountingJob]) -> list[Accounted]:
        """One transaction for the batch (in a worker thread): returns only after commit."""
        order = sorted(range(len(batch)), key=lambda index: batch[index].msisdn)
        results: list[Accounted | None] = [None] * len(batch)
        with self._db.unit_of_work() as session:
            for index in order:
                job = batch[index]
                results[index] = network.account(
                    session,
                    msisdn=job.msisdn,
                    session_key=job.session_key,
                    reported_total_bytes=job.reported_total_bytes,
                    stop=job.stop,
                    nas_address=job.nas_address,
                    now=self._ctx.clock.now(),
                )
        return [result for result in results if result is not None]


def _finish(job: AccountingJob, result: Accounted | None, *, failed: bool = False) -> None:
    if failed:
        log.exception(
            "accounting record for %s (session %s) not committed; no answer, the access "
            "server will send it again",
            job.msisdn,
            job.session_key,
        )
    try:
        job.done(result)
    except Exception:
        # One answer that cannot be sent must not keep the batch's others from theirs.
        log.exception("answering the accounting record of session %s failed", job.session_key)
