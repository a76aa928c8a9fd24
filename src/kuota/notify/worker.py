"""The outbox delivery loop: claim due messages, send them, retry with backoff, dead-letter.

Claiming is a short transaction that leases the rows (pushes `next_attempt_at`
out by the lease); sending happens outside any transaction; the outcome is
recorded in a third. A worker that dies mid-send leaves the lease to expire
and another worker retries, so delivery is at-least-once. On PostgreSQL the
claim uses `FOR UPDATE SKIP LOCKED`, so any number of workers share the queue.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from kuota.core.clock import real_now
from kuota.core.db import Database
from kuota.notify.models import OutboxMessage, OutboxStatus
from kuota.notify.senders import MessageSender

log = logging.getLogger("kuota.worker")

LEASE = timedelta(minutes=2)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def deliver_due(
    db: Database, senders: dict[str, MessageSender], *, max_attempts: int, batch: int = 50
) -> DeliveryStats:
    """One pass over the due outbox rows."""
    stats = DeliveryStats()
    now = real_now()
    with db.unit_of_work() as session:
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        claimed = list(session.execute(query).scalars().all())
        for message in claimed:
            message.attempts += 1
            message.next_attempt_at = now + LEASE
    for message in claimed:
        error: str | None = None
        try:
            senders[message.channel].send(
                channel=message.channel,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
            )
        except Exception as exc:  # any failure of a provider is retried, never lost
            error = f"{type(exc).__name__}: {exc}"[:500]
        with db.unit_of_work() as session:
            values: dict[str, object]
            if error is None:
                values = {"status": OutboxStatus.SENT, "sent_at": real_now(), "last_error": None}
                stats.sent += 1
            elif message.attempts >= max_attempts:
                values = {"status": OutboxStatus.DEAD, "last_error": error}
                stats.dead += 1
                log.error(
                    "outbox message %s dead after %s attempts: %s",
                    message.id,
                    message.attempts,
                    error,
                )
            else:
                values = {
                    "next_attempt_at": real_now() + backoff(message.attempts),
                    "last_error": error,
                }
                stats.retried += 1
                log.warning(
                    "outbox message %s failed (attempt %s): %s", message.id, message.attempts, error
                )
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values)
            )
    return stats


def run_forever(
    db: Database,
    senders: dict[str, MessageSender],
    *,
    max_attempts: int,
    stop: threading.Event,
    idle_seconds: float = 0.5,
) -> None:
    log.info("outbox worker started")
    while not stop.is_set():
        try:
            stats = deliver_due(db, senders, max_attempts=max_attempts)
        except Exception:
            log.exception("outbox pass failed; retrying")
            stats = DeliveryStats()
        if stats.sent + stats.retried + stats.dead == 0:
            stop.wait(idle_seconds)
    log.info("outbox worker stopped")
