"""Queueing messages in the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from kuota.core.clock import real_now
from kuota.core.db import run, table_of
from kuota.notify.models import OutboxMessage, OutboxStatus

_NEW_MESSAGE = insert(table_of(OutboxMessage))


def enqueue(
    session: Session, *, channel: str, recipient: str, subject: str, body: str, now: datetime
) -> None:
    """An outbox row; it leaves the building only if this transaction commits."""
    enqueue_many(session, [(channel, recipient)], subject=subject, body=body, now=now)


def enqueue_many(
    session: Session,
    recipients: list[tuple[str, str]],
    *,
    subject: str,
    body: str,
    now: datetime,
) -> None:
    """One message to several (channel, recipient) pairs, in one statement."""
    enqueue_each(
        session, [(channel, recipient, subject, body) for channel, recipient in recipients], now=now
    )


def enqueue_each(
    session: Session, messages: list[tuple[str, str, str, str]], *, now: datetime
) -> None:
    """Messages of their own, each (channel, recipient, subject, body), in one statement
    (on PostgreSQL, multi-row INSERTs rather than a round trip each)."""
    if not messages:
        return
    due = min(now, real_now())  # due at once: the business clock may run ahead of real time
    run(
        session,
        _NEW_MESSAGE,
        [
            {
                "channel": channel,
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": due,
                "created_at": now,
            }
            for channel, recipient, subject, body in messages
        ],
    )
