"""Accounting records written in groups: one transaction for many records, through the
same group commit as credit control (`kuota.core.group_commit`).

No record is answered before the transaction holding it has committed; a record whose
charge fails rolls back alone, and it (or a whole group whose commit fails) gets no
answer, so the access server sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.group_commit import GroupCommit, Overloaded
from kuota.usage import network
from kuota.usage.network import Accounted, AccountingRecord

log = logging.getLogger("kuota.radius")


@dataclass(slots=True)
class AccountingJob:
    record: AccountingRecord
    # Called on the event loop once the record is committed (with the result), or has
    # failed for good (with None: no answer, the access server retransmits).
    done: Callable[[Accounted | None], None]


class AccountingWriter:
    """Charges accounting records through `network.account_many()`, a group of records
    per transaction (one read and one write per table for the whole group).

    `concurrency` transactions may run at once (PostgreSQL); on SQLite one is enough,
    writers take turns there anyway. Records of one group lock their cards in card
    number order, so concurrent groups, here or in another process, never deadlock."""

    def __init__(
        self,
        db: Database,
        ctx: Context,
        *,
        batch_max: int = 256,
        concurrency: int = 1,
        queue_limit: int = 20_000,
    ) -> None:
        self._ctx = ctx
        self._group = GroupCommit(
            db,
            write_many=self._charge,
            batch_max=batch_max,
            concurrency=concurrency,
            queue_limit=queue_limit,
            name="kuota-radius-acct",
        )

    def submit(self, job: AccountingJob) -> bool:
        """Queue a record; False when the queue is full (the caller drops the request and
        the access server retransmits it later, instead of the backlog growing)."""
        try:
            future = self._group.submit(job.record.msisdn, job.record)
        except Overloaded:
            return False
        future.add_done_callback(lambda done: _finish(job, done))
        return True

    def _charge(self, session: Session, records: list[AccountingRecord]) -> list[Accounted]:
        return network.account_many(session, records, self._ctx.clock.now())

    @property
    def backlog(self) -> int:
        return self._group.backlog

    @property
    def committed(self) -> int:
        return self._group.committed

    @property
    def batches(self) -> int:
        return self._group.batches

    async def run(self) -> None:
        """Keep the group commit going until cancelled (after `close()`)."""
        self._group.start()
        await asyncio.Event().wait()

    async def close(self) -> None:
        """Stop taking records; finish (commit and answer) what was already taken."""
        await self._group.close()


def _finish(job: AccountingJob, done: asyncio.Future[Accounted]) -> None:
    failure = done.exception() if not done.cancelled() else None
    if done.cancelled() or failure is not None:
        log.error(
            "accounting record for %s (session %s) not committed; no answer, the access "
            "server will send it again",
            job.record.msisdn,
            job.record.session_key,
            exc_info=failure,
        )
        result: Accounted | None = None
    else:
        result = done.result()
    try:
        job.done(result)
    except Exception:
        # One answer that cannot be sent must not keep the group's others from theirs.
        log.exception(
            "answering the accounting record of session %s failed", job.record.session_key
        )
